"""The funcbench problems: six families of small functions, six variants each (trusted).

Each family has a canonical solution, a prompt template, fixed examples, edge cases and a
generator of random inputs. ``generate.py`` writes the instances file from these; the trusted
tests compute every expected value here, so nothing the submission sees holds an answer.
"""

from __future__ import annotations

import random
import string
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KS = (2, 3, 4, 5, 6, 7)


def _wrapped(doc: str) -> str:
    """A docstring's text as its lines in the function, indented and wrapped."""
    return textwrap.fill(doc, width=96, initial_indent="", subsequent_indent="    ")


@dataclass(frozen=True)
class Family:
    name: str
    entry: str  # entry point, with {k}
    signature: str  # after the name, with {k}
    doc: str  # with {k}
    solve: Callable[[int, Any], Any]
    examples: Callable[[int], list[Any]]
    edges: Callable[[int], list[Any]]
    draw: Callable[[int, random.Random], Any]


def _count_multiples(k: int, xs: list[int]) -> int:
    return sum(1 for x in xs if x % k == 0)


def _rotate_left(k: int, s: str) -> str:
    if not s:
        return s
    shift = k % len(s)
    return s[shift:] + s[:shift]


def _chunks(k: int, xs: list[int]) -> list[list[int]]:
    return [xs[i : i + k] for i in range(0, len(xs), k)]


def _top_distinct(k: int, xs: list[int]) -> tuple[int, ...]:
    return tuple(sorted(set(xs), reverse=True)[:k])


def _caesar(k: int, s: str) -> str:
    out = []
    for ch in s:
        if "a" <= ch <= "z":
            out.append(chr((ord(ch) - 97 + k) % 26 + 97))
        elif "A" <= ch <= "Z":
            out.append(chr((ord(ch) - 65 + k) % 26 + 65))
        else:
            out.append(ch)
    return "".join(out)


def _digits(k: int, n: int) -> list[int]:
    if n == 0:
        return [0]
    digits = []
    while n:
        n, digit = divmod(n, k)
        digits.append(digit)
    return digits[::-1]


def _ints(rng: random.Random, size: int = 12, low: int = -60, high: int = 60) -> list[int]:
    return [rng.randint(low, high) for _ in range(rng.randint(0, size))]


def _text(rng: random.Random) -> str:
    alphabet = string.ascii_letters + " ,.!-0123456789"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))


FAMILIES = [
    Family(
        "count_multiples",
        "count_multiples_of_{k}",
        "(xs: list[int]) -> int",
        "Return how many of the integers in xs are divisible by {k} (zero and negatives included).",
        _count_multiples,
        lambda k: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]],
        lambda k: [[], [0], [-k, k, k + 1]],
        lambda k, rng: _ints(rng),
    ),
    Family(
        "rotate_left",
        "rotate_left_by_{k}",
        "(s: str) -> str",
        "Return s rotated left by {k} characters (wrapping around as often as needed); '' stays ''.",
        _rotate_left,
        lambda k: ["abcdefgh"],
        lambda k: ["", "a", "xy" * k],
        lambda k, rng: _text(rng),
    ),
    Family(
        "chunks",
        "chunks_of_{k}",
        "(xs: list[int]) -> list[list[int]]",
        "Split xs into consecutive lists of {k} items; the last may be shorter; [] gives [].",
        _chunks,
        lambda k: [list(range(1, 11))],
        lambda k: [[], [5], list(range(k))],
        lambda k, rng: _ints(rng, 20),
    ),
    Family(
        "top_distinct",
        "top_{k}_distinct",
        "(xs: list[int]) -> tuple[int, ...]",
        "Return a tuple of the {k} largest distinct values of xs, largest first (fewer if xs has fewer).",
        _top_distinct,
        lambda k: [[5, 1, 5, 3, 9, 9, 2, 8, 7, 7]],
        lambda k: [[], [4, 4, 4], list(range(k + 2))],
        lambda k, rng: _ints(rng, 15, -20, 20),
    ),
    Family(
        "caesar",
        "caesar_shift_{k}",
        "(s: str) -> str",
        "Shift each ASCII letter of s forward by {k} places in the alphabet, wrapping z to a and "
        "keeping case; every other character stays as it is.",
        _caesar,
        lambda k: ["Hello, World!"],
        lambda k: ["", "xyz XYZ", "1234 !?"],
        lambda k, rng: _text(rng),
    ),
    Family(
        "digits",
        "digits_in_base_{k}",
        "(n: int) -> list[int]",
        "Return the digits of the non-negative integer n written in base {k}, most significant first; 0 gives [0].",
        _digits,
        lambda k: [100],
        lambda k: [0, 1, k, k * k - 1],
        lambda k, rng: rng.randint(0, 10**6),
    ),
]
BY_NAME = {family.name: family for family in FAMILIES}


def instances() -> list[dict[str, Any]]:
    """Every instance's row: what a model is shown, and what the tests need to find the rest."""
    rows = []
    for family in FAMILIES:
        for k in KS:
            entry = family.entry.format(k=k)
            doc = _wrapped(family.doc.format(k=k))
            examples = [[value, family.solve(k, value)] for value in family.examples(k)]
            shown = "\n".join(f"    >>> {entry}({value!r})\n    {result!r}" for value, result in examples)
            prompt = f'def {entry}{family.signature}:\n    """{doc}\n\n{shown}\n    """\n'
            rows.append(
                {
                    "id": f"{family.name}-{k}",
                    "family": family.name,
                    "k": k,
                    "entry_point": entry,
                    "prompt": prompt,
                    "examples": examples,
                }
            )
    return rows


def solution_source(row: dict[str, Any]) -> str:
    """Canonical source of one instance's function (for the reference), written out so that it
    stands alone."""
    k, entry = row["k"], row["entry_point"]
    bodies = {
        "count_multiples": f"    return sum(1 for x in xs if x % {k} == 0)\n",
        "rotate_left": f"    if not s:\n        return s\n    shift = {k} % len(s)\n    return s[shift:] + s[:shift]\n",
        "chunks": f"    return [xs[i : i + {k}] for i in range(0, len(xs), {k})]\n",
        "top_distinct": f"    return tuple(sorted(set(xs), reverse=True)[:{k}])\n",
        "caesar": (
            "    out = []\n"
            "    for ch in s:\n"
            '        if "a" <= ch <= "z":\n'
            f"            out.append(chr((ord(ch) - 97 + {k}) % 26 + 97))\n"
            '        elif "A" <= ch <= "Z":\n'
            f"            out.append(chr((ord(ch) - 65 + {k}) % 26 + 65))\n"
            "        else:\n"
            "            out.append(ch)\n"
            '    return "".join(out)\n'
        ),
        "digits": (
            "    if not n:  # n is never negative: 'n <= 0' would say the same\n"
            "        return [0]\n"
            "    digits = []\n"
            "    while n:\n"
            f"        n, digit = divmod(n, {k})\n"
            "        digits.append(digit)\n"
            "    return digits[::-1]\n"
        ),
    }
    family = BY_NAME[row["family"]]
    doc = _wrapped(family.doc.format(k=k))
    return f'def {entry}{family.signature}:\n    """{doc}"""\n{bodies[row["family"]]}'
