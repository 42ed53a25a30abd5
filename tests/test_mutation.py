"""The mutator of ``rlgrade validate``: which mutants it makes, which it sets aside, in what order."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from pytest_rlgrade import mutation
from pytest_rlgrade.mutation import Mutant, classify, mutants_of_package, mutants_of_source, sample_order

SOURCE = textwrap.dedent(
    '''\
    """A module to mutate."""

    from __future__ import annotations


    def clamp(value: int | None, low: int = 0, high: int = 10) -> int:
        if value is None:
            return low
        if value < low:
            return low
        if value > high and high >= 0:
            return high
        return value + 0


    def total(values: list[int]) -> int:
        result = 0
        for value in values:
            if value == 3:
                continue
            result += value * 2
        return result
    '''
)


def _run(source: str, function: str, *args: object) -> object:
    namespace: dict[str, object] = {}
    exec(compile(source, "m.py", "exec"), namespace)  # noqa: S102 - our own test source
    return namespace[function](*args)  # type: ignore[operator]


@pytest.mark.parametrize("engine", ["cosmic-ray", "ast"])
def test_mutants_change_the_code_and_keep_the_rest(engine: str) -> None:
    if engine == "cosmic-ray":
        pytest.importorskip("cosmic_ray")
    mutants = mutants_of_source(SOURCE, "pkg/m.py", engine)
    assert len(mutants) > 20
    kinds = {m.operator.rsplit("/", 1)[-1].split("_")[0] for m in mutants}
    assert len(kinds) >= 5, kinds
    for m in mutants:
        assert m.path == "pkg/m.py"
        assert m.mutated != m.original
        assert 1 <= m.line <= SOURCE.count("\n")
        assert m.ident.startswith(f"pkg/m.py:{m.line}:")
    # the idents are unique: they name the survivors' diffs
    assert len({m.ident for m in mutants}) == len(mutants)


def test_cosmic_ray_mutants_are_cosmic_rays_own() -> None:
    """The one-parse splicing gives exactly what cosmic-ray's ``mutate_code`` gives."""
    pytest.importorskip("cosmic_ray")
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    mutants = mutants_of_source(SOURCE, "m.py", "cosmic-ray")
    for m in mutants:
        operator = cosmic_ray.plugins.get_operator(m.operator)()
        assert mutate_code(SOURCE, operator, m.occurrence) == m.mutated, m.ident


def test_engine_falls_back_to_our_own() -> None:
    assert mutation.engine() in ("cosmic-ray", "ast")
    with pytest.raises(ValueError, match="unknown mutation engine"):
        mutants_of_source(SOURCE, "m.py", "mutmut")


def test_ast_mutants_run_and_differ() -> None:
    mutants = [m for m in mutants_of_source(SOURCE, "m.py", "ast") if classify(m) is None]
    behaviours = set()
    for m in mutants:
        try:
            behaviours.add(
                (_run(m.source, "clamp", 5), _run(m.source, "clamp", -1), _run(m.source, "total", [1, 3, 4]))
            )
        except Exception as exc:  # noqa: BLE001 - a mutant may well raise
            behaviours.add(type(exc).__name__)
    assert (_run(SOURCE, "clamp", 5), _run(SOURCE, "clamp", -1), _run(SOURCE, "total", [1, 3, 4])) == (5, 0, 10)
    assert len(behaviours) > 5


def _mutant(original: str, mutated: str, path: str = "pkg/m.py") -> Mutant:
    return Mutant(path, "test/op", 0, 1, original, mutated)


def test_classify_sets_aside_what_cannot_tell_graders_apart() -> None:
    original = (
        "from __future__ import annotations\n\ndef f(x: int | None) -> int:\n    return x if x is not None else 0\n"
    )
    assert classify(_mutant(original, original.replace("return x", "return x +"))) == "syntax_error"
    assert classify(_mutant(original, original.replace("x if", "x  if"))) == "unchanged"
    assert classify(_mutant(original, original.replace("int | None", "int & None"))).startswith("equivalent")
    assert classify(_mutant(original, original.replace("is not None", "!= None"))).startswith("equivalent")
    assert classify(_mutant(original, original.replace("else 0", "else 1"))) is None
    assert classify(_mutant(original, original.replace("is not None", "is None"))) is None


def test_annotations_count_when_they_are_evaluated() -> None:
    """Without ``from __future__ import annotations`` an annotation is code that runs."""
    original = "def f(x: int | None) -> int:\n    return 0\n"
    assert classify(_mutant(original, original.replace("int | None", "int & None"))) is None


def test_script_guard_equivalents_depend_on_the_module_name() -> None:
    original = 'if __name__ == "__main__":\n    main()\n'
    for op, lower, upper in (("is", True, True), ("<=", True, False), (">=", False, True), ("!=", False, False)):
        mutated = original.replace("==", op)
        assert (classify(_mutant(original, mutated, "pkg/cli.py")) is not None) is lower, op
        assert (classify(_mutant(original, mutated, "Pkg/cli.py")) is not None) is upper, op


def test_pragma_lines_are_never_mutated() -> None:
    source = "def f(x):\n    return x + 1  # pragma: no mutate\n\ndef g(x):\n    return x + 1\n"
    for engine in ("ast", "cosmic-ray") if mutation.engine() == "cosmic-ray" else ("ast",):
        lines = {m.line for m in mutants_of_source(source, "m.py", engine)}
        assert 2 not in lines
        assert 5 in lines


def test_exception_replacer_mutants_get_their_class() -> None:
    original = "try:\n    pass\nexcept OSError:\n    pass\n"
    m = _mutant(original, original.replace("OSError", mutation.TESTING_EXCEPTION))
    namespace: dict[str, object] = {}
    exec(compile(m.source, "m.py", "exec"), namespace)  # noqa: S102
    assert isinstance(namespace[mutation.TESTING_EXCEPTION], type)
    assert "class CosmicRayTestingException" not in m.diff(), "the diff shows the change, not the class added"


def test_sample_order_spreads_over_the_code_first() -> None:
    mutants = mutants_of_source(SOURCE, "m.py", "ast")
    order = sample_order(mutants, seed=3)
    assert sorted(order, key=lambda m: m.ident) == sorted(mutants, key=lambda m: m.ident)
    assert sample_order(mutants, seed=3) == order
    assert sample_order(mutants, seed=4) != order
    sites = {m.site for m in mutants}
    assert {m.site for m in order[: len(sites)]} == sites, "every line once before any line twice"


def test_diffs_are_unified_and_replaced_on_each_run(tmp_path: Path) -> None:
    mutants = [m for m in mutants_of_source(SOURCE, "pkg/m.py", "ast") if classify(m) is None][:3]
    written = mutation.write_diffs(mutants, tmp_path / "survivors")
    assert [p.name[:4] for p in written] == ["001-", "002-", "003-"]
    text = written[0].read_text()
    assert text.startswith(f"# {mutants[0].ident}\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ ")
    assert any(line.startswith("-") and not line.startswith("---") for line in text.splitlines())
    mutation.write_diffs(mutants[:1], tmp_path / "survivors")
    assert len(list((tmp_path / "survivors").glob("*.diff"))) == 1


def test_mutants_of_a_package(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "m.py").write_text(SOURCE)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.py").write_text("x = 1 + 1\n")
    paths = {m.path for m in mutants_of_package(tmp_path, "pkg", "ast")}
    assert paths == {"pkg/sub/m.py"}
    for m in mutants_of_package(tmp_path, "pkg", "ast")[:5]:
        ast.parse(m.source)
