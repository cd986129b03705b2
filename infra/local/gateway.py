"""The local gateway: the template's HTTP API on loopback, as API Gateway and Lambda run it.

Everything it serves comes from ``infra/template.yaml`` (:mod:`stateway_local.template`):
each route (method and path) is handed to its function, and each function runs
in processes of its own (:mod:`stateway_runtime.worker`), with its ``CodeUri`` as
the task root, its ``Handler``, its ``Timeout`` and the environment the template
gives it. As API Gateway does, the gateway

* plays the HTTP API's JWT authorizer (:mod:`stateway_edge.authorizer`) before
  any function runs: a request it refuses gets API Gateway's 401, and the
  function finds the token's claims in ``requestContext.authorizer.claims``;
* hands each function a payload-1.0 event (path parameters URL-decoded, a body
  that is not UTF-8 base64-encoded);
* answers a request no route matches with 404 ``{"message":"Not Found"}``, a
  function that fails to start, raises or times out with 500
  ``{"message":"Internal Server Error"}``, and
  preflight requests from the template's ``CorsConfiguration``.

The HTTP server's own refusals (a request line or header over its limits, a
malformed ``Content-Length``) get the contract's error body.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from stateway_edge.authorizer import JWKS_URL, JWT_SECRET, AuthorizerConfig, Refused, authorize, unauthorized
from stateway_local.template import Function, HttpApi, Route
from stateway_runtime.process import FunctionProcess

logger = logging.getLogger("stateway.gateway")

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR_DIR = ROOT / "frontend" / "dist"
#: Processes one function may run at once (Lambda would scale further; this is a laptop).
MAX_WORKERS = 8
#: What only the authorizer reads; a function never gets it.
AUTHORIZER_ONLY = (JWT_SECRET, JWKS_URL)


class FunctionFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# Functions --------------------------------------------------------------------------


class Worker:
    """One warm process of a function, on this interpreter."""

    def __init__(self, function: Function, environment: Mapping[str, str]) -> None:
        self.function = function
        self._process = FunctionProcess(sys.executable, function.code_dir, function.handler, environment)
        self.process = self._process.process
        self.init_error: str | None = None

    def wait_ready(self, timeout: float) -> None:
        self.init_error = self._process.wait_ready(timeout)

    def invoke(self, event: dict[str, Any]) -> Any:
        return self._process.invoke(event, self.function.timeout)

    def stop(self) -> None:
        self._process.stop()


class Pool:
    """A function's warm processes: an idle one takes the invocation, else a new one starts."""

    def __init__(self, function: Function, environment: Mapping[str, str]) -> None:
        self.function = function
        self.environment = environment
        self._idle: list[Worker] = []
        self._all: list[Worker] = []
        self._lock = threading.Condition()

    def warm(self) -> None:
        self._give_back(self._start())

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._take()
        if worker.init_error is not None:
            # As Lambda does, the next invocation starts a new process and tries its init again.
            self._discard(worker)
            raise FunctionFailed(500, "Internal Server Error")
        try:
            reply = worker.invoke(event)
        except TimeoutError:
            # A function that runs out of time is a function error, as in AWS.
            logger.error(
                "function %s timed out after %.0f s", self.function.logical_id, self.function.timeout
            )
            self._discard(worker)
            raise FunctionFailed(500, "Internal Server Error") from None
        except (EOFError, OSError, ValueError):
            logger.error("function %s exited while invoked", self.function.logical_id, exc_info=True)
            self._discard(worker)
            raise FunctionFailed(500, "Internal Server Error") from None
        self._give_back(worker)
        if "ok" not in reply:
            logger.error("function %s raised %s", self.function.logical_id, reply.get("error"))
            raise FunctionFailed(500, "Internal Server Error")
        return reply["ok"]

    def _start(self) -> Worker:
        worker = Worker(self.function, self.environment)
        with self._lock:
            self._all.append(worker)
        worker.wait_ready(timeout=60)
        if worker.init_error is not None:
            logger.error("function %s failed to start: %s", self.function.logical_id, worker.init_error)
        return worker

    def _take(self) -> Worker:
        with self._lock:
            while not self._idle and len(self._all) >= MAX_WORKERS:
                self._lock.wait()
            if self._idle:
                return self._idle.pop()
        return self._start()

    def _give_back(self, worker: Worker) -> None:
        with self._lock:
            self._idle.append(worker)
            self._lock.notify()

    def _discard(self, worker: Worker) -> None:
        worker.process.kill()
        worker.stop()
        with self._lock:
            self._all.remove(worker)
            self._lock.notify()

    def stop(self) -> None:
        with self._lock:
            workers, self._all, self._idle = list(self._all), [], []
        for worker in workers:
            worker.stop()


