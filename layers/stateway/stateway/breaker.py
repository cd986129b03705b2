"""A circuit breaker: a warm process stops waiting on a cache that does not answer.

A hung cache (it accepts connections and never answers) costs every command
its full timeout: a session read waited out the read and then the refill,
about 2 x ``STATEWAY_REDIS_TIMEOUT_MS``, for as long as the cache hung. The
breaker counts consecutive outages; after ``failures`` of them it **opens**:
for ``cooldown`` seconds every cache command fails at once as an outage (so
it is served around, as any outage is) without touching the network. Then one
caller **probes** with a short timeout (never the full one): if the cache
answers, the breaker **closes** and commands flow again; if not, it stays
open for another ``cooldown``. An answer that is an error (a bug) is an answer:
it never opens the breaker.

Opening and closing are logged (WARNING, INFO) and counted
(``cache_breaker_open``, ``cache_breaker_closed``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from stateway.errors import CacheUnavailable
from stateway.metrics import Metrics

logger = logging.getLogger("stateway.breaker")


class CircuitBreaker:
    def __init__(
        self,
        probe: Callable[[], None],
        metrics: Metrics,
        *,
        failures: int = 2,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._metrics = metrics
        self._failures = failures
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        self._consecutive = 0
        self._retry_at: float | None = None  # None: closed

    @property
    def is_open(self) -> bool:
        return self._retry_at is not None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one cache command through the breaker; raises CacheUnavailable while it is open."""
        self._admit()
        try:
            yield
        except CacheUnavailable:
            self._failed()
            raise
        self._answered()

    def _admit(self) -> None:
        retry_at = self._retry_at
        if retry_at is None:
            return
        if self._clock() < retry_at or not self._probing.acquire(blocking=False):
            raise CacheUnavailable("The cache is not answering; it is skipped for now.")
        try:
            self._probe()
        except CacheUnavailable as exc:
            with self._lock:
                self._retry_at = self._clock() + self._cooldown
            raise CacheUnavailable("The cache is still not answering.") from exc
        finally:
            self._probing.release()
        self._answered()

    def _failed(self) -> None:
        with self._lock:
            self._consecutive += 1
            opened = self._retry_at is None and self._consecutive >= self._failures
            if opened or self._retry_at is not None:
                self._retry_at = self._clock() + self._cooldown
        if opened:
            logger.warning(
                "cache breaker open after %d outages in a row; cache skipped for %.1f s at a time",
                self._consecutive,
                self._cooldown,
            )
            self._metrics.incr("cache_breaker_open")

    def _answered(self) -> None:
        with self._lock:
            closed = self._retry_at is not None
            self._consecutive = 0
            self._retry_at = None
        if closed:
            logger.info("cache breaker closed: the cache answers again")
            self._metrics.incr("cache_breaker_closed")
