"""Tier 1: what crosses between supervisor and sandbox (encoding, framing, sockets)."""

from __future__ import annotations

import enum
import json
import math
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_rlgrade.runtime import wire
from pytest_rlgrade.runtime.wire import WireClosed, WireError, WireTimeout

LIMIT = 1 << 16


def no_convert(obj: Any) -> Any:
    raise AssertionError(f"convert called for plain data: {obj!r}")


def no_handles(ident: int, type_name: str) -> Any:
    raise AssertionError(f"make_handle called for plain data: {ident}, {type_name}")


def through_json(value: Any) -> Any:
    """Encode, frame, parse and decode ``value`` as the other side would."""
    frame = wire.dumps(wire.encode(value, no_convert), 1 << 24)
    (size,) = wire.HEADER.unpack(frame[: wire.HEADER.size])
    body = frame[wire.HEADER.size :]
    assert size == len(body)
    return wire.decode(json.loads(body), no_handles)


def plain_form(value: Any) -> Any:
    """What ``value`` should come back as: itself, types and all."""
    return value


def same(a: Any, b: Any) -> bool:
    """Equality that tells True from 1, 1 from 1.0, -0.0 from 0.0, and takes nan as equal to nan."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) in (set, frozenset):
        return a == b
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


keys = st.text(max_size=8) | st.text(max_size=8).map(lambda s: "$" + s) | st.sampled_from(["$handle", "$dict", "$map"])
atoms = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
hashables = st.recursive(
    atoms | st.binary(max_size=6),
    lambda children: st.lists(children, max_size=3).map(tuple) | st.frozensets(children, max_size=3),
    max_leaves=6,
)
plain_data = st.recursive(
    atoms,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(keys, children, max_size=5)
        | st.dictionaries(st.integers(), children, max_size=5)
        | st.frozensets(hashables, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.dictionaries(hashables, children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=120)
@given(value=plain_data)
def test_plain_data_round_trips(value: Any) -> None:
    assert same(through_json(value), plain_form(value))


@settings(max_examples=50)
@given(value=plain_data)
def test_encoding_is_json_ready(value: Any) -> None:
    encoded = wire.encode(value, no_convert)
    assert same(json.loads(json.dumps(encoded)), encoded)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -(10**30),
        1.5,
        math.inf,
        -0.0,
        "",
        "héllo\x00",
        {"a": {"b": [1, 2]}},
        {"$handle": 1, "$type": "x"},
        {"$dict": [["a", 1]]},
        {"$x": 1, "y": 2},
        {1: "a", 2: "b"},
        {1: "a", "b": 2},
        {None: 1, True: 2, 1.5: 3},
        [[], {}, ()],
    ],
    ids=repr,
)
def test_examples_round_trip(value: Any) -> None:
    assert same(through_json(value), plain_form(value))


def test_tagged_forms() -> None:
    assert wire.encode({"$a": 1}, no_convert) == {"$dict": [["$a", 1]]}
    assert wire.encode({1: "x"}, no_convert) == {"$map": [[1, "x"]]}
    assert wire.encode({"a": 1}, no_convert) == {"a": 1}


def test_tuples_stay_tuples() -> None:
    """Issue #8: `candidate([]) == (0, 1)` must compare a real tuple (8 HumanEval solutions
    failed, and 8 wrong ones passed, when tuples crossed as lists)."""
    value = through_json((1, (2, 3), {"a": (4,)}))
    assert same(value, (1, (2, 3), {"a": (4,)}))
    assert through_json((0, 1)) != [0, 1]
    assert through_json([0, 1]) != (0, 1)


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        frozenset({"a", (1, 2)}),
        b"\x00\xffbytes",
        b"",
        {(1, 2): "tuple key", frozenset({3}): 4},
        {b"k": 1},
        set(),
        {"$tuple": 1},
        ((),),
    ],
    ids=repr,
)
def test_python_types_cross_as_themselves(value: Any) -> None:
    back = through_json(value)
    assert type(back) is type(value)
    assert back == value


def test_tagged_python_types() -> None:
    assert wire.encode((1,), no_convert) == {"$tuple": [1]}
    assert wire.encode(b"hi", no_convert) == {"$bytes": "aGk="}
    assert wire.encode({(1, 2): 3}, no_convert) == {"$map": [[{"$tuple": [1, 2]}, 3]]}


class Thing:
    pass


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("value", "converted"),
    [
        (Thing(), "converted"),
        ({Thing()}, "converted"),
        (bytearray(b"x"), "converted"),
        (Color.RED, "converted"),
        (OrderedDict(a=1), "converted"),
        ({(1, Thing()): "tuple key"}, "converted"),
        ({Thing(): 1}, "converted"),
    ],
    ids=["object", "set-of-objects", "bytearray", "int-enum", "dict-subclass", "tuple-key-with-object", "object-key"],
)
def test_non_plain_objects_go_to_convert(value: Any, converted: Any) -> None:
    seen: list[Any] = []

    def convert(obj: Any) -> Any:
        seen.append(obj)
        return "converted"

    assert wire.encode([value], convert) == [converted]
    assert seen == [value]
    assert type(seen[0]) is type(value)


row_values = atoms | st.tuples(atoms) | st.lists(atoms, max_size=2) | st.builds(Thing)
rows = st.lists(
    st.dictionaries(st.sampled_from(["date", "hour", "$x", "n"]), row_values, max_size=4)
    | st.fixed_dictionaries({"date": atoms, "hour": atoms})
    | st.fixed_dictionaries({"date": atoms, "hour": atoms}).map(OrderedDict),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150)
@given(value=rows)
def test_rows_encode_as_each_row_does(value: list[Any]) -> None:
    """A dataset's rows (flat dicts sharing keys) are checked in one pass; any other list of dicts,
    and any row that differs (its keys, a tuple or an object in it, a dict subclass), is encoded
    as that row alone would be."""

    def convert(obj: Any) -> Any:
        return "converted"

    encoded = wire.encode(value, convert)
    assert same(encoded, [wire.encode(row, convert) for row in value])


def test_rows_of_plain_data_are_taken_as_they_are() -> None:
    rows = [{"date": "2026-01-01", "hour": h, "n": h * 2} for h in range(24)]
    assert wire.encode(rows, no_convert) is rows
    assert wire.encode([*rows, {"date": "x", "hour": (1,), "n": 0}], no_convert)[-1] == {
        "date": "x",
        "hour": {"$tuple": [1]},
        "n": 0,
    }
    assert wire.encode(_at_depth(rows, wire.MAX_DEPTH - 2), no_convert) == _at_depth(rows, wire.MAX_DEPTH - 2)
    with pytest.raises(WireError, match="nested deeper"):
        wire.encode(_at_depth(rows, wire.MAX_DEPTH - 1), no_convert)


def _at_depth(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def test_convert_replacement_is_encoded_in_turn() -> None:
    def convert(obj: Any) -> Any:
        if isinstance(obj, Thing):
            return {"inner": (1, {2, 3})}
        return obj

    assert wire.encode({"t": Thing()}, convert) == {"t": {"inner": {"$tuple": [1, {"$set": [2, 3]}]}}}


def test_convert_may_return_a_handle() -> None:
    handle = {"$handle": 17, "$type": "mod.Thing"}
    encoded = wire.encode([Thing(), 1], lambda obj: handle)
    assert encoded == [handle, 1]
    made: list[tuple[int, str]] = []

    def make_handle(ident: int, type_name: str) -> str:
        made.append((ident, type_name))
        return "the handle"

    assert wire.decode(json.loads(json.dumps(encoded)), make_handle) == ["the handle", 1]
    assert made == [(17, "mod.Thing")]


def test_convert_returning_the_object_itself_is_an_error() -> None:
    with pytest.raises(WireError, match="cannot send a Thing"):
        wire.encode({"a": [Thing()]}, lambda obj: obj)


def test_convert_that_never_settles_hits_the_depth_limit() -> None:
    with pytest.raises(WireError, match="nested deeper"):
        wire.encode(Thing(), lambda obj: Thing())


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def test_depth_limit() -> None:
    assert wire.encode(nested(wire.MAX_DEPTH), no_convert) == nested(wire.MAX_DEPTH)
    assert wire.decode(nested(wire.MAX_DEPTH), no_handles) == nested(wire.MAX_DEPTH)
    with pytest.raises(WireError, match="nested deeper"):
        wire.encode(nested(wire.MAX_DEPTH + 1), no_convert)
    with pytest.raises(WireError, match="nested deeper"):
        wire.decode(nested(wire.MAX_DEPTH + 1), no_handles)


def test_a_list_containing_itself_is_an_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(WireError, match="nested deeper"):
        wire.encode(loop, no_convert)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"$dict": "a"}, "malformed tagged dict"),
        ({"$map": {"a": 1}}, "malformed tagged dict"),
        ({"$dict": [["a"]]}, "malformed tagged dict"),
        ({"$dict": [["a", 1, 2]]}, "malformed tagged dict"),
        ({"$map": [1]}, "malformed tagged dict"),
        ({"$map": [[[1], 2]]}, "a dict key that is not hashable"),
        ({"$handle": "1"}, "malformed handle"),
        ({"$handle": True}, "malformed handle"),
        ({"$handle": 1.0}, "malformed handle"),
        ({"$handle": 1, "$type": 2}, "malformed handle"),
        ({"$handle": 1, "$type": "x", "extra": 1}, "malformed handle"),
        ({"$type": "x"}, "an untagged key starting with '$'"),
        ({"$dict": [], "a": 1}, "an untagged key starting with '$'"),
        ({"a": 1, "$evil": 2}, "an untagged key starting with '$'"),
        ([{"$dict": 1}], "malformed tagged dict"),
        ((1, 2), "unexpected tuple"),
        ({1, 2}, "unexpected set"),
        (b"x", "unexpected bytes"),
        ({"$bytes": 1}, "malformed bytes"),
        ({"$bytes": "***"}, "malformed bytes"),
        ({"$tuple": "ab"}, "malformed tagged tuple"),
        ({"$set": [[1]]}, "a set element that is not hashable"),
        ({"$map": [[{"a": 1}, 2]]}, "a dict key that is not hashable"),
        ({"$dict": [[1, 2]]}, "a dict key that is not a string"),
    ],
    ids=repr,
)
def test_decode_rejects(data: Any, problem: str) -> None:
    with pytest.raises(WireError, match=problem.replace("$", r"\$")):
        wire.decode(data, no_handles)


def test_a_handle_cannot_be_a_set_element() -> None:
    with pytest.raises(WireError, match="a set element that is not hashable"):
        wire.decode({"$set": [{"$handle": 1}]}, lambda ident, type_name: [ident])


def test_decode_handle_without_type() -> None:
    assert wire.decode({"$handle": 3}, lambda ident, type_name: (ident, type_name)) == (3, "object")


# -- framing and sockets -----------------------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_dumps_frames_compact_utf8() -> None:
    frame = wire.dumps({"a": ["é", 1]}, 100)
    body = '{"a":["é",1]}'.encode()
    assert frame == wire.HEADER.pack(len(body)) + body


def test_dumps_enforces_the_limit() -> None:
    body_size = len(wire.dumps("x" * 98, 1000)) - wire.HEADER.size
    assert body_size == 100
    assert wire.dumps("x" * 98, 100)
    with pytest.raises(WireError, match="101 bytes is over the limit of 100"):
        wire.dumps("x" * 99, 100)


@pytest.mark.parametrize(
    "value", ["\ud800", ["file-\udcff.txt"], 10**5000], ids=["surrogate", "surrogateescape", "int"]
)
def test_dumps_raises_wire_error_for_unwritable_data(value: Any) -> None:
    with pytest.raises(WireError):
        wire.dumps(value, 1 << 30)


def test_send_recv(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    message = {"op": "call", "args": [1, 2.5, None, "ü"], "nan": math.inf}
    wire.send(a, message, LIMIT)
    wire.send(a, [1], LIMIT)
    assert wire.recv(b, LIMIT, soon()) == message
    assert wire.recv(b, LIMIT) == [1]


def test_large_message_in_many_chunks(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    message = ["x" * 1000] * 3000  # ~3 MB: more than the socket buffer and recv's 1 MB chunk
    sender = threading.Thread(target=wire.send, args=(a, message, 1 << 23))
    sender.start()
    try:
        assert wire.recv(b, 1 << 23, soon()) == message
    finally:
        sender.join()


def test_send_refuses_an_oversized_message(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    with pytest.raises(WireError, match="over the limit"):
        wire.send(a, "x" * 200, 100)
    with pytest.raises(WireTimeout):
        wire.recv(b, LIMIT, time.monotonic() + 0.05)


def test_recv_refuses_an_oversized_message(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    wire.send(a, "x" * 200, LIMIT)
    with pytest.raises(WireError, match="over the limit of 100"):
        wire.recv(b, 100, soon())


def test_recv_refuses_a_huge_announced_size_without_reading_it(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(wire.HEADER.pack(2**31 - 1))
    with pytest.raises(WireError, match="over the limit"):
        wire.recv(b, LIMIT, soon())


def test_recv_deadline(pair: tuple[socket.socket, socket.socket]) -> None:
    _, b = pair
    started = time.monotonic()
    with pytest.raises(WireTimeout):
        wire.recv(b, LIMIT, started + 0.1)
    assert 0.09 <= time.monotonic() - started < 2


def test_recv_deadline_in_the_middle_of_a_message(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(wire.dumps({"a": 1}, LIMIT)[:6])
    with pytest.raises(WireTimeout):
        wire.recv(b, LIMIT, time.monotonic() + 0.1)


def test_a_deadline_is_a_timeout_error() -> None:
    assert issubclass(WireTimeout, TimeoutError)
    assert issubclass(WireClosed, EOFError)
    assert issubclass(WireError, ValueError)


def test_closed_peer(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.close()
    with pytest.raises(WireClosed):
        wire.recv(b, LIMIT, soon())
    with pytest.raises(WireClosed):
        wire.recv(b, LIMIT)


def test_peer_closed_in_the_middle_of_a_message(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(wire.dumps({"a": 1}, LIMIT)[:7])
    a.close()
    with pytest.raises(WireClosed):
        wire.recv(b, LIMIT, soon())


def test_closed_peer_while_waiting_for_fds(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.close()
    with pytest.raises(WireClosed):
        wire.recv(b, LIMIT, soon(), fds=[])


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"", b"[" * 100_000 + b"]" * 100_000], ids=repr)
def test_garbage(pair: tuple[socket.socket, socket.socket], body: bytes) -> None:
    a, b = pair
    sender = threading.Thread(target=a.sendall, args=(wire.HEADER.pack(len(body)) + body,))
    sender.start()
    try:
        with pytest.raises(WireError, match="not JSON"):
            wire.recv(b, 1 << 20, soon())
    finally:
        sender.join()


@settings(max_examples=60)
@given(value=plain_data)
def test_a_marshal_frame_carries_what_a_json_frame_carries(value: Any) -> None:
    encoded = wire.encode(value, no_convert)
    frame = wire.dumps(encoded, 1 << 20, binary=True)
    (size,) = wire.HEADER.unpack(frame[: wire.HEADER.size])
    assert size & wire.BINARY
    a, b = socket.socketpair()
    with a, b:
        a.sendall(frame)
        received = wire.recv(b, 1 << 20, soon(), binary=True)
    assert same(wire.decode(received, no_handles), wire.decode(json.loads(json.dumps(encoded)), no_handles))


def test_a_marshal_frame_crosses_as_copies(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    row = {"a": [1, 2]}
    wire.send(a, [row, row], LIMIT, binary=True)
    first, second = wire.recv(b, LIMIT, soon(), binary=True)
    assert first == second == row
    first["a"].append(3)
    assert second == row  # as JSON has it: no shared objects on the other side


def test_recv_refuses_a_marshal_frame_unread_unless_it_trusts_the_sender(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    a, b = pair
    wire.send(a, {"ok": True}, LIMIT, binary=True)
    a.sendall(b"X" * 10)  # never read: the refusal comes from the header alone
    with pytest.raises(WireError, match="marshal frame from a side that may send only JSON"):
        wire.recv(b, LIMIT, soon())
    b.setblocking(False)
    body = b.recv(1 << 16)
    assert body.endswith(b"X" * 10)
    assert len(body) > 10


@pytest.mark.parametrize("body", [b"", b"\xff\x00", b"[\x05\x00\x00\x00"], ids=repr)
def test_garbage_marshal(pair: tuple[socket.socket, socket.socket], body: bytes) -> None:
    a, b = pair
    a.sendall(wire.HEADER.pack(len(body) | wire.BINARY) + body)
    with pytest.raises(WireError, match="not marshal data"):
        wire.recv(b, LIMIT, soon(), binary=True)


def test_a_marshal_frame_obeys_the_limit(pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(WireError, match="over the limit"):
        wire.dumps(["x" * 100], 50, binary=True)
    a, b = pair
    a.sendall(wire.HEADER.pack((LIMIT + 1) | wire.BINARY))
    with pytest.raises(WireError, match="over the limit"):
        wire.recv(b, LIMIT, soon(), binary=True)


def test_fd_passing(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    read_end, write_end = os.pipe()
    received: list[int] = []
    try:
        wire.send(a, {"op": "spawn"}, LIMIT, fds=[read_end])
        assert wire.recv(b, LIMIT, soon(), fds=received) == {"op": "spawn"}
        assert len(received) == 1
        assert received[0] != read_end
        os.write(write_end, b"hello")
        assert os.read(received[0], 5) == b"hello"
    finally:
        for fd in (read_end, write_end, *received):
            os.close(fd)


def test_fd_passing_a_socket_then_plain_messages(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    left, right = socket.socketpair()
    received: list[int] = []
    with left, right:
        wire.send(a, {"n": 1}, LIMIT, fds=[right.fileno()])
        wire.send(a, {"n": 2}, LIMIT)
        assert wire.recv(b, LIMIT, soon(), fds=received) == {"n": 1}
        assert wire.recv(b, LIMIT, soon(), fds=received) == {"n": 2}
        assert len(received) == 1
        with socket.socket(fileno=received[0]) as passed:
            wire.send(left, "through the passed socket", LIMIT)
            assert wire.recv(passed, LIMIT, soon()) == "through the passed socket"


def test_recv_without_fds_list_drops_nothing_of_the_message(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    wire.send(a, {"op": "x"}, LIMIT, fds=[])
    received: list[int] = []
    assert wire.recv(b, LIMIT, soon(), fds=received) == {"op": "x"}
    assert received == []
