"""What crosses between the supervisor and the sandbox: size-capped JSON frames of plain data.

Standard library only: this module is copied into the sandbox and imported there too.

Values cross as what they are (a trusted test compares real Python values, so ``(0, 1)`` and
``[0, 1]`` differ as they do in Python): None, bool, int, float, str, list and dict with string keys
as themselves; tuples, sets, frozensets, bytes and dicts whose keys are not all strings (or use a
key starting with ``$``) tagged: ``{"$tuple": [...]}``, ``{"$set": [...]}``,
``{"$frozenset": [...]}``, ``{"$bytes": "base64"}``, ``{"$dict": [[k, v], ...]}`` and
``{"$map": [[k, v], ...]}``. Only the exact built-in types are plain: anything else is turned into
plain data by the sending side's ``convert`` hook (pydantic models and dataclasses become dicts,
subclasses of the built-ins their base type) or crosses as a handle
``{"$handle": id, "$type": "module.Class"}``: an id that only the sandbox can resolve. The
receiving side never builds anything but these built-in types and its own handle objects, so an
object that "equals everything" cannot cross. Never pickle.

A frame is a 4-byte size and a body: JSON, or, only from the supervisor to the sandbox (the side
that may trust what it reads), ``marshal`` (version 2: no shared references, so values still
arrive as copies) of the same encoded data, flagged by the size's high bit. Marshal writes and
reads in a fraction of JSON's time; the supervisor never reads it (``marshal.loads`` is not safe
on hostile bytes), so a flagged frame from the sandbox is refused before its body is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import marshal
import select
import socket
import struct
import time
from collections.abc import Callable
from itertools import chain
from typing import Any

HEADER = struct.Struct(">I")
BINARY = 1 << 31  # in a frame's size: the body is marshal (see the module's docstring)
MARSHAL_VERSION = 2
MAX_DEPTH = 200
HANDLE, DICT, MAP = "$handle", "$dict", "$map"
TUPLE, SET, FROZENSET, BYTES = "$tuple", "$set", "$frozenset", "$bytes"
_TAGS = frozenset({DICT, MAP, TUPLE, SET, FROZENSET, BYTES})
_ATOMS = (str, int, float, bool, type(None))
_ATOM_TYPES = frozenset(_ATOMS)
_DICT_ONLY = {dict}
# What may be a dict key or a set element on the wire: hashable values built only of these.
_HASHABLE = (*_ATOMS, tuple, frozenset, bytes)


class WireError(ValueError):
    """A message that is too large, malformed, or not plain data."""


class WireTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


class WireClosed(EOFError):
    """The other side closed the channel."""


def _hashable(value: Any) -> bool:
    kind = type(value)
    if kind in _ATOMS or kind is bytes:
        return True
    if kind is tuple or kind is frozenset:
        return all(_hashable(v) for v in value)
    return False


def encode(value: Any, convert: Callable[[Any], Any]) -> Any:
    """Turn ``value`` into JSON-ready data; ``convert(obj)`` handles every object that is not one
    of the built-in types above and returns either a replacement (encoded in turn) or a
    ready-made handle dict."""

    # The keys of the last dict found plain: a dataset's rows share their keys, and comparing a
    # row's keys with these (one C-level set comparison) replaces checking each key again.
    plain_keys: list[Any] = [frozenset()]

    def walk(item: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"nested deeper than {MAX_DEPTH} levels")
        kind = type(item)
        if kind in _ATOMS:
            return item
        # Atoms are taken as they are without a call per value (a test's dataset is mostly
        # atoms in lists of flat dicts); below the depth limit, as walk would.
        atoms = _ATOMS if depth < MAX_DEPTH else ()
        if kind is list:
            if atoms and _ATOM_TYPES.issuperset(map(type, item)):
                return item  # atoms only: as it is (checked in C, not value by value)
            first = item[0]
            if type(first) is dict and depth + 1 < MAX_DEPTH:
                # Rows (a dataset): flat dicts of atoms that share the first row's plain keys are
                # as they are, checked in C rather than row by row.
                keys = first.keys()
                if (
                    set(map(type, item)) == _DICT_ONLY
                    and all(map(keys.__eq__, map(dict.keys, item)))
                    and _ATOM_TYPES.issuperset(map(type, chain.from_iterable(map(dict.values, item))))
                    and (keys == plain_keys[0] or all(type(k) is str and not k.startswith("$") for k in keys))
                ):
                    plain_keys[0] = frozenset(keys)
                    return item
            return [v if type(v) in atoms else walk(v, depth + 1) for v in item]
        if kind is tuple:
            return {TUPLE: [walk(v, depth + 1) for v in item]}
        if kind is set or kind is frozenset:
            if all(_hashable(v) for v in item):
                return {SET if kind is set else FROZENSET: [walk(v, depth + 1) for v in item]}
        elif kind is bytes:
            return {BYTES: base64.b64encode(item).decode("ascii")}
        elif kind is dict:
            keys = item.keys()
            plain = keys == plain_keys[0]
            if not plain and all(type(k) is str and not k.startswith("$") for k in item):
                plain_keys[0], plain = frozenset(keys), True
            if plain:
                if atoms and _ATOM_TYPES.issuperset(map(type, item.values())):
                    return item
                return {k: v if type(v) in atoms else walk(v, depth + 1) for k, v in item.items()}
            if all(_hashable(k) for k in item):
                if all(type(k) is str for k in item):
                    return {DICT: [[k, walk(v, depth + 1)] for k, v in item.items()]}
                return {MAP: [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in item.items()]}
        replacement = convert(item)
        if type(replacement) is dict and HANDLE in replacement:
            return replacement
        if replacement is item:
            raise WireError(f"cannot send a {kind.__name__}")
        return walk(replacement, depth + 1)

    return walk(value, 0)


def decode(data: Any, make_handle: Callable[[int, str], Any]) -> Any:
    """The inverse of :func:`encode`: the built-in values, with handles made by
    ``make_handle(id, type)``."""

    plain_keys: list[Any] = [frozenset()]  # as in encode

    def hashable(item: Any, depth: int, what: str) -> Any:
        value = walk(item, depth)
        if not _hashable(value):
            raise WireError(f"{what} that is not hashable plain data")
        return value

    def walk(item: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"nested deeper than {MAX_DEPTH} levels")
        kind = type(item)
        if kind in _ATOMS:
            return item
        atoms = _ATOMS if depth < MAX_DEPTH else ()  # as in encode
        if kind is list:
            if atoms and _ATOM_TYPES.issuperset(map(type, item)):
                return item  # as in encode
            return [v if type(v) in atoms else walk(v, depth + 1) for v in item]
        if kind is not dict:
            raise WireError(f"unexpected {kind.__name__}")
        if len(item) == 1 and next(iter(item)) in _TAGS:
            tag, body = next(iter(item.items()))
            if tag == BYTES:
                if type(body) is not str:
                    raise WireError("malformed bytes")
                try:
                    return base64.b64decode(body.encode("ascii"), validate=True)
                except (binascii.Error, UnicodeEncodeError):
                    raise WireError("malformed bytes") from None
            if type(body) is not list:
                raise WireError(f"malformed tagged {'dict' if tag in (DICT, MAP) else tag[1:]}")
            if tag == TUPLE:
                return tuple(walk(v, depth + 1) for v in body)
            if tag in (SET, FROZENSET):
                elements = [hashable(v, depth + 1, "a set element") for v in body]
                return set(elements) if tag == SET else frozenset(elements)
            if not all(type(p) is list and len(p) == 2 for p in body):
                raise WireError("malformed tagged dict")
            if tag == DICT and not all(type(p[0]) is str for p in body):
                raise WireError("a dict key that is not a string in a $dict")
            return {hashable(p[0], depth + 1, "a dict key"): walk(p[1], depth + 1) for p in body}
        if HANDLE in item:
            ident, type_name = item.get(HANDLE), item.get("$type", "object")
            if type(ident) is not int or type(type_name) is not str or len(item) > 2:
                raise WireError("malformed handle")
            return make_handle(ident, type_name)
        keys = item.keys()  # JSON's keys are plain strings: equal keys are the same keys
        if keys != plain_keys[0]:
            if any(k.startswith("$") for k in item):
                raise WireError("an untagged key starting with '$'")
            plain_keys[0] = frozenset(keys)
        if atoms and _ATOM_TYPES.issuperset(map(type, item.values())):
            return item
        return {k: v if type(v) in atoms else walk(v, depth + 1) for k, v in item.items()}

    return walk(data, 0)


def dumps(message: Any, limit: int, binary: bool = False) -> bytes:
    """One frame of ``message`` (encoded data); ``binary``: its body is marshal, for a reader that
    trusts this side (see the module's docstring)."""
    try:
        if binary:
            body = marshal.dumps(message, MARSHAL_VERSION)
        else:
            body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:  # lone surrogates, huge ints, ...
        raise WireError(f"cannot be written as {'marshal' if binary else 'JSON'}: {exc}") from None
    if len(body) > limit:
        raise WireError(f"message of {len(body)} bytes is over the limit of {limit}")
    return HEADER.pack(len(body) | (BINARY if binary else 0)) + body


def send(
    sock: socket.socket,
    message: Any,
    limit: int,
    fds: list[int] | None = None,
    deadline: float | None = None,
    binary: bool = False,
) -> None:
    """Write one message; with a ``deadline`` (a ``time.monotonic()`` value), a peer that stops
    reading raises :class:`WireTimeout` instead of blocking the sender for ever. ``binary``: as
    marshal, only ever to the sandbox."""
    send_frame(sock, dumps(message, limit, binary), deadline, fds)


def send_frame(sock: socket.socket, frame: bytes, deadline: float | None = None, fds: list[int] | None = None) -> None:
    """Write one frame made by :func:`dumps` (see :func:`send`)."""
    if deadline is not None:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        if fds:
            sent = socket.send_fds(sock, [frame[: HEADER.size]], fds)
            if sent != HEADER.size:
                raise WireError("short send")
            frame = frame[HEADER.size :]
        sock.sendall(frame)
    except TimeoutError:
        raise WireTimeout("the other side stopped reading") from None
    finally:
        if deadline is not None:
            sock.settimeout(None)


def _read_exactly(sock: socket.socket, size: int, deadline: float | None, fds: list[int] | None) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                raise WireTimeout("no answer in time")
        if fds is not None and not chunks:
            data, new_fds, _flags, _addr = socket.recv_fds(sock, size - got, 4)
            fds.extend(new_fds)
        else:
            data = sock.recv(min(size - got, 1 << 20))
        if not data:
            raise WireClosed("the channel was closed")
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


def recv(
    sock: socket.socket,
    limit: int,
    deadline: float | None = None,
    fds: list[int] | None = None,
    binary: bool = False,
) -> Any:
    """Read one message; ``deadline`` is a ``time.monotonic()`` value; received fds go to ``fds``.
    ``binary``: a marshal frame is accepted (only in the sandbox, reading the supervisor);
    otherwise such a frame is refused unread."""
    (size,) = HEADER.unpack(_read_exactly(sock, HEADER.size, deadline, fds))
    marshalled = bool(size & BINARY)
    if marshalled and not binary:
        raise WireError("a marshal frame from a side that may send only JSON")
    size &= ~BINARY
    if size > limit:
        raise WireError(f"message of {size} bytes is over the limit of {limit}")
    body = _read_exactly(sock, size, deadline, None)
    if marshalled:
        try:
            return marshal.loads(body)
        except (EOFError, ValueError, TypeError) as exc:
            raise WireError(f"not marshal data: {exc}") from None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"not JSON: {exc}") from None
