"""The ``rlgrade`` console script (also ``python -m pytest_rlgrade``).

Each subcommand lives in its own module, imported only when it runs; this module only dispatches:

- ``rlgrade new NAME``: scaffold a task (``pytest_rlgrade.scaffold``);
- ``rlgrade validate [NAME ...]``: check that a task's grader is sound (``pytest_rlgrade.validate``);
- ``rlgrade html REPORT_OR_DIR... -o FILE``: one self-contained page for a batch (``pytest_rlgrade.html``);
- ``rlgrade serve --task NAME``: a task as an OpenEnv environment (``pytest_rlgrade.integrations.openenv``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help). Each module has `add_arguments(parser)` and `run(args) -> int`.
COMMANDS = {
    "new": ("pytest_rlgrade.scaffold", "scaffold a new task: tasks/NAME, starter/NAME, reference/NAME"),
    "validate": ("pytest_rlgrade.validate", "check that tasks' graders are sound (one line per check)"),
    "html": ("pytest_rlgrade.html", "write one self-contained HTML page for reports of a batch"),
    "serve": ("pytest_rlgrade.integrations.openenv", "serve a task as an OpenEnv environment over HTTP"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlgrade", description="pytest-rlgrade's tools for task authors and trainers")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:  # an extra that is not installed: say which
                parser.exit(4, f"rlgrade {name}: {exc}\n")
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    args = parser.parse_args(argv)
    return int(args.run(args))
