"""HTTP for the functions: identity, request parsing, and the one place errors become responses.

A function's view is wrapped by :func:`endpoint`, which

* gives every request an id (API Gateway's, or a new one) returned as
  ``X-Request-Id`` and carried by every log line and error body;
* authenticates the caller before anything else is looked at, from the claims
  the authorizer put in the request context (the HTTP API's JWT authorizer in
  AWS; the local gateway or the LocalStack wrapper elsewhere): no function
  verifies a token;
* turns :class:`~stateway.errors.StatewayError` into the contract's error body
  and anything else into a 500 that says only that something failed. No
  exception text ever reaches a client.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from chalice.app import Blueprint, Chalice, CORSConfig, Response

import stateway.snapstart  # noqa: F401  (registers the SnapStart after-restore hook)
from stateway import documents, logs
from stateway.bodies import Reply
from stateway.config import REQUIRED_BY, Settings, get_settings
from stateway.errors import (
    Forbidden,
    InvalidJson,
    InvalidRequest,
    PayloadTooLarge,
    StatewayError,
    StoreUnavailable,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    error_body,
)
from stateway.ids import is_valid_id, parse_digits
from stateway.metrics import METRICS

logger = logging.getLogger("stateway.http")

#: Route options every function uses: CORS for browsers (in AWS the HTTP API's
#: own CORS configuration answers instead), and no content-type filtering by
#: Chalice, so that a wrong content type gets the contract's 415 body from here.
ROUTE_OPTIONS: dict[str, Any] = {
    "cors": CORSConfig(
        allow_origin="*",
        allow_headers=["Authorization", "Content-Type", "If-Match"],
        expose_headers=["ETag", "X-Request-Id"],
        max_age=600,
    ),
    "content_types": ["*/*"],
}

# Room for the envelope around a state document before a body is refused unread.
_BODY_OVERHEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: str
    client_id: str


def new_request_id() -> str:
    return uuid.uuid4().hex


# Identity -------------------------------------------------------------------------


def _claims_from_context(context: dict[str, Any] | None) -> dict[str, Any] | None:
    authorizer = (context or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or (authorizer.get("jwt") or {}).get("claims")
    return claims if isinstance(claims, dict) and claims else None


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    user_id = claims.get("sub")
    client_id = claims.get("client_id") or claims.get("custom:client_id")
    if not is_valid_id(user_id) or not is_valid_id(client_id):
        raise Unauthorized("The token must carry valid 'sub' and 'client_id' claims.")
    assert isinstance(user_id, str) and isinstance(client_id, str)
    return Identity(user_id=user_id, client_id=client_id)


# Requests -------------------------------------------------------------------------


class ApiRequest:
    """One request, as the views see it."""

    def __init__(self, request: Any, settings: Settings) -> None:
        self.raw = request
        self.settings = settings
        context = request.context or {}
        self.request_id: str = str(context.get("requestId") or new_request_id())

    @cached_property
    def identity(self) -> Identity:
        """The caller, from the claims the authorizer put in the request context.

        Functions never verify tokens: in AWS the HTTP API's JWT authorizer does,
        elsewhere whatever stands in front of them (the local gateway, the
        LocalStack wrapper). A request that reaches a function without claims
        was let through by no authorizer, and is refused.
        """
        claims = _claims_from_context(self.raw.context)
        if claims is None:
            raise Unauthorized()
        return identity_from_claims(claims)

    # authorization

    def authorize(self, client_id: str, user_id: str | None = None) -> None:
        """Forbidden unless the ids are the caller's own."""
        me = self.identity
        if client_id != me.client_id or (user_id is not None and user_id != me.user_id):
            raise Forbidden()

    # query, headers, body

    def query(self, name: str, *, required: bool = True) -> str | None:
        params = self.raw.query_params
        values = params.getlist(name) if params is not None and name in params else []
        if len(values) > 1:
            raise InvalidRequest(f"Query parameter {name!r} is given more than once.")
        if not values:
            if required:
                raise InvalidRequest(f"Query parameter {name!r} is required.")
            return None
        value: str = values[0]
        return value

    def query_int(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self.query(name, required=False)
        if raw is None:
            return default
        value = parse_digits(raw, max_digits=len(str(high)))
        if value is None or not low <= value <= high:
            raise InvalidRequest(f"Query parameter {name!r} must be an integer from {low} to {high}.")
        return value

    def if_match(self) -> int | None:
        """The version in ``If-Match`` (``7``, ``"7"`` or ``W/"7"``); ``None`` when absent or ``*``."""
        raw = self.raw.headers.get("if-match")
        if raw is None or raw.strip() == "*":
            return None
        text = raw.strip()
        text = text.removeprefix("W/")
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        version = parse_digits(text)
        if version is None:
            raise InvalidRequest("If-Match must be a version number, bare or quoted.")
        return version

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object: 415 for another content type, 413 when far over the limit, else 400."""
        raw: bytes = self.raw.raw_body or b""
        if not raw:
            raise InvalidJson("A JSON object body is required.")
        content_type = (self.raw.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json" and not (
            content_type.startswith("application/") and content_type.endswith("+json")
        ):
            raise UnsupportedMediaType()
        if len(raw) > self.settings.max_state_bytes + _BODY_OVERHEAD:
            raise PayloadTooLarge(f"The body is over {self.settings.max_state_bytes + _BODY_OVERHEAD} bytes.")
        try:
            # Strict UTF-8: json.loads(bytes) would also take UTF-16 and encoded surrogates.
            text = raw.decode("utf-8-sig")
            parsed = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise InvalidJson() from exc
        # What is accepted is what orjson and BSON can write: no lone surrogate (a "\ud800"
        # escape) in any string or key. Only a body with such an escape is walked.
        if _SURROGATE_ESCAPE.search(raw) and documents.has_lone_surrogate(parsed):
            raise InvalidJson("The body holds a lone UTF-16 surrogate, which cannot be stored.")
        if not isinstance(parsed, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return parsed


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Responses ------------------------------------------------------------------------


def _headers(request_id: str, extra: dict[str, str] | None = None) -> dict[str, str | list[str]]:
    headers: dict[str, str | list[str]] = {
        "Content-Type": "application/json",
        "X-Request-Id": request_id,
        "Cache-Control": "no-store",
    }
    if extra:
        headers.update(extra)
    return headers


def error_response(error: StatewayError, request_id: str) -> Response:
    body = error_body(error.code, error.message, request_id)
    extra = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if error.status == 401 else None
    return Response(
        body=documents.dumps(body).decode(), status_code=error.status, headers=_headers(request_id, extra)
    )


def to_response(result: Reply, request_id: str) -> Response:
    extra = {"ETag": f'"{result.version}"'} if result.version is not None else None
    if result.body is None:
        headers = _headers(request_id, extra)
        headers.pop("Content-Type")
        return Response(body="", status_code=result.status, headers=headers)
    return Response(
        body=documents.dumps(result.body).decode(),
        status_code=result.status,
        headers=_headers(request_id, extra),
    )


def operation_of(app: Chalice | Blueprint) -> str:
    """The function's operation, from its app name: ``stateway-session-state`` -> ``session_state``."""
    name = str(getattr(app, "app_name", None) or getattr(app, "name", "stateway"))
    return name.removeprefix("stateway-").replace("-", "_")


def _observe(app: Chalice | Blueprint, settings: Settings) -> str:
    """Logs and metrics set up for this function (once), and the invocation's operation."""
    operation = operation_of(app)
    logs.configure(operation, settings.log_level)
    METRICS.configure(service=operation, stage=settings.stage)
    return operation


C = TypeVar("C")


def route(
    app: Chalice, path: str, method: str, parse: Callable[..., C], *, public: bool = False
) -> Callable[[Callable[[C], Reply]], Callable[..., Response]]:
    """A function's one route: ``method path``, its view wrapped by :func:`endpoint`."""

    def decorate(view: Callable[[C], Reply]) -> Callable[..., Response]:
        handler: Callable[..., Response] = app.route(path, methods=[method], **ROUTE_OPTIONS)(
            endpoint(app, parse, public=public)(view)
        )
        return handler

    return decorate


def endpoint(
    app: Chalice | Blueprint, parse: Callable[..., C], *, public: bool = False
) -> Callable[[Callable[[C], Reply]], Callable[..., Response]]:
    """Wrap a view: request id, authentication first, ``parse`` the command, errors to responses.

    ``parse`` (one of :mod:`stateway.commands`) takes the request and the path
    parameters and returns the view's command; only a ``public`` route is
    served without a caller. Runs at import, so a malformed setting, or one the
    function needs (:data:`stateway.config.REQUIRED_BY`) that is missing, fails
    the cold start with a :class:`~stateway.errors.ConfigError` that names it
    (clients are still built on first use).
    """
    get_settings()
    # Read afresh: the cold start's own environment, whatever a cached copy holds.
    Settings.from_env().require(*REQUIRED_BY.get(operation_of(app), ()))

    def decorate(view: Callable[[C], Reply]) -> Callable[..., Response]:
        @functools.wraps(view)
        def handle(**path_params: str) -> Response:
            started = time.perf_counter()
            response = _handle(path_params)
            # One line per request, with the keys of logs.begin: what a team searches first.
            logger.info(
                "answered %d",
                response.status_code,
                extra={
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            # One embedded-metric-format line per invocation, with what it counted.
            METRICS.flush()
            return response

        def _handle(path_params: dict[str, str]) -> Response:
            request_id = ""
            try:
                settings = get_settings()
                operation = _observe(app, settings)
                request = ApiRequest(app.current_request, settings)
                request_id = request.request_id
                logs.begin(request_id, operation, getattr(app, "lambda_context", None))
                if not public:
                    _ = request.identity
                return to_response(view(parse(request, **path_params)), request_id)
            except StatewayError as exc:
                request_id = request_id or new_request_id()
                if isinstance(exc, StoreUnavailable):
                    METRICS.incr("store_unavailable")
                elif exc.status == 412:
                    METRICS.incr("conflict")
                if isinstance(exc, Unavailable):
                    # An outage: the client is told to try again; the cause is in the traceback.
                    logger.warning("request %s unavailable: %s", request_id, exc.code, exc_info=True)
                elif exc.status >= 500:
                    logger.error("request %s failed: %s", request_id, exc.code, exc_info=True)
                else:
                    logger.info("request %s refused: %s %s", request_id, exc.status, exc.code)
                if exc.status == 500:
                    exc = StatewayError(f"Internal error; request id {request_id}.")
                return error_response(exc, request_id)
            except Exception:
                request_id = request_id or new_request_id()
                logger.exception("request %s failed unexpectedly", request_id)
                return error_response(StatewayError(f"Internal error; request id {request_id}."), request_id)

        return handle

    return decorate
