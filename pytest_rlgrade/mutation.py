"""Mutants of a reference solution, for measuring how much of its behaviour a task's tests pin down.

A *mutant* is the reference with one small change in one file, made by one of cosmic-ray's
mutation operators (``cosmic_ray.operators``, used as a library: its parser, operators and
occurrence numbering, none of its sessions or test runners). When cosmic-ray is not installed, a
smaller mutator of our own over Python's ``ast`` makes the same kinds of change.

Not every change is worth grading. :func:`classify` sets aside the ones that cannot tell a good
grader from a bad one:

- ``syntax_error``: the mutated file does not compile;
- ``unchanged``: its syntax tree equals the original's (a change only in layout);
- ``equivalent``: it provably behaves as the original does (the same bytecode; only a function's
  annotation changed in a module whose annotations are never evaluated; ``== None`` for ``is None``).

A line of the reference ending in ``# pragma: no mutate`` (cosmic-ray's and mutmut's convention)
is never mutated: for code whose exact form no test should pin (a log message, a repr).

This module imports nothing from pytest or the rest of the plugin.
"""

from __future__ import annotations

import ast
import difflib
import functools
import random
import re
import types
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRAGMA = re.compile(r"#\s*pragma:\s*no\s+mutate\b")
# cosmic-ray's ExceptionReplacer writes this name into an `except` clause, and its own runner puts
# the class into builtins; a mutant graded elsewhere gets the class appended to its module.
TESTING_EXCEPTION = "CosmicRayTestingException"
_TESTING_EXCEPTION_CLASS = f"\n\nclass {TESTING_EXCEPTION}(Exception):  # added by the mutator\n    pass\n"
# Operators that need arguments of their own (which variable to replace or insert): not used.
_NEEDS_ARGUMENTS = ("VariableReplacer", "VariableInserter")


@dataclass(frozen=True)
class Mutant:
    """One change to one file of a package.

    ``path`` is relative to the folder holding the package (``pkg/module.py``); ``source`` is the
    mutated file's whole text, as it is graded.
    """

    path: str
    operator: str
    occurrence: int
    line: int
    original: str
    mutated: str

    @property
    def ident(self) -> str:
        return f"{self.path}:{self.line}:{self.operator.rsplit('/', 1)[-1]}#{self.occurrence}"

    @property
    def source(self) -> str:
        """The file as graded: cosmic-ray's exception operator needs its class to exist."""
        if TESTING_EXCEPTION in self.mutated and TESTING_EXCEPTION not in self.original:
            return self.mutated.rstrip("\n") + "\n" + _TESTING_EXCEPTION_CLASS
        return self.mutated

    def diff(self) -> str:
        """A unified diff from the original file to the mutant (``a/PATH``, ``b/PATH``)."""
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            self.mutated.splitlines(keepends=True),
            fromfile=f"a/{self.path}",
            tofile=f"b/{self.path}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)

    @property
    def site(self) -> tuple[str, int]:
        return (self.path, self.line)


# -- making mutants ---------------------------------------------------------------------------------


def engine() -> str:
    """Which mutator :func:`mutants_of_source` uses: ``cosmic-ray`` or ``ast`` (our own)."""
    try:
        import cosmic_ray.mutating  # type: ignore[import-untyped]  # noqa: F401
        import cosmic_ray.plugins  # type: ignore[import-untyped]  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure to import it means: use our own
        return "ast"
    return "cosmic-ray"


def mutants_of_package(folder: Path, package: str, use: str | None = None) -> list[Mutant]:
    """Every mutant of every ``.py`` file of ``folder/package`` (or of ``folder/package.py``)."""
    base = folder / package
    files = sorted(base.rglob("*.py")) if base.is_dir() else [folder / f"{package}.py"]
    found: list[Mutant] = []
    for path in files:
        if "__pycache__" in path.parts:
            continue
        relative = path.relative_to(folder).as_posix()
        found.extend(mutants_of_source(path.read_text(encoding="utf-8"), relative, use))
    return found


