"""API Gateway HTTP API events, payload format 1.0, as the deployed functions receive them.

Used to invoke a function's app in-process (tests, benchmarks) exactly as
Lambda does: the JWT authorizer's claims in ``requestContext.authorizer``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs


def http_api_v1_event(
    method: str,
    route: str,
    *,
    path_params: dict[str, str] | None = None,
    query: str = "",
    body: Any = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event for ``route`` (the template, e.g. ``/api/project-state/{client_id}/...``)."""
    path_params = path_params or {}
    path = route
    for name, value in path_params.items():
        path = path.replace("{" + name + "}", value)
    multi = parse_qs(query, keep_blank_values=True) if query else None
    hdrs = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    if body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body)
    if isinstance(body, bytes):
        body = body.decode()
    request_context: dict[str, Any] = {
        "httpMethod": method,
        "resourcePath": route,
        "path": path,
        "requestId": uuid.uuid4().hex,
        "stage": "$default",
        "identity": {"sourceIp": "127.0.0.1"},
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": claims, "scopes": None}
    return {
        "version": "1.0",
        "resource": route,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} if multi else None,
        "multiValueQueryStringParameters": multi,
        "requestContext": request_context,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
    }


class LambdaContext:
    """The parts of the Lambda context object Chalice reads."""

    function_name = "stateway-local"
    memory_limit_in_mb = 512
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
