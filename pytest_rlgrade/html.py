"""``rlgrade html REPORT_OR_DIR... -o FILE``: one self-contained HTML page for a batch of reports.

The page shows a histogram of the rollouts' rewards, each test's pass rate across the rollouts,
the flags, the metrics, and a drill-down to every rollout's tests and failure messages. It needs
nothing but the file itself: CSS, script and the SVG histogram are inline, and a Content Security
Policy forbids every other resource, so the page opens the same offline, from an artifact store
or from a mail attachment.

Everything in a report that a submission controls (failure messages above all, but also names,
paths and keys that hooks added) is written as escaped text, never as markup: messages are
written by the policy being trained, so they are treated as hostile. The one inline script is
allowed by its hash in the page's Content Security Policy, so even markup that slipped through
could not run a script of its own. The script only filters and sorts what is already on the
page; every number is in the HTML itself.

Inputs: report files (as ``pytest --rlgrade-report`` or the Python API write them) and folders
holding them, such as the one ``--rlgrade-report-dir`` fills (its ``batch.jsonl`` gives the order
of the rollouts and names those whose report is missing). A file that is not a report, cannot be
read, or a folder without reports is a one-line error naming it (exit status 4, no page).
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import json
import math
import os
import re
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

USAGE_ERROR = 4
BATCH_FILE = "batch.jsonl"
HISTOGRAM_BINS = 20
DEFAULT_MAX_MESSAGE = 20_000


class InputError(Exception):
    """An input that is not a readable report (or folder of reports); the message names it."""


@dataclass(frozen=True)
class Rollout:
    """One graded submission: where its report came from and the report's data (``None`` when a
    ``batch.jsonl`` line names a submission whose report file is missing)."""

    source: str
    report: dict[str, Any] | None
    batch_line: dict[str, Any] | None = None

    @property
    def submission(self) -> str:
        if self.report is not None:
            return str(self.report.get("submission", "?"))
        line = self.batch_line or {}
        return str(line.get("submission", line.get("path", "?")))

    @property
    def reward(self) -> float | None:
        value = self.report.get("reward") if self.report is not None else (self.batch_line or {}).get("reward")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def flags(self) -> list[str]:
        if self.report is None:
            flags = (self.batch_line or {}).get("flags") or []
            return sorted({str(f) for f in flags}) if isinstance(flags, list) else []
        found: set[str] = set()
        for task in self.report["tasks"]:
            found.update(str(f) for f in task.get("flags", []))
        return sorted(found)


# ---------------------------------------------------------------------------------------- inputs


@functools.cache
def _report_validator() -> Any:
    # One validator for every file: jsonschema.validate() would check the schema itself again on
    # each call, which cost more than reading a batch of 512 reports.
    import jsonschema

    from .report import shipped_schema

    return jsonschema.Draft202012Validator(shipped_schema())


def _read_report(path: Path) -> dict[str, Any]:
    import jsonschema

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a report: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not a report: invalid JSON at line {error.lineno} column {error.colno}") from None
    problem = jsonschema.exceptions.best_match(_report_validator().iter_errors(data))
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "top level"
        reason = problem.message.splitlines()[0][:200]
        raise InputError(f"{path}: not a report: {where}: {reason}")
    assert isinstance(data, dict)
    return data


def _read_batch(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read it: {getattr(error, 'strerror', None) or error}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        rows.append(row)
    return rows


def _batch_report_name(row: dict[str, Any]) -> str | None:
    """The report file a ``batch.jsonl`` line names, whatever the key."""
    for key in ("report", "report_path", "report_file"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _load_folder(folder: Path) -> list[Rollout]:
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        raise InputError(f"{folder}: cannot read it: {error.strerror or error}") from None
    report_files = [
        folder / n for n in names if n.endswith(".json") and not n.startswith(".") and (folder / n).is_file()
    ]
    batch_path = folder / BATCH_FILE
    rows = _read_batch(batch_path) if batch_path.is_file() else []
    # The batch CLI writes a line as each grading finishes, with the submission's "index" in the
    # batch: show them in the order they were given.
    if rows and all(isinstance(row.get("index"), int) and not isinstance(row.get("index"), bool) for row in rows):
        rows.sort(key=lambda row: int(row["index"]))
    if not report_files and not rows:
        raise InputError(f"{folder}: no reports here (no *.json report files, no {BATCH_FILE})")
    reports = {p.resolve(): _read_report(p) for p in report_files}
    by_submission: dict[str, list[Path]] = {}
    for p, data in reports.items():
        for key in ("submission_path", "submission"):
            by_submission.setdefault(str(data.get(key)), []).append(p)

    rollouts: list[Rollout] = []
    used: set[Path] = set()
    for row in rows:
        match: Path | None = None
        named = _batch_report_name(row)
        if named is not None:
            candidate = (folder / named).resolve()
            if candidate in reports:
                match = candidate
        if match is None:
            for key in ("submission_path", "path", "submission"):
                candidates = [p for p in by_submission.get(str(row.get(key)), []) if p not in used]
                if row.get(key) is not None and candidates:
                    match = candidates[0]
                    break
        if match is not None and match not in used:
            used.add(match)
            rollouts.append(Rollout(str(match.relative_to(folder.resolve())), reports[match], row))
        else:
            rollouts.append(Rollout(f"{batch_path.name} line {len(rollouts) + 1}", None, row))
    for p in reports:
        if p not in used:
            rollouts.append(Rollout(str(p.relative_to(folder.resolve())), reports[p]))
    return rollouts


def load_rollouts(paths: Iterable[str | os.PathLike[str]]) -> list[Rollout]:
    """Every rollout of the given report files and folders, in the order given (a folder's in the
    order of its ``batch.jsonl``, else by file name). Raises :class:`InputError` naming the first
    bad input."""
    rollouts: list[Rollout] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            rollouts.extend(_load_folder(path))
        elif path.name.endswith(".jsonl"):
            rows = _read_batch(path)
            if not rows:
                raise InputError(f"{path}: empty: no rollouts in it")
            if path.name == BATCH_FILE:  # the folder the batch CLI filled: its reports beside it
                rollouts.extend(_load_folder(path.parent))
            else:
                rollouts.extend(Rollout(f"{path} line {i}", None, row) for i, row in enumerate(rows, 1))
        elif path.exists() or path.is_symlink():
            rollouts.append(Rollout(str(path), _read_report(path)))
        else:
            raise InputError(f"{path}: no such file or folder")
    return rollouts


# -------------------------------------------------------------------------------------- summary


@dataclass
class TestStats:
    task: str
    node_id: str
    weight: float
    gate: bool
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def runs(self) -> int:
        return sum(self.outcomes.values())

    @property
    def passed(self) -> int:
        return self.outcomes["passed"]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class MetricStats:
    task: str
    name: str
    target: float
    direction: str
    values: list[float] = field(default_factory=list)
    credits: list[float] = field(default_factory=list)
    unrecorded: int = 0


@dataclass
class BatchSummary:
    """What the page shows about the batch as a whole: a pure function of the rollouts."""

    rollouts: list[Rollout]
    rewards: list[float]
    ungraded: int
    histogram: list[int]
    flags: Counter[str]
    tests: list[TestStats]
    metrics: list[MetricStats]

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.rewards) if self.rewards else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.rewards) if self.rewards else None


def histogram(rewards: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts of rewards in ``bins`` equal bins over [0, 1]; each bin holds its lower edge, the
    last one 1.0 as well."""
    counts = [0] * bins
    for reward in rewards:
        counts[min(bins - 1, max(0, math.floor(reward * bins)))] += 1
    return counts


