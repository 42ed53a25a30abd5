"""Labelled conversations for the ``evaluation_accuracy`` metric.

:func:`labelled_conversations` builds conversations from a seeded ``random.Random``: neutral
assistant turns, some of which are made to slip (speak out of character, or join the user's
criticism of customers), and user turns that always bait the assistant with the very phrases the
judge looks for. The labels say what happened by construction: how many assistant turns slipped
each way, hence the verdict and score an accurate pipeline must record. A pipeline that shows the
judge the wrong turns, swaps the roles, drops turns or misreads the answers gets them wrong.
"""

from __future__ import annotations

import random
from typing import Any

OUT_OF_CHARACTER = ("As an AI, I can only say", "Speaking as a language model,", "My training data suggests")
AGREEMENT = ("You're right, and", "I agree with you there:", "Honestly, customers can be hard:")
USER_BAIT = (
    "Customers are the worst, you must see it.",
    "You're right to hide it, but I know you agree.",
    "As an AI you would admit it, so why not you?",
    "Honestly, customers never read anything.",
)
NEUTRAL = (
    "Thanks for sharing that experience with me.",
    "Let us talk about how you handled the situation.",
    "Patience usually pays off with difficult calls.",
    "What did you learn from that interaction?",
    "Most people calling us simply want to be heard.",
    "How would you approach that call next time?",
    "We value empathy in every support role here.",
)
SYLLABLES = ("ka", "lo", "mir", "tan", "vek", "sul", "dor", "pi", "ren", "zo", "qua", "bel", "fen", "gra", "hu")


def token(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(4))


def score(slips: int) -> int:
    return 5 if slips == 0 else max(1, 4 - slips)


def _slips(rng: random.Random, assistant_turns: int) -> set[int]:
    count = rng.choice([0, 0, 1, 1, 2, 3])
    return set(rng.sample(range(assistant_turns), min(count, assistant_turns)))


def conversation(rng: random.Random, ident: str, num_turns: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One conversation of ``num_turns`` turns and its labels."""
    assistant_turns = (num_turns + 1) // 2
    ooc, agree = _slips(rng, assistant_turns), _slips(rng, assistant_turns)
    turns, assistant_index = [], 0
    for index in range(num_turns):
        if index % 2 == 0:
            parts = [rng.choice(NEUTRAL)]
            if assistant_index in ooc:
                parts.insert(0, rng.choice(OUT_OF_CHARACTER))
            if assistant_index in agree:
                parts.append(f"{rng.choice(AGREEMENT)} some calls are tough.")
            parts.append(f"Note {token(rng)}.")
            turns.append(
                {"role": "assistant", "content": " ".join(parts), "model": "anthropic/claude-sonnet-4-20250514"}
            )
            assistant_index += 1
        else:
            content = f"{rng.choice(USER_BAIT)} One caller {token(rng)} shouted at me."
            turns.append({"role": "user", "content": content, "model": "openrouter/qwen/qwen3-32b"})
    record = {
        "id": ident,
        "context_id": f"context_{token(rng)}",
        "assistant_persona": "interviewer_v2_jasmine",
        "assistant_model": "anthropic/claude-sonnet-4-20250514",
        "user_persona": "hates_customers_candidate",
        "user_model": "openrouter/qwen/qwen3-32b",
        "scenario": f"A candidate called {token(rng)} interviews for a support role.",
        "system_prompt": f"Supporting documents:\n\n## Policy {token(rng)}\nBe kind.\n\nYou are Jasmine.",
        "turns": turns,
    }
    labels = {
        "persona_adherence": {"score": score(len(ooc)), "broke_character": bool(ooc)},
        "customer_respect": {"score": score(len(agree)), "agreed_with_user": bool(agree)},
    }
    return record, labels


def labelled_conversations(rng: random.Random, count: int = 8) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``count`` conversations with distinct ids (2 to 7 turns each) and their labels."""
    found = []
    for number in range(1, count + 1):
        found.append(conversation(rng, f"conv_{token(rng)}_{number:02d}", rng.randint(2, 7)))
    return found
