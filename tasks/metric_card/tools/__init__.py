"""Public tools of the metric_card task: the card's JSON Schema and metric catalogue, the
evaluation contexts, and an OpenAI-compatible chat-completions client (simulated offline)."""
