"""``process``: groups of completions collected through the client, scored, saved as scored groups,
rendered as a page and summarised as metrics; checked against the simulator's own request log."""

from __future__ import annotations

import os
import stat

from metric_card_support import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DIMENSIONS,
    REQUEST_LOG,
    SCORES,
    check_result,
    close,
    context_tool,
    expected_completions,
    expected_metrics,
    generate_contexts,
    is_number,
    oracle,
    parse_page,
    read_json,
    read_jsonl,
    simulator,
    telling_seed,
    word,
    write_contexts,
)

GROUP_KEYS = ("context_id", "context", "messages", "scores", "breakdown", "finish_reasons", "response_id", "usage")


def _prompt(conversation):
    return [{"role": m.get("role"), "content": m.get("content")} for m in conversation[:-1]]


def _check_group_shape(group, number, context, group_size):
    where = f"group {number}"
    assert isinstance(group, dict), f"{where} is not an object"
    missing = [key for key in GROUP_KEYS if key not in group]
    assert not missing, f"{where} lacks {missing}"
    assert group["context_id"] == context["id"], f"{where} is for {group['context_id']!r}, expected {context['id']!r}"
    assert group["context"] == context, f"{where}: context {group['context']!r:.200}"
    for key in ("messages", "scores", "breakdown", "finish_reasons"):
        value = group[key]
        assert isinstance(value, list), f"{where}: {key} should be a list, got {value!r:.200}"
        assert len(value) == group_size, f"{where}: {key} should have {group_size} items, got {len(value)}"
    for index, conversation in enumerate(group["messages"]):
        assert isinstance(conversation, list), f"{where}: messages[{index}] is not a chat"
        assert len(conversation) >= 2, f"{where}: messages[{index}] should hold the prompt and the answer"
        last = conversation[-1]
        ends_well = isinstance(last, dict) and last.get("role") == "assistant" and isinstance(last.get("content"), str)
        assert ends_well, f"{where}: messages[{index}] should end with the assistant's text, got {last!r:.200}"
        assert _prompt(conversation) == _prompt(group["messages"][0]), f"{where}: the choices have different prompts"
    for index, (score, breakdown) in enumerate(zip(group["scores"], group["breakdown"], strict=True)):
        assert isinstance(breakdown, dict), f"{where}: breakdown[{index}] is not an object"
        for key in SCORES:
            assert is_number(breakdown.get(key)), (
                f"{where}: breakdown[{index}].{key} should be a number, got {breakdown.get(key)!r}"
            )
        reasons = breakdown.get("reasons")
        shaped = isinstance(reasons, dict) and all(isinstance(reasons.get(d), list) for d in DIMENSIONS)
        assert shaped, f"{where}: breakdown[{index}].reasons should map each dimension to a list, got {reasons!r:.200}"
        assert close(score, breakdown["overall"]), f"{where}: scores[{index}] {score!r} is not the overall score"
    usage = group["usage"]
    counts = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert isinstance(usage, dict), f"{where}: usage {usage!r}"
    assert all(isinstance(usage.get(k), int) for k in counts), f"{where}: usage {usage!r}"


def test_rollouts_file_holds_one_scored_group_per_prompt(submission, processed):
    groups = read_jsonl(submission, processed.path)
    assert len(groups) == processed.num_prompts, (
        f"{len(groups)} groups for {processed.num_prompts} prompts (the contexts repeat when there are fewer)"
    )
    for number, group in enumerate(groups):
        _check_group_shape(group, number, processed.context_of(number), processed.group_size)
    generator = submission.module("metric_card.metric_card_generator")
    generator.run_process(
        processed.path,
        group_size=processed.group_size,
        num_prompts=processed.num_prompts,
        seed=processed.seed,
        contexts_path=processed.contexts_path,
    )
    again = read_jsonl(submission, processed.path)
    assert again == groups, "running process again should replace the rollouts file with the same groups"
    for written in (processed.path, processed.html, processed.metrics):  # (other tests ask for them)
        if not os.path.lexists(submission.workdir / written):
            continue
        mode = os.lstat(submission.workdir / written).st_mode
        assert stat.S_ISREG(mode), f"{written} should be a regular file"
        assert not mode & 0o111, f"{written} is a data file, yet executable (mode {stat.filemode(mode)})"


