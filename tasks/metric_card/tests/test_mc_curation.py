"""Curation: training examples and their quality threshold, the deduplicated and split dataset, and
the score distribution with its histogram, on generated rollouts files."""

from __future__ import annotations

import json
import random
import re

from metric_card_support import (
    SCORES,
    bin_of,
    close,
    decode_png,
    generated_groups,
    png_problems,
    read_json,
    read_jsonl,
    training_examples,
    word,
    write_jsonl,
)

from pytest_rlgrade import SubmissionRaised

TRAINING, HIGH_QUALITY = "metric_training.jsonl", "metric_training_high_quality.jsonl"


def _thresholded_scores(rng, threshold):
    """Overall scores on the threshold exactly (the first two outputs, which hold cards), just
    below and just above it, and anywhere."""
    near = [threshold, threshold, max(0.0, threshold - 1e-6), min(1.0, threshold + 1e-6), 1.0, 0.0]
    return near + [rng.random() for _ in range(40)]


def test_training_examples_and_the_quality_threshold(submission, rlgrade_rng):
    threshold = rlgrade_rng.choice([0.5, 0.75, 0.8, 0.95])
    groups = generated_groups(rlgrade_rng, _thresholded_scores(rlgrade_rng, threshold))
    rollouts = write_jsonl(submission, f"runs_{word(rlgrade_rng, 2)}/metric_rollouts.jsonl", groups)
    expected = training_examples(groups)
    assert any(e["score"] == threshold for e in expected), "the generated file must hold a score on the threshold"
    extract = submission.module("metric_card.extract_metric_training")

    folder = f"curated_{word(rlgrade_rng, 2)}/{word(rlgrade_rng, 2)}"  # a folder in a new folder
    counts = extract.extract_training(rollouts, folder, threshold)
    high = [e for e in expected if e["score"] >= threshold]
    assert read_jsonl(submission, f"{folder}/{TRAINING}") == expected, (
        f"{TRAINING} should hold one chat example per rollout whose output holds a JSON object, in file order"
    )
    got_high = read_jsonl(submission, f"{folder}/{HIGH_QUALITY}")
    assert got_high == high, (
        f"{HIGH_QUALITY} holds {len(got_high)} examples, expected the {len(high)} scoring at least {threshold}"
    )
    assert counts == {"examples": len(expected), "high_quality": len(high)}, f"extract_training returned {counts!r}"

    counts = extract.extract_training(rollouts)
    beside = rollouts.rsplit("/", 1)[0]
    default_high = [e for e in expected if e["score"] >= 0.9]
    assert read_jsonl(submission, f"{beside}/{HIGH_QUALITY}") == default_high, (
        "by default the files go beside the rollouts and the threshold is 0.9"
    )
    assert counts == {"examples": len(expected), "high_quality": len(default_high)}

    for bound in (0.0, 1.0):  # both ends of [0, 1] are thresholds
        counts = extract.extract_training(rollouts, f"bound_{bound}", bound)
        high = [e for e in expected if e["score"] >= bound]
        assert read_jsonl(submission, f"bound_{bound}/{HIGH_QUALITY}") == high, f"threshold {bound}"
        assert counts == {"examples": len(expected), "high_quality": len(high)}, f"threshold {bound}: {counts!r}"

    # blank lines between the groups: skipped, or refused naming the file, but never the end of the data
    lines = [json.dumps(g, ensure_ascii=False) for g in groups]
    for _ in range(2):
        lines.insert(rlgrade_rng.randint(1, len(lines) - 1), rlgrade_rng.choice(["", "  ", "\t"]))
    spaced = f"spaced_{word(rlgrade_rng, 2)}.jsonl"
    (submission.workdir / spaced).write_text("\n".join(lines) + "\n", encoding="utf-8")
    refused = None
    try:
        counts = extract.extract_training(spaced, "spaced_out", threshold)
    except SubmissionRaised as exc:
        refused = exc
    if refused is not None:
        assert refused.is_a("ValueError"), f"a file with blank lines: {refused}"
        assert spaced in refused.message, f"the error should name the file: {refused.message!r}"
    else:
        assert read_jsonl(submission, f"spaced_out/{TRAINING}") == expected, "the groups after a blank line were lost"
        assert counts == {"examples": len(expected), "high_quality": sum(e["score"] >= threshold for e in expected)}