def summarize(rollouts: Sequence[Rollout]) -> BatchSummary:
    rewards = [r.reward for r in rollouts if r.reward is not None]
    flags: Counter[str] = Counter()
    tests: dict[tuple[str, str], TestStats] = {}
    metrics: dict[tuple[str, str], MetricStats] = {}
    for rollout in rollouts:
        flags.update(rollout.flags)
        if rollout.report is None:
            continue
        for task in rollout.report["tasks"]:
            for test in task.get("tests", []):
                key = (task["name"], test["node_id"])
                stats = tests.get(key)
                if stats is None:
                    stats = tests[key] = TestStats(
                        task["name"], test["node_id"], test["weight"], test.get("gate", False)
                    )
                stats.outcomes[test["outcome"]] += 1
            for metric in task.get("metrics", []):
                key = (task["name"], metric["name"])
                m = metrics.get(key)
                if m is None:
                    m = metrics[key] = MetricStats(task["name"], metric["name"], metric["target"], metric["direction"])
                if metric["value"] is None:
                    m.unrecorded += 1
                else:
                    m.values.append(float(metric["value"]))
                m.credits.append(float(metric["credit"]))
    return BatchSummary(
        rollouts=list(rollouts),
        rewards=rewards,
        ungraded=len(rollouts) - len(rewards),
        histogram=histogram(rewards),
        flags=flags,
        tests=list(tests.values()),
        metrics=list(metrics.values()),
    )