def mutants_of_source(source: str, path: str = "module.py", use: str | None = None) -> list[Mutant]:
    """The mutants of one file's text, in a stable order (by operator, then occurrence)."""
    use = use or engine()
    if use == "cosmic-ray":
        made = list(_cosmic_ray_mutants(source, path))
    elif use == "ast":
        made = list(_ast_mutants(source, path))
    else:
        raise ValueError(f"unknown mutation engine {use!r} (choose cosmic-ray or ast)")
    skipped = _pragma_lines(source)
    return [m for m in made if m.line not in skipped]


def _pragma_lines(source: str) -> set[int]:
    return {number for number, line in enumerate(source.splitlines(), 1) if PRAGMA.search(line)}


def _cosmic_ray_mutants(source: str, path: str) -> Iterator[Mutant]:
    """What ``cosmic_ray.mutating.mutate_code(source, operator, occurrence)`` makes, for every
    operator and occurrence, but parsing the file once: each change is made on a copy of the one
    node it touches, spliced into the tree for as long as it takes to print the module."""
    import cosmic_ray.plugins
    from cosmic_ray.ast import ast_nodes, get_ast  # type: ignore[import-untyped]

    tree = get_ast(source)
    nodes = list(ast_nodes(tree))
    for name in cosmic_ray.plugins.operator_names():
        if name.rsplit("/", 1)[-1].startswith(_NEEDS_ARGUMENTS):
            continue
        operator = cosmic_ray.plugins.get_operator(name)()
        occurrence = 0
        for node in nodes:
            for index, (start, _end) in enumerate(operator.mutation_positions(node)):
                mutated = _spliced(tree, node, operator, index)
                if mutated is not None and mutated != source:
                    yield Mutant(path, name, occurrence, start[0], source, mutated)
                occurrence += 1


def _spliced(tree: Any, node: Any, operator: Any, index: int) -> str | None:
    import copy

    parent = node.parent
    if parent is None:
        return None
    node.parent = None  # so that the copy stops at this node instead of copying the whole tree
    try:
        clone = copy.deepcopy(node)
    finally:
        node.parent = parent
    clone.parent = parent
    try:
        result = operator.mutate(clone, index)
    except Exception:  # noqa: BLE001 - an operator that cannot handle this node (cosmic-ray 8.7's
        return None  # ExceptionReplacer on `except (mod.Error, ...)`): no mutant here
    at = next(i for i, child in enumerate(parent.children) if child is node)
    parent.children[at : at + 1] = [] if result is None else [result]
    try:
        return str(tree.get_code())
    finally:
        parent.children[at : at + 1] = [node]


# Our own mutator: the same families of change as cosmic-ray's core operators, on Python's ast.
_BINARY: list[type[ast.operator]] = [ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow]
_COMPARE: list[type[ast.cmpop]] = [ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE]
_NEGATED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


