"""stateway.snapstart: after a SnapStart restore, the process builds every client anew.

The hooks are run as Lambda's runtime runs them: each ``(function, args, kwargs)`` that
``snapshot_restore_py.get_after_restore()`` holds, in order. What a fresh process registers
is checked in a fresh interpreter, so that no other import of the module counts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import snapshot_restore_py

from stateway import config, runtime, snapstart


class Client:
    """Stands for a client the process built (a MongoClient, a Redis client): records its close."""

    def __init__(self, fails: bool = False) -> None:
        self.closed = False
        self.fails = fails

    def close(self) -> None:
        self.closed = True
        if self.fails:
            raise OSError("the socket died with the snapshot")


def run_after_restore_hooks() -> None:
    for function, args, kwargs in snapshot_restore_py.get_after_restore():
        function(*args, **kwargs)


def in_fresh_interpreter(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


@pytest.fixture
def built() -> Iterator[dict[str, Any]]:
    """What the process has built, emptied before and after the test."""
    runtime.clear_caches()
    yield runtime._built
    runtime.clear_caches()


def test_importing_the_module_registers_exactly_one_after_restore_hook() -> None:
    out = in_fresh_interpreter(
        """
        import snapshot_restore_py
        assert snapshot_restore_py.get_after_restore() == []
        from stateway import snapstart
        hooks = snapshot_restore_py.get_after_restore()
        print(len(hooks), hooks[0][0] is snapstart.after_restore, hooks[0][1:], snapstart.REGISTERED)
        print(len(snapshot_restore_py.get_before_snapshot()))
        """
    )
    assert out.splitlines() == ["1 True ((), {}) True", "0"]


def test_the_hook_is_registered_in_this_process() -> None:
    registered = [function for function, _, _ in snapshot_restore_py.get_after_restore()]
    assert snapstart.REGISTERED is True
    assert registered.count(snapstart.after_restore) == 1


def test_after_a_restore_every_client_is_closed_and_forgotten(built: dict[str, Any]) -> None:
    clients = {name: Client() for name in ("mongo_client", "redis_client", "redis_probe")}
    built.update(clients)
    built.update({"cache": object(), "store": object(), "session_service": object()})
    settings = config.get_settings()
    token = runtime._HEALTH_TOKEN

    run_after_restore_hooks()

    assert all(client.closed for client in clients.values())
    assert built == {}
    # The settings are read again, and the health check probes a key of this environment's own.
    assert config.get_settings() is not settings
    assert token != runtime._HEALTH_TOKEN


def test_the_next_request_builds_fresh_clients(
    built: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Client] = []

    def make_redis_client(*args: Any, **kwargs: Any) -> Client:
        made.append(Client())
        return made[-1]

    monkeypatch.setattr("stateway.tiers.redis_cache.make_redis_client", make_redis_client)
    monkeypatch.setenv(config.REDIS_URL, "redis://cache.internal:6379/0")
    config.clear_settings_cache()
    before = runtime.redis_client()

    run_after_restore_hooks()
    after = runtime.redis_client()

    assert made == [before, after]
    assert before.closed and not after.closed


def test_a_client_that_fails_to_close_is_dropped_all_the_same(
    built: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    built.update({"mongo_client": Client(fails=True), "store": object()})
    settings = config.get_settings()

    snapstart.after_restore()

    assert built == {}
    assert config.get_settings() is not settings
    assert "dropped" in caplog.text


def test_without_snapshot_restore_py_the_module_imports_and_registers_nothing() -> None:
    # Outside Lambda the library may be absent: None in sys.modules makes its import fail.
    out = in_fresh_interpreter(
        """
        import sys
        sys.modules["snapshot_restore_py"] = None
        from stateway import snapstart
        print(snapstart.REGISTERED)
        snapstart.after_restore()
        print("ok")
        """
    )
    assert out.splitlines() == ["False", "ok"]