def function_environment(function: Function, caller: Mapping[str, str]) -> dict[str, str]:
    """The template's variables for the function, the caller's environment winning; no authorizer secret."""
    environment = {**function.environment, **caller}
    for name in AUTHORIZER_ONLY:
        environment.pop(name, None)
    environment.update(
        AWS_LAMBDA_FUNCTION_NAME=function.logical_id,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_mb),
        STATEWAY_LOCAL_TIMEOUT=str(function.timeout),
    )
    return environment


# Requests ---------------------------------------------------------------------------


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``method path`` and its path parameters (URL-decoded), as API Gateway matches."""
    segments = tuple(path.strip("/").split("/"))
    for route in routes:
        if route.method != method or len(route.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for pattern, segment in zip(route.segments, segments, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    break
                params[pattern[1:-1]] = unquote(segment)
            elif pattern != segment:
                break
        else:
            return route, params
    return None


def event_for(
    route: Route,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    params: dict[str, str],
    claims: dict[str, str] | None,
    request_id: str,
) -> dict[str, Any]:
    """The payload-1.0 event API Gateway's HTTP API hands a Lambda function."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        multi.setdefault(key, []).append(value)
        single[key] = value  # payload 1.0: the last value; all of them in multiValueHeaders
    pairs = parse_qsl(query, keep_blank_values=True)
    query_multi: dict[str, list[str]] = {}
    for name, value in pairs:
        query_multi.setdefault(name, []).append(value)
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    context: dict[str, Any] = {
        "httpMethod": method,
        "path": raw_path,
        "resourcePath": route.path,
        "requestId": request_id,
        "stage": "$default",
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": "127.0.0.1", "userAgent": single.get("user-agent", "")},
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims, "scopes": None}
    return {
        "version": "1.0",
        "resource": route.path,
        "path": raw_path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query_multi.items()} or None,
        "multiValueQueryStringParameters": query_multi or None,
        "requestContext": context,
        "pathParameters": params or None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": encoded,
    }


# The server -------------------------------------------------------------------------