# ------------------------------------------------------------------------------------ rendering

# Characters that would make escaped text misleading or unwritable: C0/C1 controls (terminal
# escape sequences among them) except tab and newline, bidirectional overrides (a message could
# reorder what the reader sees) and lone surrogates (not encodable as UTF-8). Shown as \xNN/\uNNNN.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _visible(text: str) -> str:
    return _INVISIBLE.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def esc(value: object) -> str:
    """Any value as HTML text, safe in element content and in quoted attribute values."""
    return html.escape(_visible(str(value)), quote=True)


def _reward(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _histogram_svg(summary: BatchSummary) -> str:
    counts = summary.histogram
    bins = len(counts)
    width, height, left, bottom, top = 640, 220, 36, 30, 18
    bar = (width - left - 8) / bins
    peak = max(counts) or 1
    parts = [
        f'<svg id="histogram" class="histogram" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="histogram of {len(summary.rewards)} rewards in {bins} bins" xmlns="http://www.w3.org/2000/svg">'
    ]
    plot = height - bottom - top
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 8}" y2="{height - bottom}" class="axis"/>')
    for i, count in enumerate(counts):
        low, high = i / bins, (i + 1) / bins
        h = plot * count / peak
        x = left + i * bar
        y = height - bottom - h
        closing = "]" if i == bins - 1 else ")"
        parts.append(
            f'<g class="bin" data-low="{low:.2f}" data-high="{high:.2f}" data-count="{count}">'
            f"<title>[{low:.2f}, {high:.2f}{closing}: {count} rollout{'s' if count != 1 else ''}</title>"
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}"/>'
            + (f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" class="count">{count}</text>' if count else "")
            + "</g>"
        )
    for tick in range(0, 11, 2):
        x = left + tick / 10 * (width - left - 8)
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" class="tick">{tick / 10:.1f}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 4}" class="tick peak">{peak}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bar(rate: float) -> str:
    return f'<span class="bar"><span style="width:{100 * rate:.1f}%"></span></span>'


def _flag_list(flags: Iterable[str]) -> str:
    return " ".join(f'<span class="flag flag-{esc(f)}">{esc(f)}</span>' for f in flags) or '<span class="none">-</span>'


def _message(text: str | None, limit: int) -> str:
    if text is None:
        return ""
    shown = text if len(text) <= limit else text[:limit]
    more = f'<span class="cut">… {len(text) - limit} more characters not shown</span>' if len(text) > limit else ""
    return f'<pre class="message">{esc(shown)}</pre>{more}'


