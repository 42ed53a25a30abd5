"""The Streamlit dashboard (``streamlit run character_eval/webapp/app.py``)."""
