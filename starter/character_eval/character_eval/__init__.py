"""A character evaluation and fine-tuning pipeline: contexts, persona conversations, Together
fine-tuning data and jobs, LLM-judge evaluations, and a Streamlit dashboard."""
