"""The gate: the package and the modules the task statement names import and expose their API."""

from __future__ import annotations

from pytest_rlgrade import Handle

API = {
    "character_eval.llm_api": ["complete", "check_model"],
    "character_eval.load_env": ["load_env"],
    "character_eval.synthetic_generation.context_generator": ["main"],
    "character_eval.synthetic_generation.conversation_generator": ["main"],
    "character_eval.finetuning.prepare_data": ["main"],
    "character_eval.finetuning.run_finetuning": ["main"],
    "character_eval.run_evaluations": ["main"],
}


def test_imports(submission):
    submission.module("character_eval")
    submission.module("character_eval.evaluation_framework")
    for module_name, names in API.items():
        module = submission.module(module_name)
        for name in names:
            value = submission.getattr(module, name)
            assert isinstance(value, Handle), f"{module_name}.{name} is not a function (got {value!r})"
