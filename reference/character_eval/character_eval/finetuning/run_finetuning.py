"""``python -m character_eval.finetuning.run_finetuning``: upload data and start a Together job.

The job is recorded (appended) in ``finetuning/jobs.jsonl`` under the current directory, where the
dashboard finds it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..cli_support import ArgumentParser, PipelineError, run
from ..llm_api import check_model
from ..load_env import load_env

FINETUNE_MODELS = ("Qwen/Qwen3-32B",)
JOBS_FILE = Path("finetuning") / "jobs.jsonl"


def start_job(
    train_file: str | Path,
    model: str,
    n_epochs: int = 3,  # pragma: no mutate - the command line always passes --n_epochs (default 3)
    suffix: str | None = None,
) -> dict[str, Any]:
    """Upload ``train_file``, create the fine-tuning job, record it; returns the record."""
    check_model(model, FINETUNE_MODELS, "--model")
    path = Path(train_file)
    if not path.is_file():
        raise PipelineError(f"training file {path} does not exist")
    if n_epochs < 1:
        raise PipelineError(f"--n_epochs must be at least 1, got {n_epochs}")
    load_env()
    from tools import together_sim

    client = together_sim.get_client()
    uploaded = client.files.upload(file=path, purpose="fine-tune")
    params: dict[str, Any] = {"training_file": uploaded.id, "model": model, "n_epochs": n_epochs}
    if suffix:
        params["suffix"] = suffix
    job = client.fine_tuning.create(**params)
    record = {
        "job_id": job.id,
        "status": str(getattr(job.status, "value", job.status)),
        "model": model,
        "training_file": str(path),
        "file_id": uploaded.id,
        "n_epochs": n_epochs,
        "suffix": suffix,
        "output_name": getattr(job, "output_name", None),
    }
    JOBS_FILE.parent.mkdir(parents=True, exist_ok=True)  # pragma: no mutate
    with JOBS_FILE.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record) + "\n")
    return record


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="run_finetuning", description=__doc__)
    parser.add_argument("--train_file", required=True)
    parser.add_argument("--model", required=True)  # pragma: no mutate
    parser.add_argument("--n_epochs", type=int, default=3)
    parser.add_argument("--suffix", default=None)
    return parser


def _main(args: argparse.Namespace) -> int:
    record = start_job(args.train_file, args.model, args.n_epochs, args.suffix)
    print(f"started fine-tuning job {record['job_id']} ({record['status']}) on {record['model']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
