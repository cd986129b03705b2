"""One function's process, driven from outside: started, awaited, invoked, stopped.

The frames are :mod:`stateway_runtime.worker`'s. The interpreter is the caller's
choice (the gateway's own; under LocalStack, the function's runtime), and the
worker module is found through ``PYTHONPATH``, as the Lambda Python runtime
finds its own bootstrap in ``LAMBDA_RUNTIME_DIR``.
"""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

#: The folder that holds this package: what a function's process needs on PYTHONPATH.
RUNTIME_DIR = Path(__file__).resolve().parent.parent


class FunctionProcess:
    """A warm process of one function; one invocation at a time."""

    def __init__(
        self,
        python: str,
        code_dir: Path | str,
        handler: str,
        environment: Mapping[str, str],
        *,
        stderr: IO[bytes] | int | None = None,
    ) -> None:
        env = dict(environment)
        paths = [str(RUNTIME_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        self.process = subprocess.Popen(
            [python, "-m", "stateway_runtime.worker", str(code_dir), handler],
            env=env,
            cwd=str(code_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin
        self._out = self.process.stdout.fileno()
        self.init_error: str | None = None

    def wait_ready(self, timeout: float) -> str | None:
        """Until the handler is imported; the type of its import error, or None."""
        frame = self._read(timeout)
        self.init_error = frame.get("error")
        return self.init_error

    def invoke(self, event: Any, timeout: float) -> dict[str, Any]:
        """``{"ok": result}`` or ``{"error": type, "init": bool}``.

        Raises TimeoutError when no answer comes within ``timeout`` seconds, EOFError
        when the process has exited.
        """
        data = json.dumps(event, separators=(",", ":")).encode()
        self._in.write(struct.pack(">I", len(data)) + data)
        self._in.flush()
        reply: dict[str, Any] = self._read(timeout)
        return reply

    def _read(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        (length,) = struct.unpack(">I", self._exactly(4, deadline))
        return json.loads(self._exactly(length, deadline))

    def _exactly(self, count: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._out], [], [], remaining)[0]:
                raise TimeoutError("the function did not answer in time")
            chunk = os.read(self._out, count)
            if not chunk:
                raise EOFError("the function's process exited")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        self.process.kill()
        self.stop()

    def stop(self) -> None:
        """Close its input (a worker exits then); kill it if it does not exit in 5 s."""
        try:
            self._in.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
