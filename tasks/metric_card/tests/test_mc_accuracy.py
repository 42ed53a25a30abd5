"""Scoring accuracy against hidden labels: hand-picked traps and simulated outputs whose four
scores and overall score were labelled by the rules. The share right is the metric; the test only
reports it (its weight is 0) and withholds which outputs were wrong."""

from __future__ import annotations

import pytest
from metric_card_hidden import labelled_outputs
from metric_card_support import DIMENSIONS, SCORES, close

from pytest_rlgrade import SubmissionRaised


def _flat(got):
    """``{dimension: score, "overall": ...}`` of a score_output answer, None where it is malformed."""
    if not isinstance(got, dict):
        return dict.fromkeys(SCORES)
    flat = {d: got[d].get("score") if isinstance(got.get(d), dict) else None for d in DIMENSIONS}
    flat["overall"] = got.get("overall")
    return flat


@pytest.mark.hidden
def test_scoring_accuracy(submission, metric):
    scoring = submission.module("metric_card.scoring")
    labels = labelled_outputs()
    right, wrong = 0, []
    for label in labels:
        try:
            got = scoring.score_output(label["output"], label["context"])
        except SubmissionRaised as exc:
            wrong.append(f"{label['id']}: raised {exc.type_name}")
            continue
        scores = _flat(got)
        bad = [k for k in SCORES if not close(scores[k], label["expected"][k])]
        if bad:
            wrong.append(f"{label['id']}: {', '.join(bad)}")
        else:
            right += 1
    accuracy = right / len(labels)
    metric("scoring_accuracy", accuracy)
    assert accuracy == 1.0, f"{right} of {len(labels)} labelled outputs scored right; wrong: {wrong[:10]}"