def test_rollouts_agree_with_the_request_log(submission, processed):
    groups = read_jsonl(submission, processed.path)
    log = processed.log
    assert len(log) == processed.num_prompts, (
        f"the client served {len(log)} requests ({REQUEST_LOG}); expected one per prompt ({processed.num_prompts})"
    )
    assert len(groups) == len(log)
    for number, (group, entry) in enumerate(zip(groups, log, strict=True)):
        request = entry["request"]
        context = processed.context_of(number)
        for key, want in (
            ("model", DEFAULT_MODEL),
            ("n", processed.group_size),
            ("seed", processed.seed),
            ("max_tokens", DEFAULT_MAX_TOKENS),
        ):
            assert request[key] == want, f"request {number}: {key} is {request[key]!r}, expected {want!r}"
        assert simulator.parse_context_block(request["messages"][-1]["content"]) == context, (
            f"request {number} does not carry the context {context['id']!r}"
        )
        answer = expected_completions(entry)
        assert group.get("response_id") == answer["id"] == entry["response_id"], f"group {number}: response_id"
        conversations = group["messages"]
        assert all(_prompt(c) == request["messages"] for c in conversations), (
            f"group {number}: the conversations should start with the messages sent"
        )
        texts = [c[-1].get("content") for c in conversations]
        assert texts == [c["message"]["content"] for c in answer["choices"]], (
            f"group {number}: the completions are not the choices the API returned, in order"
        )
        assert group["finish_reasons"] == [c["finish_reason"] for c in answer["choices"]], f"group {number}"
        assert group["usage"] == answer["usage"] == entry["usage"], (
            f"group {number}: usage {group['usage']!r}, the API returned {answer['usage']!r}"
        )


def test_rollout_scores_follow_the_rules(submission, processed):
    groups = read_jsonl(submission, processed.path)
    assert len(groups) == processed.num_prompts
    for number, group in enumerate(groups):
        context = processed.context_of(number)
        assert len(group["messages"]) == len(group["breakdown"]) == processed.group_size
        for index, (conversation, breakdown) in enumerate(zip(group["messages"], group["breakdown"], strict=True)):
            text = conversation[-1]["content"]
            reasons = breakdown.get("reasons") or {}
            got = {d: {"score": breakdown.get(d), "reasons": reasons.get(d)} for d in DIMENSIONS}
            got["overall"] = breakdown.get("overall")
            check_result(got, oracle.score_output(text, context), f"group {number}, rollout {index}")


def test_html_page_shows_every_rollout(submission, processed):
    groups = read_jsonl(submission, processed.path)
    html = processed.html
    assert (submission.workdir / html).is_file(), f"{html} was not written beside the rollouts"
    page = parse_page(submission.read_text(html))
    assert not page.remote, f"the page loads resources from elsewhere: {page.remote[:3]}"
    found = {}
    for rollout in page.rollouts:
        key = (rollout["group"], rollout["index"])
        assert key not in found, f"two rollout elements with data-group={key[0]!r} data-index={key[1]!r}"
        found[key] = rollout
    texts = [c[-1]["content"] for g in groups for c in g["messages"]]
    assert any("<" in t for t in texts), "the generated contexts must need escaping"
    assert any("&" in t for t in texts), "the generated contexts must need escaping"
    expected = {(str(g), str(i)) for g, group in enumerate(groups) for i in range(len(group["messages"]))}
    assert set(found) == expected, (
        f"the page has {len(found)} rollout elements, expected {len(expected)}; "
        f"missing {sorted(expected - set(found))[:5]}, unexpected {sorted(set(found) - expected)[:5]}"
    )
    for number, group in enumerate(groups):
        for index, conversation in enumerate(group["messages"]):
            rollout = found[(str(number), str(index))]
            completion = conversation[-1]["content"].strip()
            shown = ["".join(parts).strip() for parts in rollout["pre"]]
            assert completion in shown, (
                f"rollout {number}/{index}: no <pre> shows the output (escaped) as written: {shown[:1]!r:.300}"
            )
            for key in SCORES:
                want = f"{group['breakdown'][index][key]:.2f}"
                texts_of = [t.strip() for t in rollout["scores"].get(key, [])]
                assert want in texts_of, (
                    f"rollout {number}/{index}: data-score={key!r} shows {texts_of}, expected {want}"
                )