def test_training_extraction_rejects_bad_input(submission, rlgrade_rng):
    extract = submission.module("metric_card.extract_metric_training")
    groups = generated_groups(rlgrade_rng)
    rollouts = write_jsonl(submission, f"in_{word(rlgrade_rng, 2)}.jsonl", groups)
    for threshold in (1.0 + rlgrade_rng.random() + 0.01, -rlgrade_rng.random() - 0.01):
        with submission.raises("ValueError", match="threshold"):
            extract.extract_training(rollouts, "out", threshold)
    missing = f"nothing_{word(rlgrade_rng)}.jsonl"
    with submission.raises("ValueError", match=re.escape(missing)):
        extract.extract_training(missing, "out")
    lines = [json.dumps(g) for g in groups]
    bad_line = rlgrade_rng.randint(2, len(lines) + 1)
    lines.insert(bad_line - 1, '{"context_id": "x", "messages": [')
    broken = f"broken_{word(rlgrade_rng, 2)}.jsonl"
    (submission.workdir / broken).write_text("\n".join(lines) + "\n")
    with submission.raises("ValueError", match=re.escape(broken)) as info:
        extract.extract_training(broken, "out")
    assert str(bad_line) in info.value.message, f"the error should name line {bad_line}: {info.value.message!r}"
    # a file that is not UTF-8 (a Latin-1 byte in one of its lines)
    lines = [json.dumps(g).encode() for g in groups]
    latin_line = rlgrade_rng.randrange(len(lines))
    lines[latin_line] = (json.dumps(groups[latin_line])[:-1] + ', "note": "caf\u00e9"}').encode("latin-1")
    latin = f"latin_{word(rlgrade_rng, 2)}.jsonl"
    (submission.workdir / latin).write_bytes(b"\n".join(lines) + b"\n")
    with submission.raises("ValueError", match=re.escape(latin)):
        extract.extract_training(latin, "out")

    # lines that are JSON but not scored groups
    faults = ("score not a number", "empty conversation", "no text", "a breakdown short", "a breakdown extra", "no key")
    for fault in faults:
        lines = [json.dumps(g) for g in groups]
        bad_line = rlgrade_rng.randint(1, len(lines))
        group = json.loads(lines[bad_line - 1])
        if fault == "score not a number":
            group["breakdown"][-1][rlgrade_rng.choice(SCORES)] = rlgrade_rng.choice(["high", None, True])
        elif fault == "empty conversation":
            group["messages"][rlgrade_rng.randrange(len(group["messages"]))] = []
        elif fault == "no text":  # an output that is not a string
            output = group["messages"][rlgrade_rng.randrange(len(group["messages"]))][-1]
            output["content"] = rlgrade_rng.choice([None, 7, ["text"]])
        elif fault == "a breakdown short":
            group["breakdown"].pop(rlgrade_rng.randrange(len(group["breakdown"])))
        elif fault == "a breakdown extra":
            group["breakdown"].append(dict(group["breakdown"][0]))
        else:
            del group[rlgrade_rng.choice(["context_id", "messages", "breakdown"])]
        lines[bad_line - 1] = json.dumps(group)
        unscored = f"unscored_{word(rlgrade_rng, 2)}.jsonl"
        (submission.workdir / unscored).write_text("\n".join(lines) + "\n")
        with submission.raises("ValueError", match=re.escape(unscored)) as info:
            extract.extract_training(unscored, "out")
        assert str(bad_line) in info.value.message, (
            f"the error ({fault}) should name line {bad_line}: {info.value.message!r}"
        )


