"""A clock for the services that a test moves forward: real time plus an offset."""

from __future__ import annotations

from datetime import datetime, timedelta

from stateway.clock import utcnow
from stateway.config import Settings


class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def cross_the_window(self, settings: Settings) -> None:
        """Past the time a cached entry answers alone (``STATEWAY_CACHE_VERIFY_SECONDS``)."""
        self.offset += timedelta(seconds=settings.cache_verify_seconds + 1)