def _changes(node: ast.AST) -> list[tuple[str, Any]]:
    """The ways our mutator can change ``node`` itself: (kind, argument)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return [("binary", op) for op in _BINARY if op is not type(node.op)]
    if isinstance(node, ast.Compare):
        found: list[tuple[str, Any]] = []
        for index, op in enumerate(node.ops):
            if type(op) in _COMPARE:
                found += [("compare", (index, new)) for new in _COMPARE if new is not type(op)]
            elif type(op) in _NEGATED:
                found.append(("compare", (index, _NEGATED[type(op)])))
        return found
    if isinstance(node, ast.BoolOp):
        return [("boolean", ast.Or if isinstance(node.op, ast.And) else ast.And)]
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return [("number", +1), ("number", -1)]
    if isinstance(node, ast.Constant) and type(node.value) is bool:
        return [("bool", not node.value)]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        return [("drop_unary", None)]
    if isinstance(node, (ast.If, ast.While)):
        return [("add_not", None)]
    if isinstance(node, ast.For):
        return [("zero_iteration", None)]
    if isinstance(node, ast.Break):
        return [("break_continue", None)]
    if isinstance(node, ast.Continue):
        return [("continue_break", None)]
    return []


class _Mutator(ast.NodeTransformer):
    """Applies the ``occurrence``-th change (counted over the tree in visiting order)."""

    def __init__(self, occurrence: int) -> None:
        self.occurrence = occurrence
        self.count = 0
        self.applied: tuple[str, int] | None = None

    def visit(self, node: ast.AST) -> Any:
        for kind, arg in _changes(node):
            if self.count == self.occurrence:
                self.applied = (kind, getattr(node, "lineno", 1))
                node = _changed(node, kind, arg)
            self.count += 1
        return self.generic_visit(node)


def _changed(node: Any, kind: str, arg: Any) -> ast.AST:
    if kind in ("binary", "boolean"):
        node.op = arg()
    elif kind == "compare":
        index, new = arg
        node.ops[index] = new()
    elif kind == "number":
        node.value = node.value + arg
    elif kind == "bool":
        node.value = arg
    elif kind == "drop_unary":
        operand: ast.AST = node.operand
        return ast.copy_location(operand, node)
    elif kind == "add_not":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "zero_iteration":
        node.iter = ast.List(elts=[], ctx=ast.Load())
    elif kind == "break_continue":
        return ast.copy_location(ast.Continue(), node)
    elif kind == "continue_break":
        return ast.copy_location(ast.Break(), node)
    return node  # type: ignore[no-any-return]


def _ast_mutants(source: str, path: str) -> Iterator[Mutant]:
    # ast.unparse loses comments and layout: the diff compares the unparsed original with the
    # unparsed mutant, so that it shows only the change.
    original = ast.unparse(ast.parse(source)) + "\n"
    counter = _Mutator(-1)
    counter.visit(ast.parse(source))
    for occurrence in range(counter.count):
        mutator = _Mutator(occurrence)
        tree = ast.fix_missing_locations(mutator.visit(ast.parse(source)))
        assert mutator.applied is not None
        kind, line = mutator.applied
        yield Mutant(path, f"ast/{kind}", occurrence, line, original, ast.unparse(tree) + "\n")


# -- which mutants to grade --------------------------------------------------------------------------


def classify(mutant: Mutant) -> str | None:
    """Why a mutant need not be graded (``syntax_error``, ``unchanged``, ``equivalent: why``), or
    None when it must be."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # `x is 1` and the like: a SyntaxWarning, still code
            mutated_tree = ast.parse(mutant.mutated)
            code = compile(mutated_tree, mutant.path, "exec")
    except (SyntaxError, ValueError):
        return "syntax_error"
    original = _analysed(mutant.original, mutant.path)
    if ast.dump(mutated_tree) == original.dump:
        return "unchanged"
    if _same_code(code, original.code):
        return "equivalent: compiles to the same bytecode"
    if original.future_annotations and _dump_without_signatures(mutated_tree) == original.without_signatures:
        return "equivalent: only a function annotation changed, and the module never evaluates them"
    if _dump_none_by_identity(mutated_tree) == original.none_by_identity:
        return "equivalent: None compared with ==/!= instead of is/is not"
    module = _module_name(mutant.path)
    if _dump_script_guard(mutated_tree, module) == _dump_script_guard(original.tree, module):
        return "equivalent: the `if __name__ == '__main__'` guard decides the same for this module"
    return None


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dump_script_guard(tree: ast.AST, module: str) -> str:
    """The tree's dump with each ``__name__ OP "__main__"`` test spelled ``==`` when ``OP`` gives
    the same answer for ``module`` and for ``"__main__"`` (``is``: the interpreter's string is the
    interned constant; ``<=`` or ``>=`` when the module's name sorts on the right side)."""
    tree = _copy(tree)
    same: list[type[ast.cmpop]] = [ast.Eq, ast.Is, ast.LtE if module > "__main__" else ast.GtE]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.left, ast.Name)
            and node.left.id == "__name__"
            and isinstance(node.comparators[0], ast.Constant)
            and node.comparators[0].value == "__main__"
            and type(node.ops[0]) in same
        ):
            node.ops[0] = ast.Eq()
    return ast.dump(tree)


