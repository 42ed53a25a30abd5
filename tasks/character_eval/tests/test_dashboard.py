"""Step 6, the dashboard: rendered headless by Streamlit's AppTest inside the sandbox.

The public tool ``tools.dashboard_probe`` runs the submission's ``character_eval/webapp/app.py``
in AppTest and prints what every view shows as JSON; the tests here only parse that output.
"""

from __future__ import annotations

import json
import math

from character_eval_oracle import (
    EVALUATORS,
    FINETUNE_MODEL,
    expected_summary,
    make_contexts,
    make_conversations,
    verdict,
    word,
    write_jsonl,
)

VIEWS = ["Contexts", "Conversations", "Evaluations", "Fine-tuning jobs"]
MARKER = "DASHBOARD_PROBE "


def _probe(submission):
    result = submission.run_cli(["--max-options", "12"], module="tools.dashboard_probe", timeout=90)
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    assert lines, f"the dashboard probe printed no report:\n{result.stderr[-2000:]}"
    report = json.loads(lines[-1][len(MARKER) :])
    assert report["error"] is None, f"the dashboard could not be explored: {report['error']}"
    assert report["exceptions"] == [], f"the dashboard raised: {report['exceptions'][:3]}"
    views = [state["view"] for state in report["views"]]
    for view in VIEWS:
        assert view in views, f"the View radio should offer {view!r}, it offers {sorted(set(views))}"
    return report["views"]


def _cells(state):
    for table in state["tables"]:
        for row in table:
            yield from row.values()


def _haystack(states):
    text = "\n".join(t for s in states for t in s["texts"])
    return text + "\n" + "\n".join(str(c) for s in states for c in _cells(s))


def _shows_number(states, value):
    for state in states:
        for cell in _cells(state):
            if (
                isinstance(cell, (int, float))
                and not isinstance(cell, bool)
                and math.isclose(cell, value, abs_tol=1e-6)
            ):
                return True
    text = _haystack(states)
    return any(f"{value:.{digits}f}" in text for digits in (2, 3, 4))


def _write_data(submission, rng):
    root = submission.workdir
    contexts = make_contexts(rng, rng.randint(2, 3))
    context_file = f"contexts_{word(rng)}.json"
    (root / "synthetic_evaluation_data" / "contexts").mkdir(parents=True)
    (root / "synthetic_evaluation_data" / "contexts" / context_file).write_text(json.dumps(contexts))
    conversations = [c for c, _ in make_conversations(rng, rng.randint(2, 4))]
    conversation_file = f"conversations_{word(rng)}.jsonl"
    write_jsonl(root / "synthetic_evaluation_data" / "conversations" / conversation_file, conversations)
    results = {(c["id"], e): verdict(e, c) for c in conversations for e in EVALUATORS}
    summary = {
        "input_file": f"synthetic_evaluation_data/conversations/{conversation_file}",
        "judge_model": "anthropic/claude-sonnet-4-20250514",
        "num_conversations": len(conversations),
        **expected_summary(results, [c["id"] for c in conversations]),
    }
    run = f"run_{word(rng)}"
    (root / "results" / run).mkdir(parents=True)
    (root / "results" / run / "summary.json").write_text(json.dumps(summary))
    records = [
        {
            "conversation_id": c,
            "evaluator": e,
            "valid": True,
            "attempts": 1,
            "judge_model": "anthropic/claude-sonnet-4-20250514",
            "result": r,
            "error": None,
        }
        for (c, e), r in results.items()
    ]
    write_jsonl(root / "results" / run / "evaluations.jsonl", records)
    jobs = [
        {
            "job_id": f"ft-{word(rng, 6)}",
            "status": rng.choice(["pending", "queued", "running", "completed"]),
            "model": FINETUNE_MODEL,
            "training_file": f"finetuning/finetuning_data/{word(rng)}.jsonl",
            "file_id": f"file-{word(rng, 5)}",
            "n_epochs": rng.randint(1, 5),
            "suffix": f"eval_{word(rng)}",
            "output_name": None,
        }
        for _ in range(rng.randint(1, 3))
    ]
    write_jsonl(root / "finetuning" / "jobs.jsonl", jobs)
    # beside them, files cut short (as if still being written), listed first: the others still show
    cut = rng.randint(3, 14)
    (root / "synthetic_evaluation_data" / "contexts" / "0_partial.json").write_text(json.dumps(contexts)[:cut])
    (root / "results" / "0_partial").mkdir()
    (root / "results" / "0_partial" / "summary.json").write_text(json.dumps(summary)[:cut])
    for path in (
        root / "finetuning" / "jobs.jsonl",
        root / "synthetic_evaluation_data" / "conversations" / conversation_file,
    ):
        path.write_text(json.dumps(jobs[0])[:cut] + "\n" + path.read_text())
    return contexts, conversations, summary, jobs


