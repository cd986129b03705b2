"""LocalStack's open-source core in host mode on loopback, and the free-plan stack deployed to it.

``LocalStackServer`` runs ``python -m localstack.runtime.main`` from
``.venv-localstack`` (``infra/localstack/venv.sh``: LocalStack pinned, on Python
3.13) on a free loopback port, with only the services the stack uses, no DNS
server, its files under its own working directory, and Lambda run by this
project's executor plugin (:mod:`stateway_runtime.localstack_executor`) on the
Python 3.12 of ``.venv-lambda``: LocalStack's own executor needs Docker, which
CI machines do not have. ``deploy`` packages the functions
(:mod:`stateway_local.localstack_package`) and runs ``sam deploy --config-env
localstack`` against it, then invokes the migration function (the free plan runs no
custom resources), as ``docs/DEPLOY.md`` tells a user to.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stateway_local.servers import _Process

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "localstack" / "template.yaml"
#: What the free-plan stack uses, and nothing else (each service LocalStack loads costs start time).
SERVICES = ("cloudformation", "lambda", "apigateway", "s3", "iam", "sts", "logs", "ssm")
#: LocalStack accepts any credentials; these are the ones its documentation uses.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
REGION = "us-east-1"


def environments() -> tuple[str, str]:
    """LocalStack's interpreter and the functions' runtime interpreter, created on first use."""
    done = subprocess.run(
        ["bash", str(ROOT / "infra" / "localstack" / "venv.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    localstack_python, lambda_python = done.stdout.split()[-2:]
    return localstack_python, lambda_python


class LocalStackServer(_Process):
    """LocalStack in host mode, its gateway on 127.0.0.1:<port>."""

    name = "localstack"

    def __init__(self, workdir: Path, *, python: str, lambda_python: str) -> None:
        super().__init__(workdir)
        self.python = python
        self.lambda_python = lambda_python

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [self.python, "-m", "localstack.runtime.main"]

    def environment(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            # hypercorn binds the host part of GATEWAY_LISTEN (the default server binds 0.0.0.0).
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "GATEWAY_SERVER": "hypercorn",
            "DNS_ADDRESS": "0",
            "SERVICES": ",".join(SERVICES),
            # Host mode: every file under this working directory, none in /var/lib/localstack.
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(self.workdir / "filesystem"),
            "LOCALSTACK_VOLUME_DIR": str(self.workdir / "volume"),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "LAMBDA_RUNTIME_EXECUTOR": "stateway-subprocess",
            "STATEWAY_LAMBDA_PYTHON": self.lambda_python,
        }

    def ready(self) -> None:
        deadline = time.monotonic() + 120
        url = f"{self.endpoint}/_localstack/health"
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"LocalStack exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    last = json.load(response)
                if all(last.get("services", {}).get(name) in ("available", "running") for name in SERVICES):
                    return
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(0.5)
        raise TimeoutError(f"LocalStack not ready within 120 s (last: {last!r}); see {self.log_path}")

    def aws_environment(self) -> dict[str, str]:
        """The variables that point the AWS CLI, the SAM CLI and boto3 at this LocalStack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **CREDENTIALS,
        }

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def deploy(
    server: LocalStackServer, stack_name: str, parameters: Mapping[str, str], *, log: Path
) -> dict[str, str]:
    """Package the functions and ``sam deploy --config-env localstack``; the stack's outputs."""
    from stateway_local.localstack_package import package

    package(ROOT / "build" / "localstack", "x86_64")
    sam = subprocess.run(
        ["bash", str(ROOT / "infra" / "sam" / "venv.sh")], check=True, capture_output=True, text=True
    ).stdout.split()[-1]
    overrides = [f"{name}={value}" for name, value in parameters.items()]
    command = [
        sam,
        "deploy",
        "--config-env",
        "localstack",
        "--stack-name",
        stack_name,
        "--parameter-overrides",
        *overrides,
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(server.workdir),
        "SAM_CLI_TELEMETRY": "0",
        **server.aws_environment(),
    }
    with log.open("ab") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"sam deploy failed ({done.returncode}); see {log}")
    stacks = server.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    migrate(server, outputs["MigrationFunction"])
    return outputs


def migrate(server: LocalStackServer, function_name: str) -> dict[str, Any]:
    """What the Migration custom resource does in AWS, which the free plan does not run.

    The migration function is invoked with a ``Create`` request and no ``ResponseURL``
    (it answers in its result only); anything but ``SUCCESS`` raises.
    """
    answer = server.client("lambda").invoke(
        FunctionName=function_name, Payload=json.dumps({"RequestType": "Create"}).encode()
    )
    document: dict[str, Any] = json.loads(answer["Payload"].read() or b"null") or {}
    if answer.get("FunctionError") or document.get("Status") != "SUCCESS":
        raise RuntimeError(f"the migration failed: {answer.get('FunctionError')} {document}")
    return document


def rest_api_url(server: LocalStackServer, api_id: str, stage: str) -> str:
    """LocalStack's path-style URL of a REST API stage (no DNS needed)."""
    return f"{server.endpoint}/restapis/{api_id}/{stage}/_user_request_"


def wait_url(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