def test_extraction_command_line(submission, rlgrade_rng):
    groups = generated_groups(rlgrade_rng)
    write_jsonl(submission, "artifacts/metric_rollouts.jsonl", groups)
    threshold = rlgrade_rng.choice(["0.3", "0.6"])
    result = submission.run_cli(
        ["artifacts/metric_rollouts.jsonl", "--output-dir", "cli_out", "--threshold", threshold],
        module="metric_card.extract_metric_training",
    )
    assert result.returncode == 0, f"extract_metric_training exited with {result.returncode}:\n{result.stderr[-2000:]}"
    expected = training_examples(groups)
    assert read_jsonl(submission, f"cli_out/{TRAINING}") == expected
    assert read_jsonl(submission, f"cli_out/{HIGH_QUALITY}") == [e for e in expected if e["score"] >= float(threshold)]

    # a rollouts file that does not exist, an output folder that is a file: a message, no traceback
    missing = f"nothing_{word(rlgrade_rng)}.jsonl"
    result = submission.run_cli([missing], module="metric_card.extract_metric_training")
    _failed_cleanly(result, "extract_metric_training on a file that does not exist", missing)
    result = submission.run_cli(
        ["artifacts/metric_rollouts.jsonl", "--output-dir", "artifacts/metric_rollouts.jsonl"],
        module="metric_card.extract_metric_training",
    )
    _failed_cleanly(result, "extract_metric_training with an output folder that is a file")


def _failed_cleanly(result, what, named=None):
    assert result.returncode != 0, f"{what} succeeded"
    assert "Traceback" not in result.stderr + result.stdout, f"{what} crashed:\n{result.stderr[-2000:]}"
    if named is not None:
        assert named in result.stderr, f"{what}: the error should name {named}:\n{result.stderr[-2000:]}"


# -- the training dataset ---------------------------------------------------------------------------


def _examples(rng, count):
    examples = []
    for _ in range(count):
        examples.append(
            {
                "messages": [
                    {"role": "system", "content": "Write metric cards."},
                    {"role": "user", "content": f"<context>{word(rng)}</context>"},
                    {"role": "assistant", "content": json.dumps({"title": word(rng), "n": rng.randint(0, 99)})},
                ],
                "score": round(rng.random(), 3),
                "context_id": word(rng, 2),
            }
        )
    return examples


def _inputs_with_duplicates(rng):
    """Two or three example files; some examples repeat (within and across files, some with another
    score: the conversation is what makes a duplicate; the last file starts with a repeat whose
    messages have their keys in another order)."""
    pool = _examples(rng, rng.randint(14, 24))
    used, files, rows = [], [], []
    count = rng.randint(2, 3)
    for number in range(count):
        chosen = []
        for slot in range(rng.randint(5, 9)):
            forced = number == count - 1 and slot == 0
            if used and (forced or not pool or rng.random() < 0.3):
                example = rng.choice(used)
                if forced:  # the same messages, their keys written in another order
                    messages = [dict(reversed(list(m.items()))) for m in example["messages"]]
                    chosen.append(dict(example, messages=messages))
                else:
                    chosen.append(dict(example, score=round(rng.random(), 3)) if rng.random() < 0.5 else example)
            else:
                used.append(pool.pop())
                chosen.append(used[-1])
        files.append((f"collected_{number}.jsonl", chosen))
        rows.extend(chosen)
    return files, rows


