"""``rlgrade html``: loading reports and folders, the batch summary, escaping of what submissions
control, and the page itself in a real headless Chromium (Debian's ``chromium`` driven by
Playwright; skipped only where that browser is not installed)."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import html as page
from pytest_rlgrade import report as reports
from pytest_rlgrade.cli import main as rlgrade
from pytest_rlgrade.report import (
    Counts,
    MetricResult,
    Report,
    SandboxInfo,
    TaskReport,
    validate_report_data,
    write_report,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = (
    '</pre></td></tr></table><script>window.__pwned = "script"</script>'
    '<img src="x" onerror="window.__pwned = \'img\'">'
    "\x1b[31mred\x1b[0m \u202eevil\u202c"
)
TESTS = ["tests/test_a.py::test_one", "tests/test_a.py::test_two", "tests/test_b.py::test_gate"]


def make_report(
    submission: str,
    outcomes: list[str],
    reward: float | None,
    *,
    flags: list[str] | None = None,
    message: str = "assert 1 == 2",
    metric: float | None = 0.5,
    node_ids: list[str] = TESTS,
) -> Report:
    tests = [
        reports.TestResult(
            node_id=node,
            outcome=outcome,  # type: ignore[arg-type]
            weight=1.0,
            gate=node.endswith("gate"),
            duration=0.01,
            message=None if outcome == "passed" else message,
        )
        for node, outcome in zip(node_ids, outcomes, strict=True)
    ]
    passed = outcomes.count("passed")
    task = TaskReport(
        name="toy",
        reward=reward,
        flags=flags or [],  # type: ignore[arg-type]
        error=None if reward is not None else "the sandbox could not start",
        counts=Counts(total=len(tests), passed=passed, failed=len(tests) - passed, missing=outcomes.count("missing")),
        duration=0.5,
        tests=tests,
        metrics=[
            MetricResult(
                name="accuracy",
                value=metric,
                target=1.0,
                baseline=0.0,
                direction="higher",
                weight=1.0,
                credit=0.0 if metric is None else metric,
            )
        ],
    )
    return Report(
        submission=submission,
        submission_path=f"/rollouts/{submission}",
        seed=7,
        reward=reward,
        exit_status=0 if reward is not None else 3,
        duration=1.0,
        sandbox=SandboxInfo(isolation="sandbox", confinement=["rlimits"]),
        tasks=[task],
    )


BATCH = [
    ("r1", ["passed", "passed", "passed"], 1.0, []),
    ("r2", ["passed", "failed", "passed"], 0.6667, []),
    ("r3", ["failed", "timeout", "passed"], 0.3333, ["timeout"]),
    ("r4", ["failed", "failed", "failed"], 0.0, ["crash", "tamper"]),
    ("r5", ["missing", "missing", "missing"], None, ["infra_error"]),
]


@pytest.fixture
def batch_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "batch"
    for name, outcomes, reward, flags in BATCH:
        write_report(make_report(name, outcomes, reward, flags=flags), folder / f"{name}.json")
    return folder


# ------------------------------------------------------------------------------ pure functions


def test_histogram_bins_hold_their_lower_edge_and_the_last_holds_one() -> None:
    counts = page.histogram([0.0, 0.049, 0.05, 0.5, 0.999, 1.0], bins=20)
    assert len(counts) == 20
    assert counts[0] == 2
    assert counts[1] == 1
    assert counts[10] == 1
    assert counts[19] == 2
    assert sum(counts) == 6


def test_summary_of_a_batch(batch_dir: Path) -> None:
    summary = page.summarize(page.load_rollouts([batch_dir]))
    assert len(summary.rollouts) == 5
    assert summary.ungraded == 1
    assert summary.mean == pytest.approx(statistics.fmean([1.0, 0.6667, 0.3333, 0.0]))
    assert summary.flags == {"timeout": 1, "crash": 1, "tamper": 1, "infra_error": 1}
    rates = {t.node_id: (t.passed, t.runs) for t in summary.tests}
    assert rates == {TESTS[0]: (2, 5), TESTS[1]: (1, 5), TESTS[2]: (3, 5)}
    gate = next(t for t in summary.tests if t.node_id == TESTS[2])
    assert gate.gate
    assert gate.outcomes == {"passed": 3, "failed": 1, "missing": 1}
    (metric,) = summary.metrics
    assert metric.values == [0.5] * 5


def test_escaping_makes_markup_and_controls_inert() -> None:
    text = page.esc(HOSTILE + "\x00\ud800")
    assert "<" not in text
    assert ">" not in text
    assert '"' not in text
    assert "\x1b" not in text
    assert "\\x1b[31m" in text
    assert "\u202e" not in text
    assert "\\u202e" in text
    assert "\\x00" in text
    assert "\\ud800" in text
    text.encode("utf-8")  # nothing left that cannot be written


def test_page_has_no_markup_from_the_reports_and_no_external_resources(tmp_path: Path) -> None:
    hostile = make_report(HOSTILE, ["failed", "passed", "passed"], 0.5, message=HOSTILE)
    text = page.render(page.summarize([page.Rollout(HOSTILE, hostile.model_dump(mode="json"))]))
    assert "__pwned" in text  # the message is on the page ...
    assert "<script>window" not in text  # ... as text only
    assert "<img" not in text
    assert len(re.findall(r"<script\b", text)) == 1
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text)
    assert "default-src 'none'" in text


def test_long_messages_are_cut_with_a_note() -> None:
    report = make_report("long", ["failed", "passed", "passed"], 0.5, message="x" * 5000)
    text = page.render(page.summarize([page.Rollout("long.json", report.model_dump(mode="json"))]), max_message=100)
    assert "x" * 100 in text
    assert "x" * 101 not in text
    assert "4900 more characters not shown" in text


# --------------------------------------------------------------------------------------- inputs


def test_folder_with_batch_jsonl_follows_its_order_and_keeps_rollouts_without_report(batch_dir: Path) -> None:
    lines = [
        {"path": "/rollouts/r3", "reward": 0.3333, "flags": ["timeout"]},
        {"path": "/rollouts/r1", "reward": 1.0, "flags": []},
        {"path": "/rollouts/lost", "reward": None, "flags": ["infra_error"]},
    ]
    (batch_dir / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    rollouts = page.load_rollouts([batch_dir])
    assert [r.submission for r in rollouts] == ["r3", "r1", "/rollouts/lost", "r2", "r4", "r5"]
    lost = rollouts[2]
    assert lost.report is None
    assert lost.flags == ["infra_error"]
    assert lost.reward is None
    # Given directly, batch.jsonl means its folder.
    assert [r.source for r in page.load_rollouts([batch_dir / "batch.jsonl"])] == [r.source for r in rollouts]


def test_folder_the_batch_cli_wrote_is_in_submission_order(batch_dir: Path) -> None:
    # As `pytest --rlgrade-report-dir` writes it: a line per grading as it finishes, with its index.
    lines = [
        {"index": 2, "submission": "/rollouts/r3", "report": "r3.json", "reward": 0.3333, "flags": ["timeout"]},
        {"index": 0, "submission": "/rollouts/r1", "report": "r1.json", "reward": 1.0, "flags": []},
        {"index": 1, "submission": "/rollouts/r2", "report": "r2.json", "reward": 0.6667, "flags": []},
    ]
    (batch_dir / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    rollouts = page.load_rollouts([batch_dir])
    assert [r.source for r in rollouts] == ["r1.json", "r2.json", "r3.json", "r4.json", "r5.json"]


def test_batch_line_may_name_its_report_file(batch_dir: Path) -> None:
    (batch_dir / "batch.jsonl").write_text(json.dumps({"path": "/elsewhere", "report": "r4.json"}) + "\n")
    assert page.load_rollouts([batch_dir])[0].submission == "r4"


def _bad_inputs(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    (tmp_path / "not_json.json").write_text("{oops")
    yield tmp_path / "not_json.json", "not a report: invalid JSON at line 1 column 2"
    (tmp_path / "other.json").write_text(json.dumps({"hello": "world"}))
    yield tmp_path / "other.json", "not a report: top level: 'submission' is a required property"
    data = make_report("x", ["passed"] * 3, 1.0).model_dump(mode="json")
    data["tasks"][0]["tests"][1]["outcome"] = "great"
    (tmp_path / "bad_outcome.json").write_text(json.dumps(data))
    yield tmp_path / "bad_outcome.json", "not a report: tasks/0/tests/1/outcome: 'great' is not one of"
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    yield tmp_path / "binary.json", "not a report: not UTF-8 text"
    (tmp_path / "dangling.json").symlink_to(tmp_path / "nowhere")
    yield tmp_path / "dangling.json", "cannot read it: No such file or directory"
    yield tmp_path / "absent.json", "no such file or folder"
    (tmp_path / "empty").mkdir()
    yield tmp_path / "empty", "no reports here"
    (tmp_path / "lines").mkdir()
    (tmp_path / "lines" / "batch.jsonl").write_text('{"path": "a"}\n[1, 2]\n')
    yield tmp_path / "lines", "batch.jsonl:2: not a JSON object"


def test_each_bad_input_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "page.html"
    for path, expected in _bad_inputs(tmp_path):
        assert rlgrade(["html", str(path), "-o", str(out)]) == page.USAGE_ERROR, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith(f"rlgrade html: error: {path}"), err
        assert expected in err, err
        assert "Traceback" not in err
        assert not out.exists()


def test_a_bad_report_in_a_folder_is_named(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (batch_dir / "zz_notes.json").write_text("[]")
    assert rlgrade(["html", str(batch_dir), "-o", str(batch_dir / "page.html")]) == page.USAGE_ERROR
    assert f"{batch_dir / 'zz_notes.json'}: not a report" in capsys.readouterr().err


def test_reports_with_keys_added_by_hooks_are_read(tmp_path: Path) -> None:
    data = make_report("hooked", ["passed"] * 3, 1.0).model_dump(mode="json")
    data["trainer_step"] = 12
    data["tasks"][0]["instance"] = "problem-3"
    data["tasks"][0]["reason"] = "no package <pkg> in the submission"
    validate_report_data(data)
    (tmp_path / "hooked.json").write_text(json.dumps(data))
    text = page.render(page.summarize(page.load_rollouts([tmp_path / "hooked.json"])))
    assert "instance <code>problem-3</code>" in text
    assert '<p class="error reason">no package &lt;pkg&gt; in the submission</p>' in text


def test_cli_writes_the_page_and_says_what_it_holds(batch_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = batch_dir.parent / "site" / "index.html"
    assert rlgrade(["html", str(batch_dir), "-o", str(out), "--title", "step <12>"]) == 0
    assert capsys.readouterr().out == f"rlgrade html: 5 rollouts, mean reward 0.5000, 1 not graded: {out}\n"
    text = out.read_text()
    assert "<title>step &lt;12&gt;</title>" in text
    assert not list(out.parent.glob(".*.tmp"))


# ------------------------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def text(self, selector: str) -> str:
        return str(self.page.text_content(selector)).strip()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    opened: list[Opened] = []

    def open_(path: Path) -> Opened:
        opened.append(Opened(browser, path))
        return opened[-1]

    yield open_
    for o in opened:
        o.page.close()


def test_page_in_chromium_shows_the_numbers_of_the_reports(batch_dir: Path, open_page: Any) -> None:
    out = batch_dir.parent / "page.html"
    assert rlgrade(["html", str(batch_dir), "-o", str(out)]) == 0
    shown = open_page(out)
    assert shown.text("#stat-rollouts") == "5"
    assert shown.text("#stat-graded") == "4"
    assert shown.text("#stat-ungraded") == "1"
    assert shown.text("#stat-mean") == "0.5000"
    assert shown.text("#stat-median") == "0.5000"
    assert shown.text("#stat-max") == "1.0000"
    bins = shown.page.eval_on_selector_all(
        "#histogram g.bin", "gs => gs.map(g => [g.dataset.low, Number(g.dataset.count)])"
    )
    assert dict(bins) == {**{f"{i / 20:.2f}": 0 for i in range(20)}, "0.00": 1, "0.30": 1, "0.65": 1, "0.95": 1}
    rows = shown.page.eval_on_selector_all(
        "#tests tbody tr", "rs => rs.map(r => [r.dataset.node, r.cells[3].textContent, r.cells[4].textContent.trim()])"
    )
    assert rows == [[TESTS[0], "2/5", "40.0%"], [TESTS[1], "1/5", "20.0%"], [TESTS[2], "3/5", "60.0%"]]
    flags = shown.page.eval_on_selector_all(
        "#flags tr[data-flag]", "rs => rs.map(r => [r.dataset.flag, r.cells[1].textContent])"
    )
    assert sorted(flags) == [["crash", "1"], ["infra_error", "1"], ["tamper", "1"], ["timeout", "1"]]

    # Drill down: a rollout's tests and messages appear when it is opened.
    message = shown.page.locator("#rollout-3 pre.message").first
    assert not message.is_visible()
    shown.page.click("#rollout-3 > summary")
    assert message.is_visible()
    assert message.text_content() == "assert 1 == 2"
    assert shown.page.locator("#rollout-3 td.outcome").all_text_contents() == ["failed", "timeout", "passed"]
    # Only failing tests: the passed row of the opened rollout disappears.
    shown.page.check("#failing-only")
    assert shown.page.locator("#rollout-3 tr.test:visible").count() == 2
    # Filter by flag and sort by reward.
    shown.page.fill("#filter", "tamper")
    assert shown.text("#shown") == "1 of 5 shown"
    shown.page.fill("#filter", "")
    shown.page.click("#sort-reward")
    order = shown.page.eval_on_selector_all("details.rollout .reward", "es => es.map(e => e.textContent)")
    assert order == ["n/a", "0.0000", "0.3333", "0.6667", "1.0000"]
    shown.page.click("#tests th:nth-child(5)")
    first = shown.page.eval_on_selector("#tests tbody tr", "r => r.dataset.node")
    assert first == TESTS[1]

    assert shown.problems == []
    assert shown.requests == [shown.url]


def test_hostile_messages_do_not_execute_in_chromium(tmp_path: Path, open_page: Any) -> None:
    report = make_report(HOSTILE, ["failed", "error", "passed"], 0.25, message=HOSTILE, node_ids=[*TESTS[:2], HOSTILE])
    write_report(report, tmp_path / "hostile.json")
    out = tmp_path / "page.html"
    assert rlgrade(["html", str(tmp_path / "hostile.json"), "-o", str(out), "--title", HOSTILE]) == 0
    shown = open_page(out)
    shown.page.click("#rollout-1 > summary")
    assert shown.page.evaluate("typeof window.__pwned") == "undefined"
    assert shown.page.locator("img").count() == 0
    assert shown.page.locator("script").count() == 1
    text = shown.page.locator("#rollout-1 pre.message").first.text_content()
    assert text is not None
    assert text.startswith('</pre></td></tr></table><script>window.__pwned = "script"</script>')
    assert "\\x1b[31mred" in text
    assert shown.page.title().startswith("</pre>")
    assert shown.problems == []
    assert shown.requests == [shown.url]


@pytest.mark.slow
def test_page_of_a_real_batch_in_chromium(tmp_path: Path, open_page: Any) -> None:
    folder = tmp_path / "reports"
    command = [sys.executable, "-m", "pytest", "--submission=reference", "--submission=starter"]
    command += ["--task=metric_tracker", f"--rlgrade-report-dir={folder}", "-p", "no:cacheprovider", "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert (folder / "batch.jsonl").is_file(), done.stdout + done.stderr
    rows = sorted(
        (json.loads(line) for line in (folder / "batch.jsonl").read_text().splitlines()), key=lambda r: r["index"]
    )
    rewards = [row["reward"] for row in rows]
    assert rewards[0] == 1.0
    assert rewards[1] < 0.1
    out = tmp_path / "page.html"
    assert rlgrade(["html", str(folder), "-o", str(out)]) == 0
    shown = open_page(out)
    assert shown.text("#stat-rollouts") == "2"
    assert shown.text("#stat-mean") == f"{statistics.fmean(rewards):.4f}"
    assert shown.page.locator("details.rollout .reward").all_text_contents() == [f"{r:.4f}" for r in rewards]
    assert shown.page.locator("details.rollout .sub").all_text_contents() == ["reference", "starter"]
    shown.page.click("#rollout-2 > summary")
    assert "NotImplementedError" in shown.page.locator("#rollout-2").inner_text()
    assert shown.problems == []