def _expected_groups(run, log=None, context_of=None):
    """The groups the simulator's log says a run made (``run``'s, or ``log`` with ``context_of``)."""
    groups = []
    for number, entry in enumerate(run.log if run else log):
        answer = expected_completions(entry)
        messages = entry["request"]["messages"]
        groups.append(
            {
                "context": (run.context_of if run else context_of)(number),
                "messages": [
                    [*messages, {"role": "assistant", "content": c["message"]["content"]}] for c in answer["choices"]
                ],
                "usage": answer["usage"],
            }
        )
    return groups


def _check_pick(pick, which, expected, sign):
    assert isinstance(pick, dict), f"{which} should be an object, got {pick!r:.200}"
    rollouts = expected["rollouts"]
    extreme = (max if sign > 0 else min)(r["scores"]["overall"] for r in rollouts)
    first = next(r for r in rollouts if abs(r["scores"]["overall"] - extreme) <= 1e-9)
    want = {
        "group": first["group"],
        "index": first["index"],
        "context_id": first["group_data"]["context"]["id"],
        "completion": first["text"],
    }
    for key, value in want.items():
        assert pick.get(key) == value, f"{which}.{key} is {pick.get(key)!r:.120}, expected {value!r:.120}"
    assert close(pick.get("overall"), extreme), f"{which}.overall is {pick.get('overall')!r}, expected {extreme}"


def _check_metrics(metrics, expected):
    """A run's metrics against ``expected_metrics`` of the groups the simulator's log implies."""
    for key in ("num_groups", "num_rollouts"):
        assert metrics.get(key) == expected[key], f"{key} is {metrics.get(key)!r}, expected {expected[key]}"
    assert close(metrics.get("percent_valid_json"), expected["percent_valid_json"]), (
        f"percent_valid_json is {metrics.get('percent_valid_json')!r}, expected {expected['percent_valid_json']}"
    )
    averages = metrics.get("average_scores") or {}
    for key in SCORES:
        assert close(averages.get(key), expected["average_scores"][key]), (
            f"average_scores.{key} is {averages.get(key)!r}, expected {expected['average_scores'][key]}"
        )
    tokens = metrics.get("tokens") or {}
    for key in ("prompt", "completion", "total"):
        assert tokens.get(key) == expected["tokens"][key], (
            f"tokens.{key} is {tokens.get(key)!r}, expected {expected['tokens'][key]} (the API's usage)"
        )
    for key in ("completion_per_rollout", "score_per_1k_completion_tokens"):
        assert close(tokens.get(key), expected["tokens"][key], 1e-6), (
            f"tokens.{key} is {tokens.get(key)!r}, expected {expected['tokens'][key]}"
        )
    _check_pick(metrics.get("best"), "best", expected, +1)
    _check_pick(metrics.get("worst"), "worst", expected, -1)


def test_metrics_file_reports_the_run(submission, processed, rlgrade_rng):
    assert processed.log, f"no requests in {REQUEST_LOG}"
    metrics = read_json(submission, processed.metrics)
    assert isinstance(metrics, dict), f"{processed.metrics} should hold an object"
    assert processed.returned == metrics, "run_process should return the metrics it wrote"
    _check_metrics(metrics, expected_metrics(_expected_groups(processed)))

    # the same settings with a seed whose best and worst rollouts lie where only a pick that
    # follows the rules (across groups, the first on a tie) finds them
    seed = telling_seed(processed, rlgrade_rng)
    target = f"telling_{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    generator = submission.module("metric_card.metric_card_generator")
    returned = generator.run_process(
        target,
        group_size=processed.group_size,
        num_prompts=processed.num_prompts,
        seed=seed,
        contexts_path=processed.contexts_path,
    )
    log = read_jsonl(submission, REQUEST_LOG)[len(processed.log) :]
    assert [e["request"]["seed"] for e in log] == [seed] * processed.num_prompts, "one request per prompt, seeded"
    metrics = read_json(submission, target.replace(".jsonl", ".metrics.json"))
    assert returned == metrics, "run_process should return the metrics it wrote"
    _check_metrics(metrics, expected_metrics(_expected_groups(None, log, processed.context_of)))


