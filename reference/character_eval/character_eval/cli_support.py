"""What every command line of the pipeline shares: argument errors and clear failures."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SDKS = ("anthropic", "openai", "together", "httpx", "httpx2")


class PipelineError(Exception):
    """A problem with the input that the command reports in one line (exit status 1)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad flag exits with status 2 and a message naming it (no traceback)."""


def read_json_file(path: str | Path, what: str) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # pragma: no mutate
        raise PipelineError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{what} {path} cannot be read: {exc}") from None
    except ValueError as exc:
        raise PipelineError(f"{what} {path} is not valid JSON: {exc}") from None


def read_lines(path: str | Path, what: str) -> list[str]:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:  # pragma: no mutate
        raise PipelineError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{what} {path} cannot be read: {exc}") from None


def run(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run ``main``; a :class:`PipelineError` or ``ValueError`` becomes one line
    on stderr and exit status 1."""
    args = parser.parse_args(argv)
    try:
        return main(args)
    except (PipelineError, ValueError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1  # pragma: no mutate
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in SDKS:  # pragma: no mutate - SDK errors say module "anthropic" etc.
            raise
        print(f"{parser.prog}: error: the API call failed: {exc}", file=sys.stderr)
        return 1  # pragma: no mutate
