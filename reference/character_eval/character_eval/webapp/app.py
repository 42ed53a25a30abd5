"""The dashboard: contexts, conversations, judge evaluations and fine-tuning jobs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from character_eval.webapp import data

VIEWS = ["Contexts", "Conversations", "Evaluations", "Fine-tuning jobs"]

st.set_page_config(page_title="Character evaluation", layout="wide")
root = data.data_root()
view = st.sidebar.radio("View", VIEWS)
st.title("Character evaluation")

if view == "Contexts":
    files = data.context_files(root)
    if not files:
        st.info("No context files found.")
    else:
        name = st.selectbox("Context file", list(files))
        for context in files[name]:
            st.subheader(str(context.get("id", "?")))
            st.markdown(str(context.get("scenario", "")))
            st.caption(f"model: {context.get('model', '?')}")
            for document in context.get("supporting_documents", []):
                with st.expander(str(document.get("title", "document")), expanded=True):  # pragma: no mutate
                    st.text(str(document.get("content", "")))

elif view == "Conversations":  # pragma: no mutate - <= picks the same of the four views
    files = data.conversation_files(root)
    if not files:
        st.info("No conversation files found.")
    else:
        name = st.selectbox("Conversation file", list(files))
        conversations = {str(c.get("id")): c for c in files[name]}
        if not conversations:
            st.info("This file holds no conversations.")
        else:
            ident = st.selectbox("Conversation", list(conversations))
            conversation = conversations[ident]
            st.caption(
                f"{conversation.get('assistant_persona')} ({conversation.get('assistant_model')}) vs "
                f"{conversation.get('user_persona')} ({conversation.get('user_model')}), "
                f"context {conversation.get('context_id')}"
            )
            st.markdown(f"**Scenario:** {conversation.get('scenario', '')}")
            for turn in conversation.get("turns", []):
                st.text(f"{turn.get('role')}: {turn.get('content')}")

elif view == "Evaluations":
    runs = data.evaluation_runs(root)
    if not runs:
        st.info("No evaluation results found.")
    else:
        name = st.selectbox("Evaluation run", list(runs))
        summary = runs[name]["summary"]
        st.caption(f"judge: {summary.get('judge_model')}, input: {summary.get('input_file')}")
        overall = summary.get("overall_mean_score")
        st.metric("Overall mean score", "-" if overall is None else f"{overall:.4f}")
        rows = [{"evaluator": k, **v} for k, v in summary.get("evaluators", {}).items()]
        st.subheader("Per evaluator")
        st.dataframe(pd.DataFrame(rows))
        conversation_rows = [
            {"conversation": k, "mean_score": v.get("mean_score"), **v.get("scores", {})}
            for k, v in summary.get("conversations", {}).items()
        ]
        st.subheader("Per conversation")
        st.dataframe(pd.DataFrame(conversation_rows))
        st.subheader("Judge evaluations")
        st.dataframe(pd.DataFrame(runs[name]["records"]).astype(str))

else:
    jobs = data.jobs(root)
    if not jobs:
        st.info("No fine-tuning jobs found.")
    else:
        st.dataframe(pd.DataFrame(jobs).astype(str))
