"""The LocalStack wrapper plays the JWT authorizer in front of a function's own handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway_edge import wrapper
from stateway_local.devtoken import mint

SECRET = "a-wrapper-test-secret-long-enough-for-hs256"

ECHO = """
import json

calls = []


def app(event, context):
    calls.append(event)
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"""


@pytest.fixture
def echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function whose handler answers with the authorizer context it was given."""
    (tmp_path / "echo_app.py").write_text(ECHO)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(wrapper.HANDLER, "echo_app.app")
    monkeypatch.setenv("STATEWAY_JWT_SECRET", SECRET)
    monkeypatch.delenv(wrapper.PUBLIC_ROUTE, raising=False)
    wrapper._target.cache_clear()
    wrapper._config.cache_clear()
    import echo_app

    echo_app.calls.clear()
    yield echo_app
    wrapper._target.cache_clear()
    wrapper._config.cache_clear()


def event(authorization: str | None = None, **context: Any) -> dict[str, Any]:
    headers = {} if authorization is None else {"Authorization": authorization}
    return {"httpMethod": "GET", "path": "/api/session/list", "headers": headers, "requestContext": context}


def test_a_valid_token_reaches_the_function_with_its_claims_as_strings(echo: Any) -> None:
    token = mint("alice", "acme", SECRET, ttl=600)
    answer = wrapper.handler(event(f"Bearer {token}"), None)
    assert answer["statusCode"] == 200
    claims = json.loads(answer["body"])["claims"]
    assert (claims["sub"], claims["client_id"]) == ("alice", "acme")
    assert claims["exp"].isdigit()
    assert len(echo.calls) == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic YWxpY2U6cHc=", "Bearer not.a.token"],
)
def test_no_valid_token_is_api_gateways_401_and_the_function_never_runs(
    echo: Any, authorization: str | None
) -> None:
    answer = wrapper.handler(event(authorization), None)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"]) == {"message": "Unauthorized"}
    assert answer["headers"]["www-authenticate"].startswith('Bearer scope="" error="invalid_token"')
    assert echo.calls == []


def test_a_token_signed_with_another_secret_is_refused(echo: Any) -> None:
    answer = wrapper.handler(
        event(f"Bearer {mint('alice', 'acme', 'another-secret-entirely-0123456789')}"), None
    )
    assert answer["statusCode"] == 401
    assert echo.calls == []


def test_claims_a_caller_wrote_into_the_event_never_reach_the_function(echo: Any) -> None:
    forged = {"authorizer": {"claims": {"sub": "mallory", "client_id": "acme"}}}
    assert wrapper.handler(event(None, **forged), None)["statusCode"] == 401
    token = mint("alice", "acme", SECRET)
    answer = wrapper.handler(event(f"Bearer {token}", **forged), None)
    assert json.loads(answer["body"])["claims"]["sub"] == "alice"


def test_a_public_route_goes_through_without_a_token_and_without_claims(
    echo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(wrapper.PUBLIC_ROUTE, "true")
    forged = {"authorizer": {"claims": {"sub": "mallory", "client_id": "acme"}}}
    answer = wrapper.handler(event(None, **forged), None)
    assert answer == {"statusCode": 200, "body": "null"}
