"""The repository's openapi.yaml, fuzzed against the running gateway: no 5xx, every response as documented.

Schemathesis generates requests for every operation, valid ones and invalid
ones, and runs all of its checks on each response: no server error, status
code, content type, headers and body as the document declares them, invalid
data rejected, valid data accepted, and the request refused without its token
(API Gateway's 401, as the document declares it). All but one: a method the
document does not declare is API Gateway's 404 here, not a 405 (see CONFIG).

Each request carries a valid token for the ids it names (the caller is the
generated ``client_id`` and ``user_id``), so valid requests get past
authorization and reach the tiers; refusing another user's ids is the abuse
suite's job.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import requests
import schemathesis
import yaml  # type: ignore[import-untyped]
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"[A-Za-z0-9_\-@][A-Za-z0-9_\-.@]{0,127}")
FALLBACK_CALLER = ("alice", "acme")

# Statuses the document declares for a request that is valid by its schema, but not for the
# state it meets: a stale If-Match (412) and a state over the server's size limit (413).
VALID_BUT_REFUSED = ["2xx", "401", "403", "404", "409", "412", "413"]

CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": VALID_BUT_REFUSED},
            # An HTTP API has no 405: a method a path does not declare matches no route, and API
            # Gateway answers 404 {"message":"Not Found"}. test_abuse.py's
            # test_route_misses_are_api_gateways_404_with_its_request_id sends every undeclared
            # method to every path and checks exactly that answer.
            "unsupported_method": {"enabled": False},
        },
        "operations": [
            {
                # Its query parameters are all optional, but only two combinations of them
                # mean something (`session_id`, or `client_id` with `all=true`): the others
                # are 400 invalid_request, as the operation's description says.
                "include-path": "/api/session/end",
                "include-method": "DELETE",
                "checks": {"positive_data_acceptance": {"expected-statuses": [*VALID_BUT_REFUSED, "400"]}},
            }
        ],
    }
)

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml", config=CONFIG)


def valid_id(value: object) -> bool:
    return isinstance(value, str) and ID.fullmatch(value) is not None


def caller_of(case: Any) -> tuple[str, str]:
    """The (user, client) that the case's ids name, where they are valid ids."""
    body = case.body if isinstance(case.body, dict) else {}
    query = case.query or {}
    path = case.path_parameters or {}
    session_id = body.get("session_id", query.get("session_id"))
    if isinstance(session_id, str) and session_id.count(":") == 4:
        _, client, user, _, _ = session_id.split(":")
    else:
        user = body.get("user_id", FALLBACK_CALLER[0])
        client = body.get("client_id", path.get("client_id", query.get("client_id", FALLBACK_CALLER[1])))
    if not (valid_id(user) and valid_id(client)):
        return FALLBACK_CALLER
    return user, client


HTTP = requests.Session()
# What the auth provider puts in a case; the test signs the real token when it sends the
# case (some cases are built at collection, before the gateway and its secret exist).
UNSIGNED = "Bearer token-for-the-cases-ids"


@schema.auth(refresh_interval=None)
class TokenForTheCasesIds:
    """A token for the caller that the case's ids name, on every case but those that
    schemathesis sends without credentials on purpose."""

    def get(self, case: Any, context: Any) -> str:
        return UNSIGNED

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


def sign(case: Any, gateway: Any) -> None:
    if (case.headers or {}).get("Authorization") == UNSIGNED:
        case.headers["Authorization"] = f"Bearer {gateway.token(*caller_of(case))}"


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_every_operation_answers_as_documented(case: Any, gateway: Any) -> None:
    sign(case, gateway)
    case.call_and_validate(base_url=gateway.url, session=HTTP)


# Where openapi.yaml and the server once disagreed ------------------------------------------


def document_schema(name: str) -> Any:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    )


def agree(gateway: Any, method: str, path: str, body: dict[str, Any], schema_name: str) -> None:
    response = requests.request(
        method,
        f"{gateway.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {gateway.token('alice', 'acme')}"},
        timeout=10,
    )
    assert response.status_code < 500
    accepted = response.status_code < 400
    assert accepted == document_schema(schema_name).is_valid(body), (response.status_code, response.text)


def test_document_and_server_agree_on_a_null_env(gateway: Any) -> None:
    body = {"client_id": "acme", "user_id": "alice", "app_id": "web", "project_id": "env-null", "env": None}
    agree(gateway, "POST", "/api/session/init", body, "SessionInitRequest")


