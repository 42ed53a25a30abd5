"""The dashboard: contexts, conversations, judge evaluations and fine-tuning jobs."""

from __future__ import annotations

import streamlit as st

st.title("Character evaluation")
# TODO: a sidebar radio "View" (Contexts, Conversations, Evaluations, Fine-tuning jobs) over the
# pipeline's folders in the current directory
st.write("Nothing here yet.")
