"""Finding the JSON document of a raw output: bare, after prose, fenced, repaired, or nowhere."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metric_card_support import oracle

# The phases are the grader's (no explain, and no shrink unless -v): each would re-run a failing
# example many times, a call into the sandbox each, and changes no outcome.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

NO_BACKTICK = st.characters(exclude_characters="`", exclude_categories=("Cs",))
NO_QUOTES = st.characters(exclude_characters="`'\"", exclude_categories=("Cs",))


def json_values(chars=NO_BACKTICK):
    text = st.text(alphabet=chars, max_size=10)
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**9), 10**9),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)),
        max_leaves=12,
    )


def json_objects(chars=NO_BACKTICK):
    return st.dictionaries(st.text(alphabet=chars, max_size=8), json_values(chars), min_size=1, max_size=5)


PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCDEFXYZ.,:;!?-\n", min_size=1, max_size=40).filter(
    lambda s: any(c.isalpha() for c in s)
)
INDENTS = st.sampled_from([None, 2, 4])
# Texts made of the characters that matter to extraction, to compare with the rules at random.
FUZZ = st.text(alphabet="{}[]\",:' `\n\t0123456789.-+eEtrufalsnNIyj\\", max_size=50)


def _extract(submission, text):
    scoring = submission.module("metric_card.scoring")
    got = scoring.extract_json(text)
    assert isinstance(got, dict), f"extract_json should return a dict, got {got!r}"
    return got


def _expect(got, text, found, value=None, source=None, repaired=False):
    want = {"found": found, "value": value, "source": source, "repaired": repaired}
    shown = {k: got.get(k) for k in want}
    message = f"extract_json({text[:200]!r}) gave {shown!r:.400}, expected {want!r:.400}"
    assert shown == want, message
    assert all(type(got.get(k)) is type(v) for k, v in want.items() if k != "value"), message


@SETTINGS
@given(value=json_values(), indent=INDENTS, pad=st.sampled_from(["", " ", "\n", " \n\t"]))
def test_bare_json_is_the_whole_text(submission, value, indent, pad):
    text = pad + json.dumps(value, indent=indent) + pad
    _expect(_extract(submission, text), text, True, value, "whole")


@SETTINGS
@given(card=json_objects(), before=PROSE, after=st.one_of(st.just(""), PROSE), indent=INDENTS)
def test_json_after_prose_is_found_between_braces(submission, card, before, after, indent):
    text = f"{before} {json.dumps(card, indent=indent)} {after}"
    _expect(_extract(submission, text), text, True, card, "braces")


@SETTINGS
@given(
    card=json_objects(),
    before=st.text(alphabet="abcdefgh {}[]:.,\n", max_size=30).map(lambda s: "Here it is " + s),
    after=st.text(alphabet="abcdefgh {}[]:.,\n", max_size=30),
    info=st.sampled_from(["json", "JSON", "", "javascript"]),
)
def test_fenced_json_wins_over_braces(submission, card, before, after, info):
    text = f"{before}\n```{info}\n{json.dumps(card, indent=2)}\n```\n{after}"
    _expect(_extract(submission, text), text, True, card, "fence")


@SETTINGS
@given(first=json_objects(), second=json_objects(), prose=PROSE)
def test_the_first_fence_is_the_candidate(submission, first, second, prose):
    text = f"{prose}\n```json\n{json.dumps(first)}\n```\nor\n```json\n{json.dumps(second)}\n```"
    _expect(_extract(submission, text), text, True, first, "fence")


@st.composite
def with_trailing_commas(draw, value, top=True):
    """``value`` serialized with a trailing comma in some non-empty containers (always the top one)."""
    space = st.sampled_from(["", " ", "\n  ", "\t"])
    if isinstance(value, dict) and value:
        items = [f"{json.dumps(k)}: {draw(with_trailing_commas(v, top=False))}" for k, v in value.items()]
    elif isinstance(value, list) and value:
        items = [draw(with_trailing_commas(v, top=False)) for v in value]
    else:
        return json.dumps(value)
    trail = "," + draw(space) if top or draw(st.booleans()) else ""
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    return opening + ", ".join(items) + trail + closing


# A string that holds what a trailing comma looks like outside strings: the repair keeps it.
COMMA_IN_STRING = st.builds(
    lambda a, b, close: f'{a} "{b}",{close}',
    st.text(alphabet="abcdefgh", min_size=1, max_size=6),
    st.text(alphabet="abcdefgh ", min_size=1, max_size=6),
    st.sampled_from(["}", "]", " }", "  ]"]),
)


@st.composite
def repairable_cards(draw):
    """A card (starting with an empty string, ending with a string that holds a comma before a
    bracket) and its text with trailing commas, after prose or nothing."""
    card = {"": "", **draw(json_objects()), "note": draw(COMMA_IN_STRING)}
    before = draw(st.one_of(st.just(""), PROSE))
    return card, before + " " + draw(with_trailing_commas(card))


@SETTINGS
@given(case=repairable_cards())
def test_trailing_commas_are_repaired(submission, case):
    """Commas before a closing bracket are dropped outside strings only (every example starts with
    an empty string and has a string with spaces, escaped quotes and a comma before a bracket)."""
    card, text = case
    _expect(_extract(submission, text), text, True, card, "braces", True)


@SETTINGS
@given(card=json_objects(NO_QUOTES), indent=INDENTS)
def test_single_quotes_are_repaired(submission, card, indent):
    text = json.dumps(card, indent=indent).replace('"', "'")
    _expect(_extract(submission, text), text, True, card, "braces", True)


@st.composite
def truncated_documents(draw):
    """A card's JSON cut short: a strict, non-empty prefix."""
    full = json.dumps(draw(json_objects()), indent=draw(INDENTS))
    return full[: draw(st.integers(1, len(full) - 1))]


@SETTINGS
@given(text=truncated_documents())
def test_truncated_json_is_not_found(submission, text):
    _expect(_extract(submission, text), text, False)


@SETTINGS
@given(text=st.text(alphabet="abcdefghij klmnop.,:;!?\n-`", max_size=60))
def test_text_without_a_document_has_nothing(submission, text):
    """No braces, brackets, quotes or digits (and no word true, false or null): nothing to find."""
    _expect(_extract(submission, text), text, False)


@SETTINGS
@given(
    text=st.one_of(
        FUZZ,
        st.builds(lambda a, b: a + json.dumps(b) + a[::-1], FUZZ, json_values()),
        st.sampled_from(['{"a": NaN}', "[Infinity]", '{"x": -Infinity, }', "NaN", "{'a': \"b\"}", "{'a': 1,}"]),
    ),
    pad=st.sampled_from(["", "  ", "\n\t "]),
)
def test_extraction_follows_the_rules(submission, text, pad):
    """Anything at all: the same answer as the rules give, whatever whitespace surrounds it."""
    want = oracle.extract_json(text)
    _expect(_extract(submission, pad + text + pad), pad + text + pad, **want)