def _rollout_details(index: int, rollout: Rollout, limit: int) -> str:
    report = rollout.report
    reward = rollout.reward
    counts = {"passed": 0, "total": 0}
    if report is not None:
        for task in report["tasks"]:
            counts["passed"] += task["counts"]["passed"]
            counts["total"] += task["counts"]["total"]
    head = (
        f'<summary><span class="idx">#{index + 1}</span> <span class="reward">{_reward(reward)}</span> '
        f'<span class="sub">{esc(rollout.submission)}</span> '
        f'<span class="passed">{counts["passed"]}/{counts["total"]} passed</span> {_flag_list(rollout.flags)}</summary>'
    )
    body: list[str] = [f'<p class="meta">report: <code>{esc(rollout.source)}</code>']
    if report is None:
        body.append(" (no report file: the batch line only)</p>")
        return (
            f'<details class="rollout" id="rollout-{index + 1}" data-reward="{"" if reward is None else reward}" '
            f'data-text="{esc(rollout.submission.lower())}">{head}{"".join(body)}</details>'
        )
    body.append(
        f" · seed <code>{esc(report.get('seed'))}</code> · exit status {esc(report.get('exit_status'))}"
        f" · {float(report.get('duration', 0)):.2f} s · isolation {esc(report.get('sandbox', {}).get('isolation'))}"
    )
    if report.get("submission_path"):
        body.append(f" · path <code>{esc(report['submission_path'])}</code>")
    body.append("</p>")
    for task in report["tasks"]:
        task_counts = task["counts"]
        instance = task.get("instance", report.get("instance"))
        body.append(
            f"<h4>task <code>{esc(task['name'])}</code>"
            + (f" instance <code>{esc(instance)}</code>" if instance is not None else "")
            + f": reward {_reward(task['reward'])}, {task_counts['passed']}/{task_counts['total']} passed"
            + (f", {task_counts['missing']} missing" if task_counts.get("missing") else "")
            + f" {_flag_list(task.get('flags', []))}</h4>"
        )
        if task.get("error"):
            body.append(f'<p class="error">not graded: {esc(task["error"])}</p>')
        if task.get("reason"):  # why the submission earned nothing without its tests running
            body.append(f'<p class="error reason">{esc(task["reason"])}</p>')
        if task.get("metrics"):
            body.append(
                '<table class="metrics"><tr><th>metric</th><th>value</th><th>baseline</th><th>target</th>'
                "<th>weight</th><th>credit</th></tr>"
            )
            for m in task["metrics"]:
                value = "-" if m["value"] is None else f"{m['value']:.4g}"
                body.append(
                    f"<tr><td>{esc(m['name'])}</td><td>{value}</td><td>{m['baseline']:.4g}</td>"
                    f"<td>{m['target']:.4g} ({esc(m['direction'])})</td><td>{m['weight']:g}</td>"
                    f"<td>{m['credit']:.2f}</td></tr>"
                )
            body.append("</table>")
        body.append('<table class="tests"><tr><th>test</th><th>outcome</th><th>weight</th><th>time</th></tr>')
        for test in task.get("tests", []):
            outcome = test["outcome"]
            message = _message(test.get("message"), limit)
            body.append(
                f'<tr class="test {"ok" if outcome == "passed" else "bad"}"><td><code>{esc(test["node_id"])}</code>'
                + ('<span class="gate">gate</span>' if test.get("gate") else "")
                + (message if message else "")
                + f'</td><td class="outcome o-{esc(outcome)}">{esc(outcome)}</td><td>{test["weight"]:g}</td>'
                f"<td>{test['duration']:.2f} s</td></tr>"
            )
        body.append("</table>")
    text = rollout.submission + " " + " ".join(rollout.flags)
    return (
        f'<details class="rollout" id="rollout-{index + 1}" data-reward="{"" if reward is None else reward}" '
        f'data-text="{esc(text.lower())}">{head}{"".join(body)}</details>'
    )