class Gateway:
    """The HTTP API: its routes, its authorizer, a pool per function."""

    def __init__(self, api: HttpApi, caller: Mapping[str, str], authorizer: AuthorizerConfig) -> None:
        self.api = api
        self.authorizer = authorizer
        self.pools: dict[str, Pool] = {}
        for route in api.routes:
            fn = route.function
            if fn.logical_id not in self.pools:
                self.pools[fn.logical_id] = Pool(fn, function_environment(fn, caller))

    def warm(self) -> None:
        """One warm process per function, started side by side."""
        threads = [threading.Thread(target=pool.warm) for pool in self.pools.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        origins = self.api.cors.get("AllowOrigins") or []
        if not origin or not origins:
            return {}
        allowed = "*" if "*" in origins else origin if origin in origins else None
        if allowed is None:
            return {}
        headers = {"Access-Control-Allow-Origin": allowed}
        expose = self.api.cors.get("ExposeHeaders")
        if expose:
            headers["Access-Control-Expose-Headers"] = ",".join(expose)
        return headers

    def preflight(self, origin: str | None) -> dict[str, str]:
        headers = self.cors_headers(origin)
        if headers:
            headers["Access-Control-Allow-Methods"] = ",".join(self.api.cors.get("AllowMethods") or [])
            headers["Access-Control-Allow-Headers"] = ",".join(self.api.cors.get("AllowHeaders") or [])
            if self.api.cors.get("MaxAge") is not None:
                headers["Access-Control-Max-Age"] = str(self.api.cors["MaxAge"])
        return headers


def make_server(gateway: Gateway, host: str, port: int) -> ThreadingHTTPServer:
    from stateway import documents
    from stateway.errors import error_body
    from stateway.ids import parse_digits

    # http.server's own limits (a request line of 65,536 bytes, header lines of 65,536
    # bytes, 100 headers), answered with the contract's error body, not an HTML page.
    server_refusals = {
        414: ("uri_too_long", "The request line is over 65536 bytes."),
        431: ("headers_too_large", "A header line is over 65536 bytes, or there are over 100 headers."),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __getattr__(self, name: str) -> Any:
            # Every method is looked up in the routes (an unknown one is a 404, as in API Gateway).
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this, Nagle's algorithm and
            # delayed ACKs hold each answer on a kept-alive connection for ~40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _handle(self) -> None:
            lengths = self.headers.get_all("Content-Length") or []
            if len(lengths) > 1 or (lengths and parse_digits(lengths[0].strip()) is None):
                # The body's end is unknown, so the connection closes.
                self.close_connection = True
                self._contract_error(
                    400, "invalid_request", "Content-Length must be one number of ASCII digits."
                )
                return
            body = self.rfile.read(int(lengths[0])) if lengths else b""
            parts = urlsplit(self.path)
            method = self.command.upper()
            if method in ("GET", "HEAD") and (
                parts.path == "/inspector" or parts.path.startswith("/inspector/")
            ):
                self._inspector(parts.path)
                return
            origin = self.headers.get("Origin")
            if method == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
                self._send(204, gateway.preflight(origin), b"")
                return
            request_id = uuid.uuid4().hex
            found = match(gateway.api.routes, method, parts.path)
            if found is None:
                self._gateway_message(404, "Not Found", request_id, origin)
                return
            route, params = found
            claims = None
            if not route.public:
                try:
                    claims = authorize(self.headers.get("Authorization"), gateway.authorizer)
                except Refused as refused:
                    answer = unauthorized(refused.description)
                    headers = {
                        **answer.headers,
                        **gateway.cors_headers(origin),
                        "apigw-requestid": request_id,
                    }
                    self._send(answer.status, headers, answer.body.encode())
                    return
            event = event_for(
                route,
                method,
                parts.path,
                parts.query,
                list(self.headers.items()),
                body,
                params,
                claims,
                request_id,
            )
            try:
                result = gateway.pools[route.function.logical_id].invoke(event)
            except FunctionFailed as failed:
                self._gateway_message(failed.status, failed.message, request_id, origin)
                return
            self._function_response(result, request_id, origin)

        def _function_response(self, result: dict[str, Any], request_id: str, origin: str | None) -> None:
            headers: list[tuple[str, str]] = []
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers.extend((name, str(v)) for v in values)
            named = {name.lower() for name, _ in headers}
            headers.extend(
                (n, str(v)) for n, v in (result.get("headers") or {}).items() if n.lower() not in named
            )
            # The HTTP API's CORS configuration answers for CORS, not the function.
            headers = [(n, v) for n, v in headers if not n.lower().startswith("access-control-")]
            headers.extend(gateway.cors_headers(origin).items())
            headers.append(("apigw-requestid", request_id))
            raw = result.get("body") or ""
            payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
            self._send(int(result.get("statusCode", 200)), headers, payload)

        def _gateway_message(self, status: int, message: str, request_id: str, origin: str | None) -> None:
            headers = {"Content-Type": "application/json", "apigw-requestid": request_id}
            headers.update(gateway.cors_headers(origin))
            self._send(status, headers, json.dumps({"message": message}, separators=(",", ":")).encode())

        def _contract_error(self, status: int, code: str, message: str) -> None:
            request_id = uuid.uuid4().hex
            body = documents.dumps(error_body(code, message, request_id))
            self._send(status, {"Content-Type": "application/json", "X-Request-Id": request_id}, body)

        def _send(self, status: int, headers: Mapping[str, str] | list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            items = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in items:
                if name.lower() not in ("content-length", "connection", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def send_response(self, code: int, message: str | None = None) -> None:
            self.send_response_only(code, message)
            self.send_header("Date", formatdate(usegmt=True))

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """The HTTP server's own refusals, with the contract's error body, on a connection that closes."""
            self.close_connection = True
            # A request line it could not read leaves the request as HTTP/0.9, which would get
            # a bare body without a status line or headers.
            self.request_version = self.protocol_version
            status = code if 400 <= code < 500 else 400
            error_code, text = server_refusals.get(
                status, ("invalid_request", "The request is not valid HTTP.")
            )
            self._contract_error(status, error_code, text)

        def _inspector(self, path: str) -> None:
            relative = path.removeprefix("/inspector").lstrip("/") or "index.html"
            target = (INSPECTOR_DIR / relative).resolve()
            if not target.is_relative_to(INSPECTOR_DIR.resolve()) or not target.is_file():
                target = INSPECTOR_DIR / "index.html"
            if not target.is_file():
                self._contract_error(404, "not_found", "The inspector is not built: run `make inspector`.")
                return
            content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send(200, {"Content-Type": content_type}, target.read_bytes())

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("STATEWAY_ACCESS_LOG"):
                super().log_message(format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
