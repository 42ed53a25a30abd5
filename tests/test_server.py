"""Tier 1: the sandbox side's request server and ``python -m`` runner, in this process."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.runtime.worker import Server, exit_code_of, run_module

SUBJECT = "rlgrade_server_subject"
SUBJECT_SOURCE = '''
import dataclasses
import sys

import pydantic
import pytest


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Segment:
    start: Point
    end: Point
    label: tuple = ("a", "b")


class Config(pydantic.BaseModel):
    name: str
    sizes: list[int] = [1, 2]
    inner: dict[str, float] = {}


class Counter:
    def __init__(self, start=0):
        self.value = start

    def add(self, n=1):
        self.value += n
        return self.value

    def me(self):
        return self


class EqualsEverything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class SneakyStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class SneakyFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class SneakyList(list):
    def __eq__(self, other):
        return True


class SneakyDict(dict):
    def __eq__(self, other):
        return True


class FakeModel:
    """Looks like a pydantic model, but its dump is itself."""

    model_fields = {}

    def model_dump(self, mode="python"):
        return self


class SubmissionError(ValueError):
    pass


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


VERSION = "1.2"


def plain():
    return {"ints": [1, -2], "float": 2.5, "none": None, "flag": True, "text": "t", "pair": (1, 2)}


def int_keys():
    return {1: "one", "two": 2}


def echo(*args, **kwargs):
    return [list(args), kwargs]


def point():
    return Point(1, 2.5)


def segment():
    return Segment(Point(0, 0.0), Point(1, 1.0))


def config():
    return Config(name="c", inner={"a": 0.5})


def counter(start=0):
    return Counter(start)


def value_of(counter):
    return counter.value


def same_object(a, b):
    return a is b


def number():
    return 42


def fail():
    raise SubmissionError("bad input 7")


def fail_badly():
    raise BadStr()


def interrupt():
    raise KeyboardInterrupt


def exit_with(code):
    sys.exit(code)


def pytest_exit():
    pytest.exit("stop grading")


def pytest_skip():
    pytest.skip("nothing to see")


def pytest_fail():
    pytest.fail("I pass, honest")


def memory():
    raise MemoryError


def equals_everything():
    return EqualsEverything()


def sneaky(kind):
    return {"str": SneakyStr("s"), "float": SneakyFloat(1.5), "list": SneakyList([1]), "dict": SneakyDict(a=1)}[kind]


def in_a_list():
    return [1, EqualsEverything(), {"k": EqualsEverything()}]


def fake_model():
    return FakeModel()


def point_class():
    return Point
'''


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    (tmp_path / f"{SUBJECT}.py").write_text(SUBJECT_SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(SUBJECT, None)
    yield Server()
    sys.modules.pop(SUBJECT, None)


def ok(answer: dict[str, Any]) -> Any:
    assert set(answer) == {"ok"}, answer
    assert_plain(answer["ok"])
    json.dumps(answer, allow_nan=False)
    return answer["ok"]


def raised(answer: dict[str, Any]) -> dict[str, Any]:
    assert set(answer) == {"raised"}, answer
    info = answer["raised"]
    assert set(info) == {"type_name", "type_names", "message", "traceback"}
    assert_plain(info)
    assert info["type_names"][0] == info["type_name"]
    assert info["type_names"][-1] == "object"
    return dict(info)


def assert_plain(value: Any) -> None:
    """Only exact plain types: nothing the submission built can reach the supervisor."""
    assert type(value) in (type(None), bool, int, float, str, list, dict), type(value)
    if type(value) is list:
        for item in value:
            assert_plain(item)
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item)


def is_handle(value: Any, type_name: str | None = None) -> bool:
    if not (type(value) is dict and set(value) == {"$handle", "$type"} and type(value["$handle"]) is int):
        return False
    return type_name is None or value["$type"] == type_name


def module(server: Server) -> int:
    handle = ok(server.answer({"op": "import", "module": SUBJECT}))
    assert is_handle(handle, SUBJECT)
    return int(handle["$handle"])


def call(server: Server, target: int, attr: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return server.answer({"op": "call", "target": target, "attr": attr, "args": list(args), "kwargs": kwargs})


def test_import_gives_a_handle(server: Server) -> None:
    ident = module(server)
    assert server.objects[ident] is sys.modules[SUBJECT]


def test_import_of_a_missing_module(server: Server) -> None:
    info = raised(server.answer({"op": "import", "module": "rlgrade_no_such_module"}))
    assert info["type_name"] == "ModuleNotFoundError"
    assert "ImportError" in info["type_names"]
    assert "rlgrade_no_such_module" in info["message"]


def test_call_returning_plain_data(server: Server) -> None:
    mod = module(server)
    assert ok(call(server, mod, "plain")) == {
        "ints": [1, -2],
        "float": 2.5,
        "none": None,
        "flag": True,
        "text": "t",
        "pair": {"$tuple": [1, 2]},
    }


def test_call_returning_a_dict_with_int_keys(server: Server) -> None:
    assert ok(call(server, module(server), "int_keys")) == {"$map": [[1, "one"], ["two", 2]]}


def test_call_with_arguments(server: Server) -> None:
    mod = module(server)
    answer = server.answer(
        {"op": "call", "target": mod, "attr": "echo", "args": [1, [2, {"$dict": [["$k", 3]]}]], "kwargs": {"x": "y"}}
    )
    assert ok(answer) == [[1, [2, {"$dict": [["$k", 3]]}]], {"x": "y"}]


def test_call_with_default_args_and_kwargs(server: Server) -> None:
    mod = module(server)
    assert ok(server.answer({"op": "call", "target": mod, "attr": "number"})) == 42


def test_dataclass_crosses_as_a_dict(server: Server) -> None:
    mod = module(server)
    assert ok(call(server, mod, "point")) == {"x": 1, "y": 2.5}
    assert ok(call(server, mod, "segment")) == {
        "start": {"x": 0, "y": 0.0},
        "end": {"x": 1, "y": 1.0},
        "label": {"$tuple": ["a", "b"]},
    }


def test_pydantic_model_crosses_as_a_dict(server: Server) -> None:
    mod = module(server)
    assert ok(call(server, mod, "config")) == {"name": "c", "sizes": [1, 2], "inner": {"a": 0.5}}


def test_a_class_crosses_as_a_handle(server: Server) -> None:
    mod = module(server)
    assert is_handle(ok(call(server, mod, "point_class")), "builtins.type")


def test_an_arbitrary_object_crosses_as_a_handle(server: Server) -> None:
    mod = module(server)
    handle = ok(call(server, mod, "counter", 5))
    assert is_handle(handle, f"{SUBJECT}.Counter")
    assert server.objects[handle["$handle"]].value == 5


def test_methods_on_a_handle(server: Server) -> None:
    mod = module(server)
    counter = ok(call(server, mod, "Counter", 10))
    assert is_handle(counter, f"{SUBJECT}.Counter")
    ident = counter["$handle"]
    assert ok(call(server, ident, "add")) == 11
    assert ok(call(server, ident, "add", n=4)) == 15
    assert ok(server.answer({"op": "getattr", "target": ident, "attr": "value"})) == 15
    assert ok(call(server, ident, "me")) == counter, "the same object gets the same handle"


def test_a_handle_passed_back_as_an_argument(server: Server) -> None:
    mod = module(server)
    counter = ok(call(server, mod, "counter", 3))
    assert ok(call(server, mod, "value_of", counter)) == 3
    assert ok(call(server, mod, "same_object", counter, counter)) is True


def test_getattr(server: Server) -> None:
    mod = module(server)
    assert ok(server.answer({"op": "getattr", "target": mod, "attr": "VERSION"})) == "1.2"
    assert is_handle(ok(server.answer({"op": "getattr", "target": mod, "attr": "Counter"})))
    info = raised(server.answer({"op": "getattr", "target": mod, "attr": "missing"}))
    assert info["type_name"] == "AttributeError"


@pytest.mark.parametrize(("attr", "args"), [("number", []), ("point", []), ("config", []), ("counter", [2])])
def test_instance_always_gives_a_handle(server: Server, attr: str, args: list[Any]) -> None:
    mod = module(server)
    answer = ok(server.answer({"op": "instance", "target": mod, "attr": attr, "args": args, "kwargs": {}}))
    assert is_handle(answer)


def test_instance_of_a_model_keeps_its_methods(server: Server) -> None:
    mod = module(server)
    config = ok(server.answer({"op": "instance", "target": mod, "attr": "Config", "args": [], "kwargs": {"name": "n"}}))
    assert config["$type"] == f"{SUBJECT}.Config"
    assert ok(call(server, config["$handle"], "model_dump")) == {"name": "n", "sizes": [1, 2], "inner": {}}


def test_a_raised_exception(server: Server) -> None:
    mod = module(server)
    info = raised(call(server, mod, "fail"))
    assert info["type_name"] == f"{SUBJECT}.SubmissionError"
    assert info["type_names"] == [f"{SUBJECT}.SubmissionError", "ValueError", "Exception", "BaseException", "object"]
    assert info["message"] == "bad input 7"
    assert 'raise SubmissionError("bad input 7")' in info["traceback"]
    assert info["traceback"].rstrip().endswith(f"{SUBJECT}.SubmissionError: bad input 7")


def test_an_exception_whose_str_raises(server: Server) -> None:
    info = raised(call(server, module(server), "fail_badly"))
    assert info["type_name"] == f"{SUBJECT}.BadStr"
    assert info["message"] == "<str() of the exception raised too>"


def test_wrong_arguments_are_reported(server: Server) -> None:
    info = raised(call(server, module(server), "number", 1, 2))
    assert info["type_name"] == "TypeError"


@pytest.mark.parametrize(
    ("attr", "args", "type_name"),
    [
        ("interrupt", [], "KeyboardInterrupt"),
        ("exit_with", [0], "SystemExit"),
        ("exit_with", [3], "SystemExit"),
        ("memory", [], "MemoryError"),
        ("pytest_exit", [], "_pytest.outcomes.Exit"),
        ("pytest_skip", [], "Skipped"),  # pytest sets the module of its outcomes to builtins
        ("pytest_fail", [], "Failed"),
    ],
)
def test_base_exceptions_are_reported_not_propagated(
    server: Server, attr: str, args: list[Any], type_name: str
) -> None:
    info = raised(call(server, module(server), attr, *args))
    assert info["type_name"] == type_name
    assert "BaseException" in info["type_names"]


def test_everything_equal_object_is_only_a_handle(server: Server) -> None:
    mod = module(server)
    answer = ok(call(server, mod, "equals_everything"))
    assert is_handle(answer, f"{SUBJECT}.EqualsEverything")
    answer = ok(call(server, mod, "in_a_list"))
    assert answer[0] == 1
    assert is_handle(answer[1])
    assert is_handle(answer[2]["k"])


@pytest.mark.parametrize(("kind", "expected"), [("str", "s"), ("float", 1.5)])
def test_sneaky_atoms_cross_as_exact_plain_values(server: Server, kind: str, expected: Any) -> None:
    answer = ok(call(server, module(server), "sneaky", kind))
    assert type(answer) is type(expected)
    assert answer == expected
    assert answer != object()


@pytest.mark.parametrize(("kind", "expected"), [("list", [1]), ("dict", {"a": 1})])
def test_sneaky_containers_cross_as_copies_of_their_base_type(server: Server, kind: str, expected: Any) -> None:
    """A subclass that equals everything crosses as a real list or dict of its contents: its
    ``__eq__`` stays behind in the sandbox."""
    answer = ok(call(server, module(server), "sneaky", kind))
    assert type(answer) is type(expected)
    assert answer == expected
    assert answer != [2]


def test_a_model_that_dumps_to_itself_cannot_cross(server: Server) -> None:
    info = raised(call(server, module(server), "fake_model"))
    assert "WireError" in info["type_name"]


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "call", "target": 123456789, "attr": "x", "args": [], "kwargs": {}},
        {"op": "getattr", "target": 123456789, "attr": "x"},
        {"op": "instance", "target": 123456789, "attr": "x", "args": [], "kwargs": {}},
    ],
)
def test_unknown_handle(server: Server, request_: dict[str, Any]) -> None:
    info = raised(server.answer(request_))
    assert info["type_name"] == "LookupError"
    assert "123456789" in info["message"]


def test_unknown_handle_as_an_argument(server: Server) -> None:
    mod = module(server)
    info = raised(call(server, mod, "value_of", {"$handle": 987654321, "$type": "x.Counter"}))
    assert info["type_name"] == "LookupError"
    assert "987654321" in info["message"]


@pytest.mark.parametrize(
    ("request_", "type_name"),
    [
        ([], "TypeError"),
        ("call", "TypeError"),
        ({"op": "import"}, "KeyError"),
        ({"op": "delete", "target": 0, "attr": "x"}, "LookupError"),
    ],
)
def test_malformed_requests_are_reported(server: Server, request_: Any, type_name: str) -> None:
    assert raised(server.answer(request_))["type_name"] == type_name


def test_unknown_op(server: Server) -> None:
    mod = module(server)
    info = raised(server.answer({"op": "delete", "target": mod, "attr": "x"}))
    assert info["type_name"] == "ValueError"
    assert "unknown op 'delete'" in info["message"]


def test_malformed_arguments(server: Server) -> None:
    mod = module(server)
    info = raised(server.answer({"op": "call", "target": mod, "attr": "echo", "args": [{"$evil": 1}]}))
    assert "WireError" in info["type_name"]


# -- run_module ------------------------------------------------------------------------------------


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``script(body)`` writes a module and returns its name, importable for ``run_module``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    written: list[str] = []

    def write(body: str) -> str:
        name = f"rlgrade_cli_subject_{len(written)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("print('hi')", 0),
        ("import sys; sys.exit()", 0),
        ("import sys; sys.exit(None)", 0),
        ("import sys; sys.exit(0)", 0),
        ("import sys; sys.exit(3)", 3),
        ("import sys; sys.exit(259)", 3),
        ("import sys; sys.exit(-1)", 255),
        ("import sys; sys.exit(True)", 1),
        ("raise SystemExit(7)", 7),
    ],
)
def test_exit_codes(script: Any, capsys: pytest.CaptureFixture[str], body: str, code: int) -> None:
    assert run_module(script(body), []) == code
    assert capsys.readouterr().err == ""


def test_exit_with_a_message(script: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_module(script("import sys; sys.exit('bad config: x.yaml')"), []) == 1
    captured = capsys.readouterr()
    assert captured.err == "bad config: x.yaml\n"
    assert "Traceback" not in captured.err


def test_exit_with_an_unprintable_code(script: Any) -> None:
    body = """
        import sys
        class Code:
            def __str__(self):
                raise RuntimeError("no str")
        sys.exit(Code())
        """
    assert run_module(script(body), []) == 1


def test_an_exception_gives_1_and_a_traceback(script: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_module(script("print('before')\n1 / 0\n"), []) == 1
    captured = capsys.readouterr()
    assert captured.out == "before\n"
    assert "Traceback (most recent call last)" in captured.err
    assert captured.err.rstrip().endswith("ZeroDivisionError: division by zero")


def test_keyboard_interrupt_gives_1(script: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_module(script("raise KeyboardInterrupt"), []) == 1
    assert "KeyboardInterrupt" in capsys.readouterr().err


def test_a_missing_module_gives_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    assert run_module("rlgrade_no_such_cli", []) == 1
    assert "No module named rlgrade_no_such_cli" in capsys.readouterr().err


def test_argv_and_main(script: Any, capsys: pytest.CaptureFixture[str]) -> None:
    name = script(
        """
        import sys
        if __name__ == "__main__":
            print(sys.argv[1:])
        """
    )
    assert run_module(name, ["run", "--config", "c.yaml"]) == 0
    assert capsys.readouterr().out == "['run', '--config', 'c.yaml']\n"


def test_main_module_is_restored(script: Any) -> None:
    main = sys.modules["__main__"]
    assert run_module(script("x = 1"), []) == 0
    assert sys.modules["__main__"] is main


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (2, 2), (256, 0), ("text", 1), ([1], 1)])
def test_exit_code_of(capsys: pytest.CaptureFixture[str], code: Any, status: int) -> None:
    assert exit_code_of(SystemExit(code)) == status
    printed = capsys.readouterr().err
    assert printed == ("" if code is None or isinstance(code, int) else f"{code}\n")
