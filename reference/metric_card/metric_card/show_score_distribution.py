"""The distribution of scores per dimension in a rollouts file: printed, and drawn as a PNG.

``python -m metric_card.show_score_distribution ROLLOUTS [--bins N] [--output FILE.png]``
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metric_card.rollouts import RolloutsError, read_groups, rollouts
from metric_card.scoring import DIMENSIONS

SCORES = (*DIMENSIONS, "overall")
_BACKGROUND = (255, 255, 255)  # pragma: no mutate
_AXIS = (55, 65, 81)  # pragma: no mutate
_BARS = [(37, 99, 235), (22, 163, 74), (245, 158, 11), (219, 39, 119), (17, 24, 39)]  # pragma: no mutate


def distribution(values: Sequence[float], bins: int) -> dict[str, Any]:
    """``{"counts": [...], "mean", "min", "max"}`` of scores in [0, 1]: bin ``min(floor(s·bins), bins−1)``."""
    counts = [0] * bins
    for value in values:
        counts[min(max(int(value * bins), 0), bins - 1)] += 1
    return {
        "counts": counts,
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }


def score_distribution(rollouts_path: str | Path, bins: int = 10) -> dict[str, dict[str, Any]]:
    """The distribution of each dimension and of the overall score, from the file's breakdowns."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:  # noqa: E501  # pragma: no mutate (how a bool or non-int fails is open)
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    found = [r["breakdown"] for r in rollouts(read_groups(rollouts_path))]
    if not found:
        raise RolloutsError(f"{rollouts_path}: no rollouts")
    return {name: distribution([float(b[name]) for b in found], bins) for name in SCORES}


def format_distribution(dist: dict[str, dict[str, Any]]) -> str:
    """The text report: per dimension a header line, then one line per bin with its count."""
    lines = []
    for name, data in dist.items():
        counts = data["counts"]
        lines.append(f"{name}: n={sum(counts)} mean={data['mean']:.3f} min={data['min']:.3f} max={data['max']:.3f}")
        bins = len(counts)
        for i, count in enumerate(counts):
            close = "]" if i == bins - 1 else ")"  # pragma: no mutate
            lines.append(f"  [{i / bins:.2f}, {(i + 1) / bins:.2f}{close} {count:5d} {'#' * count}")
    return "\n".join(lines)


def _png(width: int, height: int, pixels: bytearray) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(pixels[y * width * 3 : (y + 1) * width * 3]) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(rows, 9)  # pragma: no mutate (compression)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def write_histogram(dist: dict[str, dict[str, Any]], path: str | Path) -> Path:
    """Draw one histogram panel per dimension, stacked, into a PNG file at ``path``.

    The task fixes what the image shows, not how it looks: its geometry is not mutated."""
    bins = len(next(iter(dist.values()))["counts"])
    bar, gap, panel_height, margin = 24, 6, 110, 12  # pragma: no mutate
    width = margin * 2 + bins * (bar + gap)
    height = margin + len(dist) * (panel_height + margin)
    pixels = bytearray(_BACKGROUND * (width * height))

    def fill(x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        span = min(width, x1) - max(0, x0)  # pragma: no mutate
        for y in range(max(0, y0), min(height, y1)):  # pragma: no mutate
            start = (y * width + max(0, x0)) * 3  # pragma: no mutate
            pixels[start : start + 3 * span] = bytes(color) * span  # pragma: no mutate

    for number, data in enumerate(dist.values()):
        top = margin + number * (panel_height + margin)  # pragma: no mutate
        base = top + panel_height  # pragma: no mutate
        fill(margin, base, width - margin, base + 2, _AXIS)  # pragma: no mutate (the axis line's looks)
        peak = max(data["counts"])  # at least 1: every panel counts every rollout
        for i, count in enumerate(data["counts"]):
            tall = round((panel_height - 4) * count / peak)  # pragma: no mutate
            x = margin + i * (bar + gap) + gap // 2  # pragma: no mutate
            fill(x, base - tall, x + bar, base, _BARS[number % len(_BARS)])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_png(width, height, pixels))
    return target


def default_image(rollouts_path: str | Path) -> Path:
    """``metric_rollouts_scores.png`` beside ``metric_rollouts.jsonl``."""
    path = Path(rollouts_path)
    return path.with_name(f"{path.stem}_scores.png")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="show_score_distribution", description=__doc__.splitlines()[0])  # noqa: E501  # pragma: no mutate
    parser.add_argument("rollouts")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    try:
        dist = score_distribution(args.rollouts, args.bins)
        image = write_histogram(dist, args.output or default_image(args.rollouts))
    except (ValueError, OSError) as exc:  # a RolloutsError is a ValueError
        print(f"show_score_distribution: {exc}", file=sys.stderr)
        return 2  # pragma: no mutate (any failing status)
    print(format_distribution(dist))
    print(f"histogram: {image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
