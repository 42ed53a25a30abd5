"""Public tools of the experiment_profiler task.

- ``anthropic_client``: ``get_client()`` returns an ``anthropic.Anthropic`` client; without
  ``ANTHROPIC_API_KEY`` it answers through a deterministic simulated transport.
- ``dataset``: ``load_dialogues()`` reads ``data/dialogues.json`` (or another file of that shape).
- ``logging_utils``: JSON/JSONL writers and the JSON Schemas of log records and summaries.
- ``metrics``: fact coverage, completion rate, refusal rate and the geometric mean.
"""
