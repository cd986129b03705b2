"""The whole Stateway API on loopback: ``make dev``, or ``python -m stateway_local.run``.

Starts whatever the environment does not give — Redis (``REDIS_URL``), a
MongoDB-protocol server (``MONGODB_URI``), an S3 endpoint
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) with the snapshot bucket —
then serves every function's route in one process with Chalice's local
server on ``STATEWAY_HOST``:``STATEWAY_PORT`` (default 127.0.0.1:8080), and
the inspector page (``frontend/dist``) at ``/inspector/``.

Every ``STATEWAY_*`` setting of the contract is honoured, as in AWS. Tokens
are verified with ``STATEWAY_JWT_SECRET`` (or ``STATEWAY_JWKS_URL``); when
neither is set, a development secret is kept in ``.local/jwt-secret`` and
``make token`` signs with it. SIGINT or SIGTERM stops the servers it started.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from stateway_local.functions import function_names, load_app
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.servers import MongoServer, MotoS3Server, RedisServer, create_bucket

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_BUCKET = "stateway-local-snapshots"
SECRET_FILE = ROOT / ".local" / "jwt-secret"
INSPECTOR_DIR = ROOT / "frontend" / "dist"


def dev_secret() -> str:
    """The development signing secret, created once per checkout."""
    if not SECRET_FILE.exists():
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_text(secrets.token_urlsafe(32))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


def load_functions() -> dict[str, Any]:
    """Each ``functions/<operation>/app.py``'s Chalice app, imported under a unique module name."""
    return {name: load_app(name).app for name in function_names()}