def test_document_and_server_agree_on_a_large_float(gateway: Any) -> None:
    agree(
        gateway,
        "PUT",
        "/api/project-state/acme/web/large-float",
        {"state": {"k": 1e300}},
        "ProjectSaveRequest",
    )


def test_end_with_session_id_and_client_id_is_400(gateway: Any) -> None:
    headers = {"Authorization": f"Bearer {gateway.token('alice', 'acme')}"}
    ids = {"client_id": "acme", "user_id": "alice", "app_id": "web", "project_id": "end-mixed"}
    session_id = "session:acme:alice:web:end-mixed"
    assert requests.post(f"{gateway.url}/api/session/init", json=ids, headers=headers, timeout=10).ok
    response = requests.delete(
        f"{gateway.url}/api/session/end",
        params={"session_id": session_id, "client_id": "not:an:id", "all": "maybe"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 400, response.status_code
    assert response.json()["error"]["code"] == "invalid_request"


# Hostile input, judged by the document ------------------------------------------------------
#
# Text where a number goes (other scripts' digits, which str.isdigit() takes; numbers far over
# any bound) and strings that cannot be stored (a lone UTF-16 surrogate, as a value or a key),
# sent in cases of the document's own operations: every answer must be one the document
# declares for the operation, with the body it declares, and never a 5xx.

HOSTILE_CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.specs.openapi.checks.status_code_conformance,
    schemathesis.specs.openapi.checks.content_type_conformance,
    schemathesis.specs.openapi.checks.response_schema_conformance,
]
unicode_numbers = st.builds(
    lambda a, u, b: a + u + b,
    st.text("0123456789", max_size=3),
    st.text(
        st.characters(categories=["Nd", "No"]).filter(lambda c: c.isdigit() and not c.isascii()),
        min_size=1,
        max_size=3,
    ),
    st.text("0123456789", max_size=3),
)
oversized_numbers = st.builds(
    str.__add__, st.sampled_from("123456789"), st.text("0123456789", min_size=18, max_size=5000)
)
hostile_numbers = st.one_of(unicode_numbers, oversized_numbers)
hostile_strings = st.builds(
    lambda a, s, b: a + s + b,
    st.text(max_size=4),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=4),
)
PROJECT = "/api/project-state/{client_id}/{app_id}/{project_id}"


def call(gateway: Any, path: str, method: str, **parts: Any) -> None:
    headers = {"Authorization": f"Bearer {gateway.token('alice', 'acme')}", **parts.pop("headers", {})}
    case = schema[path][method].Case(headers=headers, **parts)
    case.call_and_validate(base_url=gateway.url, session=HTTP, checks=HOSTILE_CHECKS)


IDS = {"client_id": "acme", "app_id": "web", "project_id": "hostile"}


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(text=hostile_numbers)
def test_hostile_numbers_answer_as_documented(gateway: Any, text: str) -> None:
    call(gateway, f"{PROJECT}/snapshots", "GET", path_parameters=IDS, query={"limit": text})
    stamp = "20261124T123456789Z"
    for snapshot in (f"{text}-{stamp}", f"1-{stamp[:9]}{text}Z"):
        call(gateway, f"{PROJECT}/snapshots", "GET", path_parameters=IDS, query={"before": snapshot})
        call(
            gateway,
            f"{PROJECT}/snapshots/{{snapshot_id}}/restore",
            "POST",
            path_parameters={**IDS, "snapshot_id": snapshot},
        )
    if text.isascii():
        # (A header value is Latin-1 on the wire; the abuse suite sends the raw UTF-8 bytes.)
        call(gateway, PROJECT, "PUT", path_parameters=IDS, headers={"If-Match": text}, body={"state": {}})


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.generate])
@given(text=hostile_strings)
def test_unstorable_strings_answer_as_documented(gateway: Any, text: str) -> None:
    ids = {"client_id": "acme", "user_id": "alice", "app_id": "web", "project_id": "hostile"}
    session_id = "session:acme:alice:web:hostile"
    call(gateway, "/api/session/init", "POST", body={**ids, "env": {"k": text}})
    call(gateway, "/api/session/init", "POST", body={**ids, "env": {text: 1}})
    call(
        gateway, "/api/session/update", "PATCH", body={"session_id": session_id, "key": "k", "value": [text]}
    )
    call(gateway, "/api/session/update", "PATCH", body={"session_id": session_id, "navigation": {text: "/"}})
    call(gateway, PROJECT, "PUT", path_parameters=IDS, body={"state": {"k": {"deeper": text}}})
    call(gateway, PROJECT, "PUT", path_parameters=IDS, body={"state": {text: 1}})
