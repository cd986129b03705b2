"""Over HTTP on a real 3-master Redis Cluster (ElastiCache Serverless's shape), looked at node by node."""

from __future__ import annotations

from typing import Any

import requests

from stateway.tiers.redis_cache import decode_entry
from stateway_testing.clients import redis_client


def on_each_master(cluster: Any, keys: list[str]) -> dict[int, list[str]]:
    owners: dict[int, list[str]] = {}
    for key in keys:
        owners.setdefault(cluster.node_for_key(key), []).append(key)
    return owners


def test_sessions_on_every_master_are_served_by_the_cache_and_end_all_clears_every_master(
    cluster_gateway: Any, uid: str
) -> None:
    cluster = cluster_gateway.cluster
    client_id, user = f"acme-{uid}", "alice"
    api = cluster_gateway.session(user, client_id)
    url = cluster_gateway.url
    session_ids = []
    for i in range(12):
        body = {"client_id": client_id, "user_id": user, "app_id": "web", "project_id": f"p{i}"}
        init = api.post(f"{url}/api/session/init", json=body, timeout=10)
        assert init.status_code == 200, init.text
        session_ids.append(init.json()["session_id"])
    owners = on_each_master(cluster, session_ids)
    assert sorted(owners) == [0, 1, 2]
    for sid in session_ids:
        update = api.patch(
            f"{url}/api/session/update", json={"session_id": sid, "key": "k", "value": 1}, timeout=10
        )
        assert update.status_code == 200 and update.json()["version"] == 2
        first = api.get(f"{url}/api/session/state", params={"session_id": sid}, timeout=10).json()
        second = api.get(f"{url}/api/session/state", params={"session_id": sid}, timeout=10).json()
        assert (first["source"], second["source"], second["version"]) == ("cache", "cache", 2)

    nodes = [redis_client(f"redis://127.0.0.1:{port}/0") for port in cluster.ports]
    try:
        for index, keys in owners.items():
            assert all(decode_entry(nodes[index].get(k)).version == 2 for k in keys)
        ended = api.delete(
            f"{url}/api/session/end", params={"client_id": client_id, "all": "true"}, timeout=10
        )
        assert ended.status_code == 204
        for index, keys in owners.items():
            assert [nodes[index].exists(k) for k in keys] == [0] * len(keys)
        namespace = f"namespace:{client_id}:{user}"
        assert nodes[cluster.node_for_key(namespace)].exists(namespace) == 0
    finally:
        for node in nodes:
            node.close()
    listed = api.get(f"{url}/api/session/list", params={"client_id": client_id}, timeout=10).json()
    assert listed["sessions"] == []


def test_health_on_the_cluster_writes_reads_and_deletes_a_key(cluster_gateway: Any) -> None:
    response = requests.get(f"{cluster_gateway.url}/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"cache": "ok", "store": "ok", "snapshots": "ok"}
    nodes = [redis_client(f"redis://127.0.0.1:{port}/0") for port in cluster_gateway.cluster.ports]
    try:
        # Nothing is left behind by the check.
        assert [list(n.scan_iter("health:*")) for n in nodes] == [[], [], []]
    finally:
        for node in nodes:
            node.close()