def render(
    summary: BatchSummary, *, title: str = "pytest-rlgrade batch report", max_message: int = DEFAULT_MAX_MESSAGE
) -> str:
    """The whole page as one string."""
    rollouts = summary.rollouts
    tasks = sorted({t["name"] for r in rollouts if r.report for t in r.report["tasks"]})
    out: list[str] = []
    stats = [
        ("rollouts", str(len(rollouts)), "rollouts"),
        ("graded", str(len(summary.rewards)), "graded"),
        ("not graded (reward null)", str(summary.ungraded), "ungraded"),
        ("mean reward", _reward(summary.mean), "mean"),
        ("median", _reward(summary.median), "median"),
        ("min", _reward(min(summary.rewards)) if summary.rewards else "n/a", "min"),
        ("max", _reward(max(summary.rewards)) if summary.rewards else "n/a", "max"),
        ("reward 1.0", str(sum(1 for r in summary.rewards if r >= 1.0)), "full"),
    ]
    out.append('<section><h2>Rewards</h2><dl class="stats">')
    for label, value, key in stats:
        out.append(f'<div><dt>{esc(label)}</dt><dd id="stat-{key}">{esc(value)}</dd></div>')
    out.append("</dl>")
    out.append(_histogram_svg(summary))
    if summary.ungraded:
        out.append(
            f'<p class="note">{summary.ungraded} rollout(s) were not graded (harness or task failure, reward null): '
            "they are not in the histogram and are not the submission's fault.</p>"
        )
    out.append("</section>")

    out.append(
        '<section><h2>Flags</h2><table id="flags" class="flags"><tr><th>flag</th><th>rollouts</th><th>share</th></tr>'
    )
    for flag, count in sorted(summary.flags.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append(
            f'<tr data-flag="{esc(flag)}"><td>{_flag_list([flag])}</td><td class="num">{count}</td>'
            f"<td>{_percent(count, len(rollouts))}</td></tr>"
        )
    if not summary.flags:
        out.append('<tr><td colspan="3" class="none">no rollout carries a flag</td></tr>')
    out.append("</table></section>")

    if summary.metrics:
        out.append(
            '<section><h2>Metrics</h2><table id="metrics" class="metrics"><tr><th>task</th><th>metric</th>'
            "<th>mean value</th><th>target</th><th>mean credit</th><th>not recorded</th></tr>"
        )
        for m in summary.metrics:
            mean_value = f"{statistics.fmean(m.values):.4g}" if m.values else "-"
            mean_credit = statistics.fmean(m.credits) if m.credits else 0.0
            out.append(
                f"<tr><td>{esc(m.task)}</td><td>{esc(m.name)}</td><td>{mean_value}</td>"
                f"<td>{m.target:.4g} ({esc(m.direction)})</td><td>{mean_credit:.2f} {_bar(mean_credit)}</td>"
                f"<td>{m.unrecorded}</td></tr>"
            )
        out.append("</table></section>")

    out.append(
        '<section><h2>Tests across rollouts</h2><p class="hint">Pass rate of each test over the rollouts that ran it; '
        "click a column head to sort.</p>"
        '<table id="tests" class="sortable"><thead><tr><th data-sort="text">task</th><th data-sort="text">test</th>'
        '<th data-sort="num">weight</th><th data-sort="num">passed</th><th data-sort="num">pass rate</th>'
        "<th>other outcomes</th></tr></thead><tbody>"
    )
    for t in summary.tests:
        others = ", ".join(f"{esc(o)} {n}" for o, n in sorted(t.outcomes.items()) if o != "passed") or "-"
        out.append(
            f'<tr data-node="{esc(t.node_id)}"><td>{esc(t.task)}</td><td><code>{esc(t.node_id)}</code>'
            + ('<span class="gate">gate</span>' if t.gate else "")
            + f'</td><td class="num" data-value="{t.weight}">{t.weight:g}</td>'
            f'<td class="num" data-value="{t.passed}">{t.passed}/{t.runs}</td>'
            f'<td class="num rate" data-value="{t.pass_rate:.6f}">{_percent(t.passed, t.runs)} {_bar(t.pass_rate)}</td>'
            f"<td>{others}</td></tr>"
        )
    out.append("</tbody></table></section>")

    out.append(
        '<section><h2>Rollouts</h2><p class="controls"><label>filter <input id="filter" type="search" '
        'placeholder="submission or flag"></label> <label><input id="failing-only" type="checkbox"> '
        'only failing tests</label> <button id="sort-reward" type="button">sort by reward</button> '
        '<button id="expand-all" type="button">expand all</button> <button id="collapse-all" type="button">'
        'collapse all</button> <span id="shown"></span></p><div id="rollouts">'
    )
    for index, rollout in enumerate(rollouts):
        out.append(_rollout_details(index, rollout, max_message))
    out.append("</div></section>")

    script = _SCRIPT
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    task_line = ", ".join(tasks) or "-"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>"
        f'<header><h1>{esc(title)}</h1><p class="meta">{len(rollouts)} rollouts · tasks: {esc(task_line)}</p></header>'
        f"<main>{''.join(out)}</main><script>{script}</script></body></html>\n"
    )


def write_page(text: str, path: Path) -> None:
    """Write the page atomically, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="REPORT_OR_DIR", help="report files, or folders holding them")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="where the page goes")
    parser.add_argument("--title", default="pytest-rlgrade batch report", help="the page's title")
    parser.add_argument(
        "--max-message",
        type=int,
        default=DEFAULT_MAX_MESSAGE,
        metavar="CHARS",
        help=f"show at most this many characters of each failure message (default {DEFAULT_MAX_MESSAGE})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        rollouts = load_rollouts(args.inputs)
    except InputError as error:
        print(f"rlgrade html: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    summary = summarize(rollouts)
    try:
        write_page(render(summary, title=args.title, max_message=max(1, args.max_message)), args.output)
    except OSError as error:
        print(f"rlgrade html: error: {args.output}: cannot write it: {error.strerror or error}", file=sys.stderr)
        return USAGE_ERROR
    print(
        f"rlgrade html: {len(rollouts)} rollouts, mean reward {_reward(summary.mean)}"
        f"{f', {summary.ungraded} not graded' if summary.ungraded else ''}: {args.output}"
    )
    return 0


_STYLE = """
:root{--fg:#1d232a;--muted:#5b6673;--line:#d8dee4;--bg:#fff;--ok:#1a7f37;--bad:#cf222e;--accent:#0969da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);
  margin:0 auto;max-width:1200px;padding:0 16px 48px}
h1{font-size:22px;margin:18px 0 2px}h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px;
  margin-top:28px}
