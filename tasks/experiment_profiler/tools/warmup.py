"""What the simulated API and the log schemas build on first use, built ahead of the tests.

``task.yaml`` lists this module as a preload: the grader's sandbox imports it once, in the warm
process every test's process is forked from, and no submission or test imports it. Importing it
sends a few requests through the Anthropic SDK to the simulator, answered in memory and logged
nowhere (the SDK then has its request and response models built and the tracing modules it
imports lazily imported), and checks the record and summary schemas once (their validators are
then cached). A test's process starts with all of that done instead of doing it again, which is
most of what a first experiment run costs beyond the later ones.
"""

from __future__ import annotations

import json
from typing import Any

from tools import anthropic_client, logging_utils


def _answer_in_memory(http_request: Any) -> Any:
    import httpx2

    return httpx2.Response(200, json=anthropic_client.simulate(json.loads(http_request.content)))


def warm() -> None:
    import anthropic
    import httpx2

    client = anthropic.Anthropic(
        api_key=anthropic_client.SIMULATED_API_KEY,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_answer_in_memory)),
        max_retries=0,
    )
    messages = [{"role": "user", "content": "Warm up the simulated client."}]
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=messages)
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=8,
        messages=messages,
        system="You are a warm-up.",
        stop_sequences=["."],
        output_config={"effort": "low"},
    )
    for schema in (logging_utils.RECORD_SCHEMA, logging_utils.SUMMARY_SCHEMA):
        list(logging_utils._validator(schema).iter_errors({}))


warm()