def test_dashboard_shows_every_part_of_the_pipeline(submission, rlgrade_rng):
    contexts, conversations, summary, jobs = _write_data(submission, rlgrade_rng)
    states = _probe(submission)
    by_view = {view: [s for s in states if s["view"] == view] for view in VIEWS}

    shown = _haystack(by_view["Contexts"])
    for context in contexts:
        for text in (context["id"], context["scenario"]):
            assert text in shown, f"the Contexts view should show {text!r}"
        for document in context["supporting_documents"]:
            for text in (document["title"], document["content"]):
                assert text in shown, f"the Contexts view should show the supporting document text {text!r}"

    for conversation in conversations:
        chosen = [s for s in by_view["Conversations"] if conversation["id"] in s["selections"].values()]
        assert chosen, f"the Conversations view should let one pick conversation {conversation['id']}"
        texts = "\n".join(chosen[0]["texts"]) + "\n" + "\n".join(str(c) for c in _cells(chosen[0]))
        position = 0
        for turn in conversation["turns"]:
            found = texts.find(turn["content"], position)
            assert found >= 0, f"conversation {conversation['id']}: turn {turn['content'][:60]!r} not shown in order"
            position = found + len(turn["content"])
        others = [c for c in conversations if c is not conversation]
        for other in others:
            assert other["turns"][0]["content"] not in texts, "only the chosen conversation should be shown"

    evaluations = by_view["Evaluations"]
    overall = summary["overall_mean_score"]
    assert _shows_number(evaluations, overall), f"the overall mean score {overall} should be shown"
    for name, entry in summary["evaluators"].items():
        assert name in _haystack(evaluations), f"the Evaluations view should name the evaluator {name}"
        assert _shows_number(evaluations, entry["mean_score"]), f"{name}'s mean score {entry['mean_score']} not shown"
    for ident, entry in summary["conversations"].items():
        assert ident in _haystack(evaluations), f"the Evaluations view should list conversation {ident}"
        assert _shows_number(evaluations, entry["mean_score"]), f"{ident}'s mean score not shown"

    shown = _haystack(by_view["Fine-tuning jobs"])
    for job in jobs:
        for key in ("job_id", "status", "model", "suffix"):
            assert str(job[key]) in shown, f"the Fine-tuning jobs view should show {key} {job[key]!r}"


def test_dashboard_without_data_says_so(submission, rlgrade_rng):
    # files that hold no data: a context file, a conversation file, a summary and a jobs file cut
    # short (as if still being written)
    root = submission.workdir
    cut = rlgrade_rng.randint(3, 14)
    folders = {
        name: root / name
        for name in (
            "synthetic_evaluation_data/contexts",
            "synthetic_evaluation_data/conversations",
            "finetuning",
            f"results/run_{word(rlgrade_rng)}",
        )
    }
    for folder in folders.values():
        folder.mkdir(parents=True)
    contexts, conversations, jobs, run_dir = folders.values()
    (contexts / f"contexts_{word(rlgrade_rng)}.json").write_text(json.dumps(make_contexts(rlgrade_rng, 1))[:cut])
    conversation = make_conversations(rlgrade_rng, 1)[0][0]
    (conversations / f"conversations_{word(rlgrade_rng)}.jsonl").write_text(json.dumps(conversation)[:cut] + "\n")
    (run_dir / "summary.json").write_text(json.dumps({"overall_mean_score": 4.5})[:cut])
    (jobs / "jobs.jsonl").write_text(json.dumps({"job_id": f"ft-{word(rlgrade_rng, 6)}"})[:cut] + "\n")
    states = _probe(submission)
    for view in VIEWS:
        assert any(s["view"] == view and s["texts"] for s in states), f"the {view} view should say there is no data"