def make_server(apps: dict[str, Any], host: str, port: int) -> Any:
    """Chalice's local server in front of every function, each invoked as its own app.

    Like API Gateway, the server picks the function by route and method and
    hands it the event; an unknown route (404) or method (405) gets the
    contract's error body.
    """
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        LocalChalice,
        LocalDevServer,
        LocalGateway,
        RouteMatcher,
    )

    from stateway import documents
    from stateway.errors import error_body
    from stateway.ids import parse_digits

    class DecodingGateway(LocalGateway):
        """API Gateway hands functions URL-decoded path parameters; so does this one."""

        def _generate_lambda_event(self, method: str, path: str, headers: Any, body: Any) -> Any:
            event = super()._generate_lambda_event(method, path, headers, body)
            params = event.get("pathParameters") or {}
            event["pathParameters"] = {name: unquote(value) for name, value in params.items()}
            return event

    config = Config.create()
    table: dict[tuple[str, str], Any] = {}
    for app in apps.values():
        # What chalice.local.create_local_server does: a per-thread current_request.
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
        gateway = DecodingGateway(app, config)
        for route, methods in app.routes.items():
            for method in methods:
                table[(route, method)] = gateway
    matcher = RouteMatcher(sorted({route for route, _ in table}))

    def error_bytes(code: str, message: str, request_id: str) -> bytes:
        return documents.dumps(error_body(code, message, request_id))

    # What the HTTP server refuses before any route is looked at (http.server's own limits: a
    # request line of 65,536 bytes, header lines of 65,536 bytes, 100 headers), answered with
    # the contract's error body instead of its HTML page.
    server_refusals = {
        414: ("uri_too_long", "The request line is over 65536 bytes."),
        431: ("headers_too_large", "A header line is over 65536 bytes, or there are over 100 headers."),
    }

    class Handler(ChaliceRequestHandler):
        def _generic_handle(self) -> None:
            path = urlparse(self.path).path
            if self.command in ("GET", "HEAD") and (path == "/inspector" or path.startswith("/inspector/")):
                self._serve_inspector(path)
                return
            try:
                route = matcher.match_route(self.path).route
            except ValueError:
                self._refuse(404, "not_found", "No such route.")
                return
            lengths = self.headers.get_all("Content-Length") or []
            if len(lengths) > 1 or (lengths and parse_digits(lengths[0].strip()) is None):
                # Chalice would int() it: "\u00b2" raised, "\u0661\u0660" read 10 bytes, "-1"
                # read to the end. The body's end is unknown, so the connection closes.
                self.close_connection = True
                self._answer_error(
                    400, "invalid_request", "Content-Length must be one number of ASCII digits."
                )
                return
            method = self.command
            if method == "OPTIONS":
                method = (self.headers.get("Access-Control-Request-Method") or "").upper()
            gateway = table.get((route, method))
            if gateway is None and self.command == "OPTIONS":
                gateway = next(gw for (r, _), gw in table.items() if r == route)
            if gateway is None:
                allowed = ", ".join(sorted(m for r, m in table if r == route))
                self._refuse(
                    405, "method_not_allowed", "The route does not accept this method.", Allow=allowed
                )
                return
            self.local_gateway = gateway
            super()._generic_handle()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

        def __getattr__(self, name: str) -> Any:
            # Any other method (TRACE, CONNECT, ...) is routed too, to answer 405 rather than 501.
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # delayed ACKs hold each answer on a kept-alive connection for ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def end_headers(self) -> None:
            if self.close_connection:
                self.send_header("Connection", "close")
            super().end_headers()

        def _refuse(self, status: int, code: str, message: str, **headers: str) -> None:
            """Answer without a function, as API Gateway does, having read the body off the connection."""
            self._parse_payload()
            self._answer_error(status, code, message, **headers)

        def _answer_error(self, status: int, code: str, message: str, **headers: str) -> None:
            request_id = uuid.uuid4().hex
            headers["X-Request-Id"] = request_id
            self._send_http_response(status, headers, error_bytes(code, message, request_id))

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The HTTP server's own refusals, in the contract's error body, on a connection that closes.

            The rest of the request was not read, so nothing after it on the connection can be
            trusted as another request. No input is a 5xx: an HTTP version the server does not
            speak is a 400 like any other malformed request.
            """
            self.close_connection = True
            # A request line it could not read leaves the request as HTTP/0.9, which would
            # get a bare body without a status line or headers.
            self.request_version = self.protocol_version
            status = code if 400 <= code < 500 else 400
            error_code, text = server_refusals.get(
                status, ("invalid_request", "The request is not valid HTTP.")
            )
            self._answer_error(status, error_code, text)

        def _serve_inspector(self, path: str) -> None:
            relative = path.removeprefix("/inspector").lstrip("/") or "index.html"
            target = (INSPECTOR_DIR / relative).resolve()
            if not target.is_relative_to(INSPECTOR_DIR.resolve()) or not target.is_file():
                target = INSPECTOR_DIR / "index.html"
            if not target.is_file():
                message = "The inspector is not built: run `npm --prefix frontend ci && npm --prefix frontend run build`."
                self._refuse(404, "not_found", message)
                return
            self._parse_payload()
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send_http_response(200, {"Content-Type": content_type}, target.read_bytes())

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("STATEWAY_ACCESS_LOG"):
                super().log_message(format, *args)

    any_app = next(iter(apps.values()))
    return LocalDevServer(any_app, config, host, port, handler_cls=Handler)


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url}/api/health did not answer 200 within {timeout}s")


class LocalStack:
    """The servers the environment does not give, started on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Any] = []

    def start(self) -> None:
        env = os.environ
        if not env.get("REDIS_URL"):
            # STATEWAY_REDIS_CLUSTER=true with no REDIS_URL: a local 3-master cluster, the
            # shape of ElastiCache Serverless.
            if env.get("STATEWAY_REDIS_CLUSTER", "").strip().lower() in ("true", "1", "yes"):
                redis: Any = self._start(RedisClusterServer(self.workdir / "redis-cluster"))
            else:
                redis = self._start(RedisServer(self.workdir / "redis"))
            env["REDIS_URL"] = redis.url
        if not env.get("MONGODB_URI") and not env.get("STATEWAY_MONGODB_URI_SOURCE"):
            mongo = self._start(MongoServer(self.workdir / "mongo"))
            env["MONGODB_URI"] = mongo.uri
        if not env.get("AWS_ENDPOINT_URL_S3") and not env.get("AWS_ENDPOINT_URL"):
            s3 = self._start(MotoS3Server())
            env["AWS_ENDPOINT_URL_S3"] = s3.endpoint
            # moto accepts any credentials; real ones are never needed or sent.
            env.setdefault("AWS_ACCESS_KEY_ID", "stateway-local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "stateway-local")
        env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
        env.setdefault("STATEWAY_SNAPSHOT_BUCKET", DEFAULT_BUCKET)
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        create_bucket(endpoint or "", env["STATEWAY_SNAPSHOT_BUCKET"])
        if not env.get("STATEWAY_JWT_SECRET") and not env.get("STATEWAY_JWKS_URL"):
            env["STATEWAY_JWT_SECRET"] = dev_secret()

    def _start(self, server: Any) -> Any:
        server.start()
        self.started.append(server)
        return server

    def stop(self) -> None:
        while self.started:
            server = self.started.pop()
            with contextlib.suppress(Exception):
                server.stop()


def main() -> int:
    # One line per record with its level, so that a reader (or a test) can tell a bug
    # (ERROR) from an outage that was served around (WARNING).
    logging.basicConfig(
        level=os.environ.get("STATEWAY_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    host = os.environ.get("STATEWAY_HOST", "127.0.0.1")
    port = int(os.environ.get("STATEWAY_PORT", "8080"))
    data_dir = os.environ.get("STATEWAY_LOCAL_DATA")
    workdir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="stateway-local-"))
    stack = LocalStack(workdir)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = None
    try:
        stack.start()
        server = make_server(load_functions(), host, port)
        thread = threading.Thread(target=server.server.serve_forever, name="gateway", daemon=True)
        thread.start()
        url = f"http://{host}:{port}"
        wait_healthy(url)
        print(f"Stateway API: {url}", flush=True)
        print(f"  inspector:  {url}/inspector/", flush=True)
        print("  a token:    make token USER=alice CLIENT=acme", flush=True)
        print(f"  try:        curl {url}/api/health", flush=True)
        stopping.wait()
        return 0
    finally:
        if server is not None:
            server.server.shutdown()
            server.server.server_close()
        stack.stop()
        print("Stateway stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
