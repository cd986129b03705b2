"""A LocalStack runtime executor that runs each function in a local process, for hosts without Docker.

LocalStack's Lambda runs functions through a runtime executor chosen by
``LAMBDA_RUNTIME_EXECUTOR``; the one it ships starts a Docker container per
execution environment. Where there is no Docker engine (our CI machines), this
plugin (``LAMBDA_RUNTIME_EXECUTOR=stateway-subprocess``, registered under the
``localstack.lambda.runtime_executor`` entry-point namespace by
``infra/runtime/pyproject.toml``) stands in for it: an execution environment is
one :mod:`stateway_runtime.worker` process on the function's unzipped code,
with the environment LocalStack computed for it (credentials, region,
``AWS_ENDPOINT_URL`` pointing at LocalStack, the function's own variables),
run by the interpreter named in ``STATEWAY_LAMBDA_PYTHON`` (a Python 3.12 with
what the Lambda runtime provides, boto3). It is a CI stand-in: no isolation, no
memory limit, no layers under ``/opt``; users with Docker get LocalStack's own
executor and the real runtime image.

This module runs inside LocalStack's process (it imports ``localstack``); the
rest of the package does not need LocalStack.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

from stateway_runtime.process import FunctionProcess

LOG = logging.getLogger(__name__)

#: The interpreter that plays the function's runtime (default: ``python3.12`` on PATH).
PYTHON = "STATEWAY_LAMBDA_PYTHON"
#: Seconds a function's init may take, as Lambda's 10 s init phase (more: a cold CI machine).
INIT_TIMEOUT = 60.0
#: Variables of LocalStack's own process that a function must not inherit.
_OWN = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")


class SubprocessRuntimeExecutor(RuntimeExecutor):  # type: ignore[misc]
    """One execution environment: one worker process of one function version."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._process: FunctionProcess | None = None
        from localstack import config

        # Under LocalStack's own temporary folder, which it cleans on shutdown.
        self._log_path = Path(config.dirs.tmp) / "stateway-lambda" / f"{id}.log"
        self._lock = threading.Lock()

    # Lifecycle -------------------------------------------------------------------

    def start(self, env_vars: dict[str, str]) -> None:
        code_dir = Path(self.function_version.config.code.get_unzipped_code_location())
        handler = env_vars.get("_HANDLER") or self.function_version.config.handler
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            **{name: str(value) for name, value in env_vars.items() if name not in _OWN},
            # The task root is the unzipped code here, not /var/task.
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self._log_path.open("wb")
        try:
            self._process = FunctionProcess(_python(), code_dir, handler, environment, stderr=log)
        finally:
            log.close()
        init_error = self._process.wait_ready(INIT_TIMEOUT)
        if init_error is not None:
            # Lambda reports an init failure on the invocation (Runtime.ImportModuleError and the
            # like); the environment itself is up, as LocalStack's executor would leave it.
            LOG.warning("function %s failed its init: %s", self.function_version.id.function_name, init_error)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()

    # Invocations -----------------------------------------------------------------

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        process = self._process
        if process is None:
            return _error(request_id, "Runtime.ExitError", "The execution environment is not running.", "")
        timeout = float(self.function_version.config.timeout)
        with self._lock:
            offset = self._log_size()
            try:
                reply = process.invoke(json.loads(payload["payload"]), timeout)
            except TimeoutError:
                process.kill()
                self._process = None
                return _error(
                    request_id,
                    "Sandbox.Timedout",
                    f"Task timed out after {timeout:.2f} seconds",
                    self._logs(offset),
                )
            except (EOFError, OSError, ValueError):
                self._process = None
                return _error(
                    request_id, "Runtime.ExitError", "The function's process exited.", self._logs(offset)
                )
            logs = self._logs(offset)
        if "ok" in reply:
            return InvocationResult(request_id, json.dumps(reply["ok"]).encode(), False, logs)
        kind = "Runtime.ImportModuleError" if reply.get("init") else str(reply.get("error"))
        return _error(request_id, kind, f"The function raised {reply.get('error')}.", logs)

    def get_logs(self) -> str:
        return self._logs(0)

    # Addresses: LocalStack and the function share the host's loopback ----------------

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        from localstack import config

        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    # Versions: the code is already unzipped by LocalStack; nothing to build ----------------

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        return None

    @classmethod
    def validate_environment(cls) -> bool:
        if shutil.which(_python()) is None:
            LOG.error("%s names no interpreter (%s): functions cannot run", PYTHON, _python())
            return False
        return True

    # -------------------------------------------------------------------------------

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _logs(self, offset: int) -> str:
        try:
            with self._log_path.open("rb") as file:
                file.seek(offset)
                return file.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


class SubprocessExecutorPlugin(RuntimeExecutorPlugin):  # type: ignore[misc]
    name = "stateway-subprocess"

    def load(self, *args: Any, **kwargs: Any) -> type[SubprocessRuntimeExecutor]:
        return SubprocessRuntimeExecutor


def _python() -> str:
    return os.environ.get(PYTHON) or "python3.12"


def _error(request_id: str, kind: str, message: str, logs: str) -> InvocationResult:
    body = {"errorType": kind, "errorMessage": message}
    return InvocationResult(request_id, json.dumps(body).encode(), True, logs)
