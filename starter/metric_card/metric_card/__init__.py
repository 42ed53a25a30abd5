"""metric_card: an environment that prompts a model for Metric Card JSON, scores, saves, renders
and curates the outputs."""

__version__ = "0.1.0"
