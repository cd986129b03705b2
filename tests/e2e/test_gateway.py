"""`make dev`'s gateway: starts what the environment does not give, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from stateway_testing.gateway import start_gateway


def descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_starts_its_own_servers_and_stops_them_all(tmp_path: Path, signum: int) -> None:
    env = {name: "" for name in ("REDIS_URL", "MONGODB_URI", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")}
    env["STATEWAY_JWT_SECRET"] = "a-test-secret-that-is-long-enough-for-hs256"
    url, process = start_gateway(tmp_path, env)
    children = descendants(process.pid)
    assert len(children) >= 2, "expected a Redis and a MongoDB-protocol server"
    health = requests.get(f"{url}/api/health", timeout=5)
    assert health.json() == {"cache": "ok", "store": "ok", "snapshots": "ok"}
    # The gateway prints its URL once its own health check answered, which may be just after ours.
    deadline = time.monotonic() + 15
    while (
        "Stateway API: " + url not in (tmp_path / "gateway.log").read_text() and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert "Stateway API: " + url in (tmp_path / "gateway.log").read_text()

    process.send_signal(signum)
    assert process.wait(timeout=30) == 0
    assert [pid for pid in children if alive(pid)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/api/health", timeout=2)