def test_run_process_rejects_bad_settings(submission, rlgrade_rng):
    generator = submission.module("metric_card.metric_card_generator")
    # the smallest settings allowed are 1
    smallest = f"small_{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    metrics = generator.run_process(smallest, group_size=1, num_prompts=1, max_token_length=1)
    counts = (metrics.get("num_groups"), metrics.get("num_rollouts"))
    assert counts == (1, 1), f"group_size=1, num_prompts=1 make one group of one rollout, got {counts}"
    assert read_jsonl(submission, REQUEST_LOG)[-1]["request"]["max_tokens"] == 1
    path = f"bad_{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    below = ({"group_size": 0}, {"num_prompts": 0}, {"num_prompts": -rlgrade_rng.randint(1, 5)})
    for settings in (*below, {"max_token_length": 0}):
        with submission.raises("ValueError"):
            generator.run_process(path, **settings)
    missing = f"nowhere_{word(rlgrade_rng)}.json"
    with submission.raises("ValueError", match=missing):
        generator.run_process(path, contexts_path=missing)
    assert not (submission.workdir / path).exists(), "a rejected run should not write rollouts"


# -- the command line ------------------------------------------------------------------------------


def _no_traceback(result):
    assert "Traceback" not in result.stderr + result.stdout, f"the CLI crashed:\n{result.stderr[-2000:]}"


def test_cli_process_with_the_seeds_flag(submission):
    """The seed's command line, as it is: the shipped contexts, the default settings."""
    target = "artifacts/metric_rollouts.jsonl"
    result = submission.run_cli(["process", "--env.data_path_to_save_groups", target])
    assert result.returncode == 0, f"process exited with {result.returncode}:\n{result.stderr[-2000:]}"
    contexts = context_tool.load_contexts()
    groups = read_jsonl(submission, target)
    assert len(groups) == len(contexts), f"{len(groups)} groups, expected one per shipped context ({len(contexts)})"
    for number, group in enumerate(groups):
        _check_group_shape(group, number, contexts[number], 4)
    for name in ("artifacts/metric_rollouts.html", "artifacts/metric_rollouts.metrics.json"):
        assert (submission.workdir / name).is_file(), f"process did not write {name}"
    log = read_jsonl(submission, REQUEST_LOG)
    assert [e["request"]["n"] for e in log] == [4] * len(contexts), "the default group size is 4"
    assert {e["request"]["model"] for e in log} == {DEFAULT_MODEL}
    assert {e["request"]["seed"] for e in log} == {0}, "the default seed is 0"
    assert {e["request"]["max_tokens"] for e in log} == {DEFAULT_MAX_TOKENS}
    metrics = read_json(submission, "artifacts/metric_rollouts.metrics.json")
    _check_metrics(metrics, expected_metrics(_expected_groups(None, log, contexts.__getitem__)))


