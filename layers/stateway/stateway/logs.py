"""JSON logs with Powertools for AWS Lambda's Logger, for every ``stateway.*`` logger.

Each line is one JSON object: ``level``, ``message``, ``timestamp``,
``location``, ``service`` (the function's operation), and for the request
being served ``request_id`` (API Gateway's, the ``X-Request-Id`` a client
sees), ``function_request_id`` (Lambda's), ``function_name``, ``cold_start``
and ``operation``; exceptions add ``exception`` and a ``stack_trace``. Lambda's
default text format would drop structured fields; this one keeps them.

What is logged is decided where it is logged, and never includes a token, a
state document or a URI: messages name ids, versions, error codes and
exception types (``tests/e2e/test_logs.py`` holds it).
"""

from __future__ import annotations

import logging
from typing import Any

_logger: Any = None
_cold = True


def configure(service: str, level: str) -> None:
    """Route ``stateway.*`` through a Powertools Logger for ``service`` (once per process)."""
    global _logger
    if _logger is not None:
        return
    from aws_lambda_powertools import Logger

    _logger = Logger(service=service, level=level)
    base = logging.getLogger("stateway")
    base.addHandler(_logger.registered_handler)
    base.setLevel(level)
    # Lambda's runtime puts a text handler on the root logger: a line goes out once, as JSON.
    base.propagate = False


def begin(request_id: str, operation: str, context: Any) -> None:
    """The keys of the invocation starting now, on every line until the next one."""
    global _cold
    if _logger is None:
        return
    _logger.append_keys(
        request_id=request_id,
        operation=operation,
        cold_start=_cold,
        function_name=getattr(context, "function_name", None),
        function_request_id=getattr(context, "aws_request_id", None),
    )
    _cold = False
