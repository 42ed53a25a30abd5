"""``rlgrade new NAME [--package PKG]``: scaffold a task that ``rlgrade validate NAME`` passes.

It writes ``tasks/NAME/`` (manifest, prompt, public data, trusted tests that show each fixture and
share their helpers through ``load_trusted``), ``starter/NAME/PKG/`` and ``reference/NAME/PKG/``
from the templates in ``pytest_rlgrade/templates/``, and never overwrites anything.
"""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import re
import sys
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")
SUFFIX = ".tmpl"
NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
# template folder -> where it goes, relative to the root
PARTS = {"task": "tasks/{name}", "starter": "starter/{name}", "reference": "reference/{name}"}


class ScaffoldError(Exception):
    """Why a task cannot be made; the message names the problem and the place."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"task name {name!r}: use 1 to 50 lower-case letters, digits and underscores, starting with a letter "
            "(it names folders and the task's trusted helper module)"
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"task name {name!r} is a Python keyword")
    return name


def check_package(package: str) -> str:
    if not package.isidentifier() or keyword.iskeyword(package):
        raise ScaffoldError(f"package {package!r} is not a top-level import name (a Python identifier, not a keyword)")
    if not package.isascii() or package != package.lower():
        raise ScaffoldError(f"package {package!r}: use lower-case ASCII letters, digits and underscores")
    if package in sys.stdlib_module_names:
        raise ScaffoldError(f"package {package!r} would shadow the standard library's module of that name")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is not None:
        where = found.origin or ", ".join(found.submodule_search_locations or []) or "?"
        raise ScaffoldError(f"package {package!r} would shadow the installed module of that name ({where})")
    return package


def render(text: str, name: str, package: str) -> str:
    return text.replace("__NAME__", name).replace("__PACKAGE__", package)


def planned_files(name: str, package: str) -> dict[Path, str]:
    """What ``rlgrade new`` writes: path relative to the root -> text."""
    files: dict[Path, str] = {}
    for part, destination in PARTS.items():
        source = TEMPLATES / part
        for template in sorted(source.rglob(f"*{SUFFIX}")):
            relative = template.relative_to(source).as_posix().removesuffix(SUFFIX)
            target = Path(destination.format(name=name)) / render(relative, name, package)
            files[target] = render(template.read_text(encoding="utf-8"), name, package)
    return files


def scaffold(root: Path, name: str, package: str | None = None) -> list[Path]:
    """Write the task ``name`` under ``root``; returns the folders made. Raises
    :class:`ScaffoldError` before writing anything when a name is bad or a folder exists."""
    check_name(name)
    package = check_package(package or name)
    if not root.is_dir():
        raise ScaffoldError(f"--root {root}: no such folder")
    folders = [root / destination.format(name=name) for destination in PARTS.values()]
    existing = [f for f in folders if f.exists()]
    if existing:
        raise ScaffoldError(
            f"{', '.join(str(f) for f in existing)} already exists: rlgrade new never overwrites "
            "(pick another name, or remove it first)"
        )
    files = planned_files(name, package)
    if not files:  # pragma: no cover - the package ships its templates
        raise ScaffoldError(f"no templates found in {TEMPLATES}")
    try:
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"cannot write {exc.filename}: {exc.strerror or exc}") from None
    return folders


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the task's name: its folders tasks/NAME, starter/NAME, ...")
    parser.add_argument("--package", metavar="PKG", default=None, help="the submission's package (default: NAME)")
    parser.add_argument("--root", default=".", help="the folder holding tasks/, starter/, reference/ (default: .)")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    try:
        folders = scaffold(root, args.name, args.package)
    except ScaffoldError as exc:
        print(f"rlgrade new: {exc}", file=sys.stderr)
        return 2
    package = args.package or args.name
    for folder in folders:
        print(f"created {folder.relative_to(root)}/")
    print(
        f"\nThe task is an example (word statistics) that passes its checks as made:\n"
        f"  rlgrade validate {args.name}{'' if root == Path.cwd().resolve() else f' --root {root}'}\n"
        f"Then make it yours: tasks/{args.name}/prompt.md (what the model is told), "
        f"reference/{args.name}/{package}/ (a full solution), tests/ (the graders), "
        f"starter/{args.name}/{package}/ (where the model starts), and validate again.\n"
        "See docs/writing-tasks.md."
    )
    return 0
