"""What a function writes to its log, read from the local gateway's log as CloudWatch would get it.

Each request leaves JSON lines (Powertools' Logger) that carry API Gateway's request id (the
client's ``X-Request-Id``), Lambda's request id, the function and its operation and
``cold_start``; and one embedded-metric-format line (Powertools' metrics) with what it counted,
a cache hit or miss among them. No line holds the token, a state document or the store's URI.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from stateway_testing.gateway import log_records


def emf_lines(log_path: Path, offset: int) -> list[dict[str, Any]]:
    with open(log_path, errors="replace") as log:
        log.seek(offset)
        return [json.loads(line) for line in log if line.startswith('{"_aws"')]


def read_after(log_path: Path, offset: int, check: Any) -> Any:
    """The records once ``check`` finds what it wants (the worker's lines arrive a moment later)."""
    deadline = time.monotonic() + 10
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_request_logs_json_with_its_ids_and_one_metrics_line(gateway: Any) -> None:
    log_path: Path = gateway.log_path
    client_id, marker = f"logs{uuid.uuid4().hex[:8]}", f"secret-state-{uuid.uuid4().hex}"
    api = gateway.session("alice", client_id)
    ids = {"client_id": client_id, "user_id": "alice", "app_id": "web", "project_id": "p1"}
    sid = f"session:{client_id}:alice:web:p1"
    assert api.post(f"{gateway.url}/api/session/init", json=ids, timeout=10).status_code == 200
    api.patch(
        f"{gateway.url}/api/session/update",
        json={"session_id": sid, "key": "note", "value": marker},
        timeout=10,
    )

    offset = log_path.stat().st_size
    response = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid}, timeout=10)
    assert response.status_code == 200 and response.json()["source"] == "cache"
    request_id = response.headers["X-Request-Id"]

    mine = read_after(
        log_path,
        offset,
        lambda: [r for r in log_records(log_path, offset) if r.get("request_id") == request_id],
    )
    assert mine, "no JSON log line carries the request id"
    line = mine[-1]
    assert (line["level"], line["message"], line["status"]) == ("INFO", "answered 200", 200)
    assert (line["operation"], line["service"]) == ("session_state", "session_state")
    assert isinstance(line["cold_start"], bool) and line["function_name"] and line["function_request_id"]
    assert line["duration_ms"] >= 0

    metrics = read_after(
        log_path,
        offset,
        lambda: [m for m in emf_lines(log_path, offset) if m.get("service") == "session_state"],
    )
    assert metrics, "no embedded-metric-format line"
    emf = metrics[-1]
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Stateway"
    assert sorted(directive["Dimensions"][0]) == ["service", "stage"]
    assert emf["cache_hit"] == [1.0] and "cache_miss" not in emf
    assert all(value >= 0 for value in emf["cache_ms"])

    # Nothing secret or personal anywhere in what this session's requests logged.
    text = log_path.read_text(errors="replace")[offset:]
    token = api.headers["Authorization"].split()[1]
    assert token not in text and marker not in text
    assert gateway.mongo.uri not in text and "mongodb://" not in text


def test_a_cache_miss_is_counted_as_one(gateway: Any, redis_url: str) -> None:
    import redis as redis_py

    log_path: Path = gateway.log_path
    client_id = f"miss{uuid.uuid4().hex[:8]}"
    api = gateway.session("bob", client_id)
    ids = {"client_id": client_id, "user_id": "bob", "app_id": "web", "project_id": "p1"}
    sid = f"session:{client_id}:bob:web:p1"
    api.post(f"{gateway.url}/api/session/init", json=ids, timeout=10)
    redis_py.Redis.from_url(redis_url).delete(sid)
    offset = log_path.stat().st_size
    response = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid}, timeout=10)
    assert response.json()["source"] == "store"
    metrics = read_after(
        log_path,
        offset,
        lambda: [m for m in emf_lines(log_path, offset) if m.get("service") == "session_state"],
    )
    assert metrics and metrics[-1]["cache_miss"] == [1.0] and "cache_hit" not in metrics[-1]
    assert metrics[-1]["store_ms"]
