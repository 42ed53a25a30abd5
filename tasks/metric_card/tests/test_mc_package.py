"""The gate: the package and the modules the task statement names import and expose their API."""

from __future__ import annotations

from pytest_rlgrade import Handle

API = {
    "metric_card.prompts": ["build_messages"],
    "metric_card.scoring": [
        "extract_json",
        "score_json_validity",
        "score_schema_compliance",
        "score_semantic_quality",
        "score_formatting",
        "score_output",
    ],
    "metric_card.metric_card_generator": ["run_process"],
    "metric_card.cli": ["main"],
    "metric_card.extract_metric_training": ["extract_training", "main"],
    "metric_card.trainingDataScript": ["build_dataset", "main"],
    "metric_card.show_score_distribution": ["score_distribution", "main"],
}


def test_imports(submission):
    submission.module("metric_card")
    for module_name, names in API.items():
        module = submission.module(module_name)
        for name in names:
            value = submission.getattr(module, name)
            assert isinstance(value, Handle), f"{module_name}.{name} is not a function (got {value!r})"
