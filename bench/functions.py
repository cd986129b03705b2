"""Invoking a function's app in-process, as Lambda does (``stateway_local.functions.load_app`` loads it)."""

from __future__ import annotations

import json
from typing import Any


def invoke(app: Any, event: dict[str, Any]) -> tuple[int, Any]:
    """Call the app with an event; return the status and the decoded body."""
    from stateway_local.events import LambdaContext

    response = app(event, LambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body
