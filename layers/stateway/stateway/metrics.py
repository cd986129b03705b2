"""Counters and timings, published by Powertools for AWS Lambda as CloudWatch embedded metrics.

Every name is counted in the process (``get()``, for tests and health) and added
to a Powertools metric set (``aws_lambda_powertools`` ``EphemeralMetrics``:
namespace ``Stateway``, dimensions ``service``, the function's operation, and
``stage``), which :meth:`Metrics.flush` prints once per invocation as one
embedded-metric-format line: CloudWatch turns it into metrics, and a local run
shows it in the gateway's log.

Names: ``<tier>_<action>_<kind>`` (:mod:`stateway.tiered`), and with them the
aggregates the template's alarms read, ``cache_bug`` (any ``cache_*_bug``) and
``snapshot_failure`` (any ``snapshot_*_unavailable``); ``cache_hit`` and
``cache_miss``; ``cache_breaker_open`` and ``cache_breaker_closed``;
``store_unavailable`` (a request answered 503 for the store); ``conflict`` (a
412); ``defaults_built`` (a session created from defaults); ``snapshot_rebuild``
(a project state rebuilt from its newest snapshot); and the time spent per tier
in milliseconds, ``cache_ms``, ``store_ms``, ``snapshot_ms`` (one value per
command).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NAMESPACE = "Stateway"
#: A name that matches (prefix, suffix) is also counted under the aggregate.
AGGREGATES = (("cache_", "_bug", "cache_bug"), ("snapshot_", "_unavailable", "snapshot_failure"))


#: Values of one timing kept per invocation (EMF takes at most 100 per metric and line).
MAX_VALUES = 100


class Metrics:
    """Recording is a dict update (it runs on every cache command); Powertools runs at flush."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._dimensions: dict[str, str] = {}
        self._emf: Any = None
        self._pending_counts: Counter[str] = Counter()
        self._pending_ms: dict[str, list[float]] = {}

    def configure(self, *, service: str, stage: str) -> None:
        """The dimensions of what is published from now on (the function, the stage)."""
        with self._lock:
            if self._dimensions != {"service": service, "stage": stage}:
                self._dimensions = {"service": service, "stage": stage}
                self._emf = None

    def incr(self, name: str, amount: int = 1) -> None:
        names = [name] + [total for prefix, suffix, total in AGGREGATES if _matches(name, prefix, suffix)]
        with self._lock:
            for each in names:
                self._counts[each] += amount
                self._pending_counts[each] += amount

    def record_ms(self, name: str, milliseconds: float) -> None:
        with self._lock:
            values = self._pending_ms.setdefault(name, [])
            if len(values) < MAX_VALUES:
                values.append(round(milliseconds, 3))

    @contextmanager
    def timed(self, tier: str) -> Iterator[None]:
        """The time the block takes, as ``<tier>_ms``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.record_ms(f"{tier}_ms", (time.perf_counter() - started) * 1000)

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def flush(self) -> None:
        """Print what this invocation recorded as one embedded-metric-format line (nothing if nothing)."""
        with self._lock:
            counts, self._pending_counts = self._pending_counts, Counter()
            timings, self._pending_ms = self._pending_ms, {}
            if not counts and not timings:
                return
            emf = self._publisher()
            for name, total in counts.items():
                emf.add_metric(name=name, unit="Count", value=total)
            for name, values in timings.items():
                for value in values:
                    emf.add_metric(name=name, unit="Milliseconds", value=value)
            # A 100th value of one name makes Powertools print the line itself; print only the rest.
            if emf.metric_set:
                emf.flush_metrics()

    def _publisher(self) -> Any:
        if self._emf is None:
            from aws_lambda_powertools.metrics import EphemeralMetrics

            self._emf = EphemeralMetrics(namespace=NAMESPACE, service=self._dimensions.get("service"))
            if "stage" in self._dimensions:
                self._emf.set_default_dimensions(stage=self._dimensions["stage"])
        return self._emf


def _matches(name: str, prefix: str, suffix: str) -> bool:
    return name.startswith(prefix) and name.endswith(suffix) and name != prefix.rstrip("_") + suffix


#: The process-wide metrics.
METRICS = Metrics()
