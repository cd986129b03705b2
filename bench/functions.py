"""Loading a function's app by path and invoking it in-process, as Lambda does."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from bench.stack import ROOT

FUNCTIONS_DIR = ROOT / "functions"


def function_names() -> list[str]:
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/app.py"))


def load_app(name: str) -> Any:
    """The Chalice app of ``functions/<name>/app.py`` (imported under its own module name)."""
    path = FUNCTIONS_DIR / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"fn_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def invoke(app: Any, event: dict[str, Any]) -> tuple[int, Any]:
    """Call the app with an event; return the status and the decoded body."""
    from events import LambdaContext

    response = app(event, LambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body
