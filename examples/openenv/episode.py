"""One episode against ``rlgrade serve``, through openenv's WebSocket client.

Start the server in one shell, from the repository's root::

    rlgrade serve --task metric_tracker --port 8000

then run this in another::

    python examples/openenv/episode.py --url http://127.0.0.1:8000 [--reference]

It resets (getting the prompt, the starter's files and the seed), submits the starter's files
unchanged (or, with ``--reference``, the reference solution read from disk, standing in for what a
policy would write) and prints the reward and the report's counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pytest_rlgrade.integrations.completions import read_tree
from pytest_rlgrade.integrations.openenv import RlgradeEnv, SubmitFiles

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description="one episode against rlgrade serve")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--reference", action="store_true", help="submit the reference solution")
    args = parser.parse_args()
    with RlgradeEnv(base_url=args.url, message_timeout_s=600).sync() as env:
        start = env.reset(seed=args.seed)
        task = start.observation.task
        print(f"task {task}, seed {start.observation.seed}, {len(start.observation.files)} starter files")
        print(start.observation.prompt.splitlines()[0])
        files = read_tree(ROOT / "reference" / task) if args.reference else start.observation.files
        result = env.step(SubmitFiles(files=files))
        counts = result.observation.report["tasks"][0]["counts"]
        print(f"reward {result.reward}, done {result.done}, passed {counts['passed']}/{counts['total']}")


if __name__ == "__main__":
    main()
