"""Counters for degraded paths (cache write failures, failed snapshots, ...).

Each increment is also logged as one structured line, so CloudWatch metric
filters (or a local reader) can count them; ``get()`` serves tests.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

logger = logging.getLogger("stateway.metrics")


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount
        logger.info("metric %s +%d", name, amount, extra={"metric": name, "value": amount})

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]


#: The process-wide counters.
METRICS = Metrics()