h4{font-size:14px;margin:12px 0 6px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.meta,.hint,.note{color:var(--muted);margin:4px 0}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 12px}
.stats div{border:1px solid var(--line);border-radius:6px;padding:6px 12px;min-width:96px}
.stats dt{color:var(--muted);font-size:12px}.stats dd{margin:0;font-size:18px;
  font-variant-numeric:tabular-nums}
.histogram{width:100%;max-width:680px;height:auto;display:block}
.histogram rect{fill:var(--accent)}.histogram .axis{stroke:var(--muted)}
.histogram text{font-size:11px;fill:var(--muted);text-anchor:middle}.histogram .count{fill:var(--fg)}
.histogram .peak{text-anchor:end}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{font-weight:600;background:#f6f8fa}th[data-sort]{cursor:pointer}th[data-sort]:hover{color:var(--accent)}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{display:inline-block;width:80px;height:8px;background:#eaeef2;border-radius:4px;vertical-align:middle;
  margin-left:6px}
.bar span{display:block;height:100%;background:var(--ok);border-radius:4px}
.flag{display:inline-block;padding:0 6px;border-radius:9px;background:#fff1e5;color:#953800;font-size:12px;
  margin-right:2px}
.flag-infra_error,.flag-task_error{background:#ddf4ff;color:#0550ae}
.gate{font-size:11px;margin-left:6px;padding:0 4px;border:1px solid var(--muted);border-radius:3px;
  color:var(--muted)}
.none{color:var(--muted)}
details.rollout{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 10px}
details.rollout>summary{cursor:pointer;font-variant-numeric:tabular-nums}
details.rollout .reward{font-weight:600;display:inline-block;min-width:52px}
details.rollout .idx{color:var(--muted);display:inline-block;min-width:40px}
.passed{color:var(--muted);margin:0 6px}
.outcome{white-space:nowrap}.o-passed{color:var(--ok)}
.test.bad .outcome{color:var(--bad);font-weight:600}
pre.message{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border-left:3px solid var(--bad);
  padding:6px 8px;margin:4px 0;max-height:360px;overflow:auto}
.cut{color:var(--muted);font-size:12px}.error{color:var(--bad)}
.controls input[type=search]{width:240px}
body.failing-only tr.test.ok{display:none}
td code{word-break:break-word}
.wide{overflow-x:auto}
"""

# Filters and sorts what is on the page; it reads the DOM and writes only text and classes, so it
# never turns data into markup.
_SCRIPT = """
(function () {
  "use strict";
  var rollouts = Array.prototype.slice.call(document.querySelectorAll("details.rollout"));
  var shown = document.getElementById("shown");
  function count() {
    var n = rollouts.filter(function (d) { return !d.hidden; }).length;
    shown.textContent = n + " of " + rollouts.length + " shown";
  }
  document.getElementById("filter").addEventListener("input", function (event) {
    var words = event.target.value.toLowerCase().split(/\\s+/).filter(Boolean);
    rollouts.forEach(function (d) {
      var text = d.getAttribute("data-text") || "";
      d.hidden = !words.every(function (w) { return text.indexOf(w) !== -1; });
    });
    count();
  });
  document.getElementById("failing-only").addEventListener("change", function (event) {
    document.body.classList.toggle("failing-only", event.target.checked);
  });
  function setOpen(open) { rollouts.forEach(function (d) { if (!d.hidden) { d.open = open; } }); }
  document.getElementById("expand-all").addEventListener("click", function () { setOpen(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { setOpen(false); });
  var ascending = false;
  document.getElementById("sort-reward").addEventListener("click", function () {
    ascending = !ascending;
    var box = document.getElementById("rollouts");
    rollouts.slice().sort(function (a, b) {
      var x = parseFloat(a.getAttribute("data-reward")), y = parseFloat(b.getAttribute("data-reward"));
      x = isNaN(x) ? -1 : x; y = isNaN(y) ? -1 : y;
      return ascending ? x - y : y - x;
    }).forEach(function (d) { box.appendChild(d); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.querySelectorAll("th");
    Array.prototype.forEach.call(heads, function (th, column) {
      if (!th.hasAttribute("data-sort")) { return; }
      var up = true;
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var numeric = th.getAttribute("data-sort") === "num";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column], y = b.cells[column], r;
          if (numeric) {
            r = parseFloat(x.getAttribute("data-value")) - parseFloat(y.getAttribute("data-value"));
          } else {
            r = x.textContent.localeCompare(y.textContent);
          }
          return up ? r : -r;
        });
        up = !up;
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  count();
})();
"""
