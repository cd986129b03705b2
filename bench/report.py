"""Timing samples, Markdown tables and target lines."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Summary:
    median_us: float
    p99_us: float
    samples: int


def summarize(samples_ns: Sequence[int]) -> Summary:
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return Summary(statistics.median(ordered) / 1000, p99 / 1000, len(ordered))


def time_calls(call: Callable[[], Any], count: int) -> list[int]:
    """``count`` wall-clock durations of ``call()``, in nanoseconds, one at a time."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(count):
        start = clock()
        call()
        samples.append(clock() - start)
    return samples


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; numbers right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").removesuffix("x").removesuffix("%"))
    except ValueError:
        return False
    return True


@dataclass
class Targets:
    """The pass/fail lines, printed together at the end."""

    lines: list[tuple[bool, str]] = field(default_factory=list)

    def check(self, ok: bool, text: str) -> bool:
        self.lines.append((ok, text))
        return ok

    def render(self) -> str:
        return "\n".join(f"{'PASS' if ok else 'MISS'}  {text}" for ok, text in self.lines)


def heading(title: str) -> str:
    return f"\n## {title}\n"
