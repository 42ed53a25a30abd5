"""Public tools of the character_eval task.

- ``anthropic_sim``: ``get_client()`` returns an ``anthropic.Anthropic`` client; without
  ``ANTHROPIC_API_KEY`` it answers through a deterministic simulated Messages API (extended
  thinking, structured output, ``overloaded_error`` on the calls ``simulator.json`` names).
- ``openrouter_sim``: ``get_client()`` returns an ``openai.OpenAI`` client for OpenRouter; without
  ``OPENROUTER_API_KEY`` it answers through a simulated chat completions API.
- ``together_sim``: ``get_client()`` returns a ``together.Together`` client; without
  ``TOGETHER_API_KEY`` it serves file uploads and fine-tuning jobs offline.
- ``simulation``: the deterministic answers the three share, and ``simulator.json``'s switches.
- ``dashboard_probe``: ``python -m tools.dashboard_probe`` renders the dashboard headless with
  Streamlit's ``AppTest`` and prints what each view shows, as JSON.
"""