def test_cli_process_takes_its_settings(submission, rlgrade_rng):
    contexts = generate_contexts(rlgrade_rng, 3)
    contexts_path = write_contexts(submission, f"ctx_{word(rlgrade_rng, 2)}.json", contexts)
    group_size, num_prompts, seed = rlgrade_rng.randint(2, 3), rlgrade_rng.randint(2, 4), rlgrade_rng.randrange(10**6)
    model = rlgrade_rng.choice(["gpt-4o-mini", "gpt-4.1", "o4-mini"])
    target = f"runs/{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    argv = [
        "process",
        "--env.data_path_to_save_groups",
        target,
        "--env.group_size",
        str(group_size),
        "--env.num_prompts",
        str(num_prompts),
        "--env.seed",
        str(seed),
        "--env.contexts_path",
        contexts_path,
        "--openai.model_name",
        model,
        "--env.use_wandb",
        "false",
    ]
    result = submission.run_cli(argv)
    assert result.returncode == 0, f"process exited with {result.returncode}:\n{result.stderr[-2000:]}"
    groups = read_jsonl(submission, target)
    log = read_jsonl(submission, REQUEST_LOG)
    assert len(groups) == len(log) == num_prompts
    for number, (group, entry) in enumerate(zip(groups, log, strict=True)):
        _check_group_shape(group, number, contexts[number % len(contexts)], group_size)
        request = entry["request"]
        assert (request["model"], request["n"], request["seed"]) == (model, group_size, seed), (
            f"request {number} had model {request['model']!r}, n {request['n']}, seed {request['seed']}"
        )
        answer = expected_completions(entry)
        assert [c[-1]["content"] for c in group["messages"]] == [c["message"]["content"] for c in answer["choices"]]
    metrics = read_json(submission, target.replace(".jsonl", ".metrics.json"))
    assert metrics.get("num_rollouts") == num_prompts * group_size
    _check_metrics(metrics, expected_metrics(_expected_groups(None, log, lambda n: contexts[n % len(contexts)])))

    # wandb on (it is optional: the run works the same without it), one context asked for again
    # and again, one choice each
    single = write_contexts(submission, f"one_{word(rlgrade_rng, 2)}.json", contexts[:1])
    again = rlgrade_rng.randint(3, 5)
    target = f"runs/{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    argv = ["process", "--env.data_path_to_save_groups", target, "--env.contexts_path", single]
    result = submission.run_cli(
        [*argv, "--env.num_prompts", str(again), "--env.group_size", "1", "--env.use_wandb", "true"]
    )
    assert result.returncode == 0, f"process exited with {result.returncode}:\n{result.stderr[-2000:]}"
    groups = read_jsonl(submission, target)
    assert [g.get("context_id") for g in groups] == [contexts[0]["id"]] * again, (
        f"{again} prompts from a file of one context should all be that context"
    )
    assert all(len(g.get("messages", [])) == 1 for g in groups), "--env.group_size 1 makes one rollout per group"


def test_cli_process_rejects_bad_input(submission, rlgrade_rng):
    target = f"bad_{word(rlgrade_rng, 2)}/metric_rollouts.jsonl"
    result = submission.run_cli([])
    assert result.returncode != 0, "the command line without a command should fail"
    _no_traceback(result)
    result = submission.run_cli(["process"])
    assert result.returncode != 0, "process without --env.data_path_to_save_groups should fail"
    _no_traceback(result)
    assert "--env.data_path_to_save_groups" in result.stderr, (
        f"the error should name the flag:\n{result.stderr[-2000:]}"
    )
    base = ["process", "--env.data_path_to_save_groups", target]
    result = submission.run_cli([*base, "--env.group_size", str(-rlgrade_rng.randint(0, 3))])
    assert result.returncode != 0, "process accepted a group size below 1"
    _no_traceback(result)
    assert "--env.group_size" in result.stderr, f"the error should name --env.group_size:\n{result.stderr[-2000:]}"

    missing = f"nowhere_{word(rlgrade_rng)}.json"
    result = submission.run_cli([*base, "--env.contexts_path", missing])
    assert result.returncode != 0, "process accepted a contexts file that does not exist"
    _no_traceback(result)
    assert missing in result.stderr, f"the error should name the missing file:\n{result.stderr[-2000:]}"

    contexts = generate_contexts(rlgrade_rng, 3)
    field = rlgrade_rng.choice(["period", "unit", "previous"])
    del contexts[rlgrade_rng.randrange(3)][field]
    broken = write_contexts(submission, f"broken_{word(rlgrade_rng, 2)}.json", contexts)
    result = submission.run_cli([*base, "--env.contexts_path", broken])
    assert result.returncode != 0, f"process accepted a context without {field!r}"
    _no_traceback(result)
    assert field in result.stderr, f"the error should name the field {field!r}:\n{result.stderr[-2000:]}"
    assert broken in result.stderr, f"the error should name the file {broken}:\n{result.stderr[-2000:]}"
    assert not (submission.workdir / target).exists(), "a rejected run should not write rollouts"