def kept_in_order(rows):
    """``rows`` without the ones whose messages repeat an earlier row's."""
    kept, seen = [], set()
    for row in rows:
        key = json.dumps(row["messages"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def test_training_dataset_is_deduplicated_and_split(submission, rlgrade_rng):
    files, rows = _inputs_with_duplicates(rlgrade_rng)
    paths = [write_jsonl(submission, f"in/{name}", chosen) for name, chosen in files]
    seed, fraction = rlgrade_rng.randrange(1000), rlgrade_rng.choice([0.1, 0.2, 0.25, 0.5])
    kept = kept_in_order(rows)
    assert len(kept) < len(rows), "the generated inputs must hold duplicates"
    random.Random(seed).shuffle(kept)
    cut = round(len(kept) * fraction)
    script = submission.module("metric_card.trainingDataScript")
    folder = f"sets/{word(rlgrade_rng, 2)}"  # in a new folder
    info = script.build_dataset(paths, folder, fraction, seed)
    want = {
        "examples": len(rows),
        "duplicates": len(rows) - len(kept),
        "train": len(kept) - cut,
        "validation": cut,
        "seed": seed,
        "val_fraction": fraction,
    }
    assert info == want, f"build_dataset returned {info!r}, expected {want!r}"
    assert read_json(submission, f"{folder}/dataset_info.json") == want
    assert read_jsonl(submission, f"{folder}/validation.jsonl") == kept[:cut], "validation.jsonl"
    assert read_jsonl(submission, f"{folder}/train.jsonl") == kept[cut:], "train.jsonl"

    # 0 is allowed: no validation split; into a folder that exists already (the inputs')
    info = script.build_dataset(paths, "in", 0.0, seed)
    assert (info.get("train"), info.get("validation")) == (len(kept), 0), f"val_fraction 0: {info!r}"
    assert read_jsonl(submission, "in/train.jsonl") == kept, "val_fraction 0 puts every example in train"

    info = script.build_dataset(paths, "default")
    assert (info.get("seed"), info.get("val_fraction")) == (0, 0.1), f"the defaults are seed 0 and 0.1: {info!r}"
    unique = kept_in_order(rows)
    random.Random(0).shuffle(unique)
    cut = round(len(unique) * 0.1)
    assert read_jsonl(submission, "default/validation.jsonl") == unique[:cut], "validation.jsonl with the defaults"


def test_training_dataset_rejects_bad_input(submission, rlgrade_rng):
    script = submission.module("metric_card.trainingDataScript")
    good = write_jsonl(submission, "good.jsonl", _examples(rlgrade_rng, 4))
    for fraction in (1.0, -0.1, 1.5):
        with submission.raises("ValueError", match="val_fraction"):
            script.build_dataset([good], "ds", fraction, 0)
    for fault in ("user last", "no messages", "empty messages", "no content", "bad role", "not a message"):
        examples = _examples(rlgrade_rng, 5)
        bad = rlgrade_rng.randrange(5)
        if fault == "user last":
            examples[bad]["messages"] = examples[bad]["messages"][:2]
        elif fault == "no messages":
            del examples[bad]["messages"]
        elif fault == "empty messages":
            examples[bad]["messages"] = []
        elif fault == "no content":
            del examples[bad]["messages"][1]["content"]
        elif fault == "bad role":
            examples[bad]["messages"][0]["role"] = rlgrade_rng.choice(["robot", "System", ""])
        else:
            examples[bad]["messages"][1] = word(rlgrade_rng)
        broken = write_jsonl(submission, f"broken_{word(rlgrade_rng, 2)}.jsonl", examples)
        with submission.raises("ValueError", match=re.escape(broken)) as info:
            script.build_dataset([good, broken], "ds", 0.1, 0)
        assert f"{bad + 1}" in info.value.message, (
            f"the error ({fault}) should name line {bad + 1}: {info.value.message!r}"
        )


def test_training_dataset_command_line(submission, rlgrade_rng):
    files, rows = _inputs_with_duplicates(rlgrade_rng)
    paths = [write_jsonl(submission, f"in/{name}", chosen) for name, chosen in files]
    result = submission.run_cli(paths, module="metric_card.trainingDataScript")
    assert result.returncode != 0, "trainingDataScript needs --output-dir"
    assert "Traceback" not in result.stderr, f"the command crashed:\n{result.stderr[-2000:]}"
    result = submission.run_cli([*paths, "--output-dir", "ds"], module="metric_card.trainingDataScript")
    assert result.returncode == 0, f"trainingDataScript exited with {result.returncode}:\n{result.stderr[-2000:]}"
    info = read_json(submission, "ds/dataset_info.json")
    train, validation = read_jsonl(submission, "ds/train.jsonl"), read_jsonl(submission, "ds/validation.jsonl")
    kept = kept_in_order(rows)
    random.Random(0).shuffle(kept)
    cut = round(len(kept) * 0.1)
    assert (validation, train) == (kept[:cut], kept[cut:]), "the command's defaults are seed 0 and 0.1"
    assert (info.get("train"), info.get("validation")) == (len(train), len(validation)), f"dataset_info {info!r}"

    # an input that does not exist, an output folder that is a file: a message, no traceback
    missing = f"in/nothing_{word(rlgrade_rng)}.jsonl"
    result = submission.run_cli([*paths, missing, "--output-dir", "ds2"], module="metric_card.trainingDataScript")
    _failed_cleanly(result, "trainingDataScript with an input that does not exist", missing)
    result = submission.run_cli([*paths, "--output-dir", paths[0]], module="metric_card.trainingDataScript")
    _failed_cleanly(result, "trainingDataScript with an output folder that is a file")


# -- the distribution ---------------------------------------------------------------------------------


def _distribution_groups(rng, bins):
    """Scores on bin edges (0, k/bins, 1) and between them, for every dimension."""
    groups = generated_groups(rng)
    edges = [k / bins for k in range(bins + 1)]
    for group in groups:
        for breakdown in group["breakdown"]:
            for key in SCORES:
                breakdown[key] = rng.choice([*edges, rng.random(), rng.random()])
    first = groups[0]["breakdown"]
    for key in SCORES:
        first[0][key], first[1][key] = 0.0, 1.0
    return groups


def _expected_distribution(groups, bins):
    expected = {}
    for key in SCORES:
        values = [b[key] for g in groups for b in g["breakdown"]]
        counts = [0] * bins
        for value in values:
            counts[bin_of(value, bins)] += 1
        expected[key] = {"counts": counts, "mean": sum(values) / len(values), "min": min(values), "max": max(values)}
    return expected


def test_score_distribution_counts(submission, rlgrade_rng):
    bins = rlgrade_rng.choice([4, 5, 8, 10, 20])
    groups = _distribution_groups(rlgrade_rng, bins)
    rollouts = write_jsonl(submission, "runs/metric_rollouts.jsonl", groups)
    expected = _expected_distribution(groups, bins)
    module = submission.module("metric_card.show_score_distribution")
    got = module.score_distribution(rollouts, bins)
    assert isinstance(got, dict), f"score_distribution should return a dict, got {got!r:.200}"
    assert list(got) == list(SCORES), f"the keys should be {list(SCORES)}, got {list(got)}"
    for key, want in expected.items():
        data = got[key]
        assert data.get("counts") == want["counts"], f"{key}: counts {data.get('counts')}, expected {want['counts']}"
        for stat in ("mean", "min", "max"):
            assert close(data.get(stat), want[stat]), f"{key}: {stat} {data.get(stat)!r}, expected {want[stat]}"
    default = module.score_distribution(rollouts)
    assert [len(default[k]["counts"]) for k in SCORES] == [10] * len(SCORES), "the default is 10 bins"
    one = module.score_distribution(rollouts, 1)
    count = sum(len(g["breakdown"]) for g in groups)
    assert [one[k].get("counts") for k in SCORES] == [[count]] * len(SCORES), "one bin holds every score"


def test_distribution_command_prints_and_draws(submission, rlgrade_rng):
    bins = rlgrade_rng.choice([4, 5, 10])
    groups = _distribution_groups(rlgrade_rng, bins)
    write_jsonl(submission, "artifacts/metric_rollouts.jsonl", groups)
    expected = _expected_distribution(groups, bins)
    image = f"plots/{word(rlgrade_rng, 2)}/{word(rlgrade_rng, 2)}.png"  # in a new folder's new folder
    result = submission.run_cli(
        ["artifacts/metric_rollouts.jsonl", "--bins", str(bins), "--output", image],
        module="metric_card.show_score_distribution",
    )
    assert result.returncode == 0, f"show_score_distribution exited with {result.returncode}:\n{result.stderr[-2000:]}"
    lines = result.stdout.splitlines()
    row = re.compile(r"^\s*\[(\d+\.\d\d), (\d+\.\d\d)([)\]])\s+(\d+)")
    for key in SCORES:
        starts = [i for i, line in enumerate(lines) if line.strip().startswith(key)]
        assert starts, f"no line starts with {key!r}:\n{result.stdout[:1500]}"
        rows = [row.match(line) for line in lines[starts[0] + 1 : starts[0] + 1 + bins]]
        assert all(rows), f"{key}: expected {bins} lines '[lo, hi) COUNT' after its name:\n{result.stdout[:1500]}"
        shown = [(m.group(1), m.group(2), m.group(3), int(m.group(4))) for m in rows]
        want = [
            (f"{i / bins:.2f}", f"{(i + 1) / bins:.2f}", "]" if i == bins - 1 else ")", count)
            for i, count in enumerate(expected[key]["counts"])
        ]
        assert shown == want, f"{key}: printed bins {shown}, expected {want}"
    problems = png_problems(submission.read_bytes(image))
    assert not problems, f"{image}: {problems}"

    result = submission.run_cli(["artifacts/metric_rollouts.jsonl"], module="metric_card.show_score_distribution")
    assert result.returncode == 0, f"show_score_distribution exited with {result.returncode}:\n{result.stderr[-2000:]}"
    shown = [line for line in result.stdout.splitlines() if row.match(line)]
    assert len(shown) == 10 * len(SCORES), f"by default each dimension has 10 bins:\n{result.stdout[:1500]}"
    default = "artifacts/metric_rollouts_scores.png"
    assert (submission.workdir / default).is_file(), f"without --output the histogram goes to {default}"
    assert not png_problems(submission.read_bytes(default)), f"{default} is not a valid PNG histogram"

    # other data, the same bins: the histograms differ (only the overall scores, the last of the
    # histograms, change: the first rollout's 1.0 becomes 0.0, so the image must show them too)
    def redraw(name):
        """The histogram of ``groups`` as they are now, drawn into ``<image>_<name>.png``: its pixels."""
        write_jsonl(submission, f"{name}/metric_rollouts.jsonl", groups)
        drawn = image.replace(".png", f"_{name}.png")
        result = submission.run_cli(
            [f"{name}/metric_rollouts.jsonl", "--bins", str(bins), "--output", drawn],
            module="metric_card.show_score_distribution",
        )
        assert result.returncode == 0, (
            f"show_score_distribution exited with {result.returncode}:\n{result.stderr[-2000:]}"
        )
        problems, pixels = decode_png(submission.read_bytes(drawn))
        assert not problems, f"{drawn}: {problems}"
        return pixels

    for group in groups:
        for breakdown in group["breakdown"]:
            breakdown["overall"] = 0.0
    zeros = redraw("zeros")
    assert zeros != decode_png(submission.read_bytes(image))[1], "histograms of different scores should look different"
    # a few of those zeros moved to the third bin: the first bin is still the tallest, yet the
    # image must show the third bin's count apart from it
    rollouts = [b for g in groups for b in g["breakdown"]]
    for breakdown in rlgrade_rng.sample(rollouts, 3):
        breakdown["overall"] = 2.5 / bins
    shown = redraw("moved")
    assert shown != zeros, "a histogram with three scores moved to another bin should look different"

    missing = f"nothing_{word(rlgrade_rng)}.jsonl"
    result = submission.run_cli([missing], module="metric_card.show_score_distribution")
    assert result.returncode != 0, "show_score_distribution succeeded on a file that does not exist"
    assert "Traceback" not in result.stderr, f"the command crashed:\n{result.stderr[-2000:]}"
    assert missing in result.stderr, f"the error should name the file:\n{result.stderr[-2000:]}"
    bad = str(-rlgrade_rng.randint(0, 3))
    result = submission.run_cli(
        ["artifacts/metric_rollouts.jsonl", "--bins", bad], module="metric_card.show_score_distribution"
    )
    _failed_cleanly(result, f"show_score_distribution --bins {bad}")
