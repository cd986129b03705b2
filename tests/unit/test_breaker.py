"""The cache's circuit breaker, on a clock of the test's own."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from stateway.breaker import CircuitBreaker
from stateway.errors import CacheBug, CacheUnavailable
from stateway.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Probe:
    def __init__(self) -> None:
        self.calls = 0
        self.answers = False

    def __call__(self) -> None:
        self.calls += 1
        if not self.answers:
            raise CacheUnavailable("still hung")


def build(failures: int = 2, cooldown: float = 1.0) -> tuple[CircuitBreaker, Clock, Probe, Metrics]:
    clock, probe, metrics = Clock(), Probe(), Metrics()
    return (
        CircuitBreaker(probe, metrics, failures=failures, cooldown=cooldown, clock=clock),
        clock,
        probe,
        metrics,
    )


def run(breaker: CircuitBreaker, command: Callable[[], None]) -> str:
    """What one cache command came to: "ran", "outage" (it ran and failed) or "skipped"."""
    ran = []
    try:
        with breaker.guard():
            ran.append(True)
            command()
    except CacheUnavailable:
        return "outage" if ran else "skipped"
    return "ran"


def hang() -> None:
    raise CacheUnavailable("timed out")


def answer() -> None:
    return None


def test_it_opens_after_the_given_outages_in_a_row_and_then_skips_the_cache() -> None:
    breaker, _, probe, metrics = build(failures=2)
    assert run(breaker, hang) == "outage"
    assert not breaker.is_open
    assert run(breaker, hang) == "outage"
    assert breaker.is_open
    assert [run(breaker, answer) for _ in range(5)] == ["skipped"] * 5
    assert probe.calls == 0
    assert metrics.get("cache_breaker_open") == 1


def test_an_answer_between_outages_starts_the_count_again() -> None:
    breaker, *_ = build(failures=2)
    for _ in range(5):
        assert run(breaker, hang) == "outage"
        assert run(breaker, answer) == "ran"
    assert not breaker.is_open


def test_an_error_that_is_a_bug_is_an_answer_and_never_opens_it() -> None:
    breaker, *_ = build(failures=2)

    def bug() -> None:
        raise CacheBug("WRONGTYPE")

    for _ in range(5):
        with pytest.raises(CacheBug), breaker.guard():
            bug()
    assert not breaker.is_open


def test_after_the_cooldown_one_probe_decides_and_a_failed_probe_waits_another_cooldown() -> None:
    breaker, clock, probe, metrics = build(failures=1, cooldown=1.0)
    run(breaker, hang)
    clock.now += 1.0
    assert run(breaker, answer) == "skipped"  # the probe did not answer
    assert probe.calls == 1
    clock.now += 0.5
    assert run(breaker, answer) == "skipped"  # within the new cooldown: no probe
    assert probe.calls == 1
    clock.now += 0.5
    probe.answers = True
    assert run(breaker, answer) == "ran"
    assert probe.calls == 2
    assert not breaker.is_open
    assert (metrics.get("cache_breaker_open"), metrics.get("cache_breaker_closed")) == (1, 1)


def test_a_command_that_fails_right_after_the_probe_opens_it_again() -> None:
    breaker, clock, probe, _ = build(failures=1, cooldown=1.0)
    run(breaker, hang)
    clock.now += 1.0
    probe.answers = True
    assert run(breaker, hang) == "outage"
    assert breaker.is_open
    assert run(breaker, answer) == "skipped"


def test_only_one_caller_probes_at_a_time() -> None:
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow_probe() -> None:
        calls.append(1)
        started.set()
        release.wait(5)

    clock = Clock()
    breaker = CircuitBreaker(slow_probe, Metrics(), failures=1, cooldown=1.0, clock=clock)
    run(breaker, hang)
    clock.now += 1.0
    outcome: list[str] = []
    prober = threading.Thread(target=lambda: outcome.append(run(breaker, answer)))
    prober.start()
    assert started.wait(5)
    assert run(breaker, answer) == "skipped"  # another caller meanwhile: skipped, no second probe
    release.set()
    prober.join(5)
    assert outcome == ["ran"]
    assert len(calls) == 1