@dataclass(frozen=True)
class _Original:
    tree: ast.AST
    dump: str
    code: types.CodeType
    future_annotations: bool
    without_signatures: str
    none_by_identity: str


@functools.lru_cache(maxsize=64)
def _analysed(source: str, path: str) -> _Original:
    tree = ast.parse(source)
    return _Original(
        tree,
        ast.dump(tree),
        compile(tree, path, "exec"),
        _future_annotations(tree),
        _dump_without_signatures(tree),
        _dump_none_by_identity(tree),
    )


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars) != (
        b.co_code,
        b.co_names,
        b.co_varnames,
        b.co_freevars,
        b.co_cellvars,
    ):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if isinstance(x, types.CodeType) and isinstance(y, types.CodeType):
            if not _same_code(x, y):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


def _future_annotations(tree: ast.AST) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in getattr(tree, "body", [])
    )


def _dump_without_signatures(tree: ast.AST) -> str:
    """The tree's dump with every function's argument and return annotations removed."""
    tree = _copy(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            arguments = node.args
            for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                arg.annotation = None
            for maybe in (arguments.vararg, arguments.kwarg):
                if maybe is not None:
                    maybe.annotation = None
    return ast.dump(tree)


def _dump_none_by_identity(tree: ast.AST) -> str:
    """The tree's dump with ``x == None`` spelled ``x is None`` (and ``!=`` as ``is not``)."""
    tree = _copy(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                pair = operands[index : index + 2]
                if any(isinstance(o, ast.Constant) and o.value is None for o in pair):
                    if isinstance(op, ast.Eq):
                        node.ops[index] = ast.Is()
                    elif isinstance(op, ast.NotEq):
                        node.ops[index] = ast.IsNot()
    return ast.dump(tree)


def _copy(tree: ast.AST) -> ast.AST:
    import copy

    copied: ast.AST = copy.deepcopy(tree)
    return copied


# -- sampling --------------------------------------------------------------------------------------


def sample_order(mutants: Sequence[Mutant], seed: int = 0) -> list[Mutant]:
    """The mutants in the order to grade them: spread over the code before going deep.

    Sites (file and line) are shuffled with ``seed``, and so are the mutants of each site; then the
    first mutant of every site comes, then the second of every site, and so on. Any prefix of the
    order is a sample that covers as many lines as it can, and the same seed always gives the same
    order.
    """
    rng = random.Random(seed)
    by_site: dict[tuple[str, int], list[Mutant]] = {}
    for mutant in mutants:
        by_site.setdefault(mutant.site, []).append(mutant)
    sites = sorted(by_site)
    rng.shuffle(sites)
    for site in sites:
        rng.shuffle(by_site[site])
    order: list[Mutant] = []
    depth = 0
    while len(order) < len(mutants):
        order.extend(by_site[site][depth] for site in sites if depth < len(by_site[site]))
        depth += 1
    return order


def clear_diffs(folder: Path) -> None:
    """Make ``folder`` and remove the diffs an earlier run left there."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.diff"):
        old.unlink()


def write_diff(mutant: Mutant, folder: Path, number: int) -> Path:
    """The mutant's diff as ``folder/NNN-<file>-L<line>-<operator>.diff``, headed by its id."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{mutant.path}-L{mutant.line}-{mutant.operator.rsplit('/', 1)[-1]}")
    path = folder / f"{number:03d}-{stem}.diff"
    path.write_text(f"# {mutant.ident}\n{mutant.diff()}", encoding="utf-8")
    return path


def write_diffs(mutants: Iterable[Mutant], folder: Path) -> list[Path]:
    """Every mutant's diff into ``folder`` (emptied of older diffs first); returns the paths."""
    clear_diffs(folder)
    return [write_diff(mutant, folder, number) for number, mutant in enumerate(mutants, 1)]
