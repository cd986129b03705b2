"""The handler in front of each function where API Gateway runs no authorizer (LocalStack's free plan).

Set as a function's ``Handler`` (``stateway_edge.wrapper.handler``), with the
function's own handler in ``STATEWAY_HANDLER`` (``app.app``), it does what the
HTTP API's JWT authorizer does in AWS (:mod:`stateway_edge.authorizer`): a
request without a valid bearer token gets API Gateway's 401 and the function
never runs; otherwise the token's claims go where an authorizer puts them
(``requestContext.authorizer.claims``, in REST API proxy events as in HTTP
API payload-1.0 events) and the function's own handler gets the event. A
route the template leaves open (the health check) has
``STATEWAY_PUBLIC_ROUTE=true``: its requests go through unchecked, and any
claims a caller wrote into the event are dropped.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from stateway_edge.authorizer import AuthorizerConfig, Refused, authorize, unauthorized

HANDLER = "STATEWAY_HANDLER"
PUBLIC_ROUTE = "STATEWAY_PUBLIC_ROUTE"


@lru_cache(maxsize=1)
def _target() -> Callable[[dict[str, Any], Any], Any]:
    module_name, _, attribute = os.environ[HANDLER].rpartition(".")
    target: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return target


@lru_cache(maxsize=1)
def _config() -> AuthorizerConfig:
    return AuthorizerConfig.from_env(os.environ)


def _public() -> bool:
    return os.environ.get(PUBLIC_ROUTE, "").strip().lower() == "true"


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def handler(event: dict[str, Any], context: Any) -> Any:
    request_context = event.setdefault("requestContext", {})
    # Whatever the caller sent, only this wrapper says who the caller is.
    request_context.pop("authorizer", None)
    if not _public():
        try:
            claims = authorize(_header(event.get("headers"), "authorization"), _config())
        except Refused as refused:
            answer = unauthorized(refused.description)
            return {"statusCode": answer.status, "headers": answer.headers, "body": answer.body}
        request_context["authorizer"] = {"claims": claims}
    return _target()(event, context)


# Lambda's init imports this module: the function's own handler comes with it, so the function's
# cold-start checks (its settings) fail the init, as they do behind API Gateway.
if os.environ.get(HANDLER):
    _target()
