"""``infra/template.yaml`` as the local gateway reads it (:mod:`stateway_local.template`).

Parameters take their ``Default`` or the value given for them; intrinsic functions are
evaluated; what only a deployment knows (a cloud resource's attribute, a parameter without a
value, a pseudo parameter) leaves the variable out, and so does ``AWS::NoValue``. The real
template then gives each function its routes and its own environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stateway_local.template import (
    NO_VALUE,
    HttpApi,
    Resolver,
    Unresolved,
    environment_of,
    http_api,
    load,
    parse_overrides,
)
from stateway_testing.template import ROOT, TEMPLATE, http_routes, load_template

PARAMETERS: dict[str, Any] = {
    "Stage": {"Type": "String", "Default": "dev"},
    "Limit": {"Type": "Number", "Default": 100},
    "Origins": {"Type": "CommaDelimitedList", "Default": "https://a.example, https://b.example"},
    "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
    "Issuer": {"Type": "String"},
    "Url": {"Type": "String", "Default": ""},
    "Source": {"Type": "String", "Default": "secretsmanager:arn:aws:secret"},
}
CONDITIONS: dict[str, Any] = {
    "NoUrl": {"Fn::Equals": [{"Ref": "Url"}, ""]},
    "HasUrl": {"Fn::Not": [{"Condition": "NoUrl"}]},
    "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
    "DevWithoutUrl": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "NoUrl"}]},
    "DevOrUrl": {"Fn::Or": [{"Condition": "IsDev"}, {"Condition": "HasUrl"}]},
    "LimitIs100": {"Fn::Equals": [{"Ref": "Limit"}, "100"]},
    "FromSecrets": {
        "Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": [":", {"Ref": "Source"}]}]}, "secretsmanager"]
    },
}
TINY: dict[str, Any] = {"Parameters": PARAMETERS, "Conditions": CONDITIONS}


def resolver(parameters: dict[str, str] | None = None, resources: dict[str, str] | None = None) -> Resolver:
    return Resolver(TINY, parameters or {}, resources or {})


# Parameter overrides ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (None, {}),
        ("", {}),
        ("   ", {}),
        ("NavigationLimit=5", {"NavigationLimit": "5"}),
        ("A=1  B=two\tC=", {"A": "1", "B": "two", "C": ""}),
        ("Origins=https://a.example,https://b.example", {"Origins": "https://a.example,https://b.example"}),
        ("Url=redis://h:6379/0?x=y", {"Url": "redis://h:6379/0?x=y"}),
        ("A=1 A=2", {"A": "2"}),
    ],
)
def test_overrides_are_name_value_pairs_as_sam_deploy_takes_them(
    text: str | None, parsed: dict[str, str]
) -> None:
    assert parse_overrides(text) == parsed


@pytest.mark.parametrize("text", ["NavigationLimit", "=5", "A=1 B", "A=1 =2"])
def test_an_override_that_is_not_name_value_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Name=Value"):
        parse_overrides(text)


# Parameters ------------------------------------------------------------------------------------


def test_a_parameter_is_its_default() -> None:
    r = resolver()
    assert r.value({"Ref": "Stage"}) == "dev"
    assert r.value({"Ref": "Limit"}) == 100
    assert r.value({"Ref": "Url"}) == ""


def test_a_given_value_wins_over_the_default() -> None:
    r = resolver({"Stage": "prod", "Limit": "3", "Issuer": "https://issuer.example"})
    assert r.value({"Ref": "Stage"}) == "prod"
    assert r.value({"Ref": "Limit"}) == "3"
    assert r.value({"Ref": "Issuer"}) == "https://issuer.example"


def test_a_parameter_without_a_default_or_a_value_is_unresolved() -> None:
    with pytest.raises(Unresolved):
        resolver().value({"Ref": "Issuer"})


def test_a_value_for_a_parameter_the_template_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="NavigationLimt"):
        resolver({"NavigationLimt": "3"})


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [("Limit", "abc", "Number"), ("Level", "LOUD", "one of"), ("Name", "Has Space", "match")],
)
def test_an_override_cloudformation_would_refuse_is_refused(name: str, value: str, why: str) -> None:
    template = {
        "Parameters": {
            **PARAMETERS,
            "Level": {"Type": "String", "Default": "INFO", "AllowedValues": ["INFO", "DEBUG"]},
            "Name": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z]+$"},
        }
    }
    with pytest.raises(ValueError, match=why):
        Resolver(template, {name: value}, {})
    assert (
        Resolver(template, {"Limit": "7", "Level": "DEBUG", "Name": "prod"}, {}).value({"Ref": "Level"})
        == "DEBUG"
    )


def test_join_takes_a_list_parameter_and_sub_keeps_its_literal_escape() -> None:
    assert resolver().value({"Fn::Join": ["|", {"Ref": "Origins"}]}) == "https://a.example|https://b.example"
    assert resolver().value({"Fn::Sub": "${!Literal}-${Stage}"}) == "${Literal}-dev"


def test_list_parameters_are_split_on_commas() -> None:
    assert resolver().value({"Ref": "Origins"}) == ["https://a.example", "https://b.example"]
    given = resolver({"Origins": "https://c.example", "Subnets": "subnet-1, subnet-2"})
    assert given.value({"Ref": "Origins"}) == ["https://c.example"]
    assert given.value({"Ref": "Subnets"}) == ["subnet-1", "subnet-2"]


def test_pseudo_parameters_and_unknown_names_are_unresolved() -> None:
    for name in ("AWS::Region", "AWS::AccountId", "AWS::Partition", "NoSuchThing"):
        with pytest.raises(Unresolved):
            resolver().value({"Ref": name})


# Intrinsic functions ----------------------------------------------------------------------------


def test_conditions_are_evaluated() -> None:
    default = resolver()
    assert [default.condition(name) for name in CONDITIONS] == [True, False, True, True, True, True, True]
    given = resolver({"Url": "redis://h:6379", "Stage": "prod", "Limit": "7", "Source": "ssm:/p"})
    assert [given.condition(name) for name in CONDITIONS] == [False, True, False, False, True, False, False]


def test_if_takes_the_branch_of_its_condition() -> None:
    node = {"Fn::If": ["NoUrl", "created", {"Ref": "Url"}]}
    assert resolver().value(node) == "created"
    assert resolver({"Url": "redis://h:6379"}).value(node) == "redis://h:6379"
    # Only the branch taken is resolved.
    assert resolver().value({"Fn::If": ["IsDev", "dev", {"Fn::GetAtt": ["Cache", "Port"]}]}) == "dev"


def test_sub_fills_in_parameters_variables_and_known_resources() -> None:
    r = resolver(resources={"Bucket": "local-bucket", "Cache.Endpoint.Address": "127.0.0.1"})
    assert r.value({"Fn::Sub": "stateway-${Stage}"}) == "stateway-dev"
    assert r.value({"Fn::Sub": "${Bucket}/project-state/"}) == "local-bucket/project-state/"
    assert r.value({"Fn::Sub": "rediss://${Cache.Endpoint.Address}"}) == "rediss://127.0.0.1"
    assert r.value({"Fn::Sub": ["${Name}-${Stage}", {"Name": {"Ref": "Limit"}}]}) == "100-dev"
    with pytest.raises(Unresolved):
        r.value({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"})
    with pytest.raises(Unresolved):
        r.value({"Fn::Sub": "rediss://${Cache.Endpoint.Port}"})


def test_select_split_and_join() -> None:
    r = resolver()
    assert r.value({"Fn::Split": [":", {"Ref": "Source"}]}) == ["secretsmanager", "arn", "aws", "secret"]
    assert r.value({"Fn::Select": [1, {"Fn::Split": [":", {"Ref": "Source"}]}]}) == "arn"
    assert r.value({"Fn::Select": ["0", {"Ref": "Origins"}]}) == "https://a.example"
    assert (
        r.value({"Fn::Join": ["-", ["stateway", {"Ref": "Stage"}, {"Ref": "Limit"}]]}) == "stateway-dev-100"
    )
    assert r.value({"Fn::Join": ["", []]}) == ""


def test_get_att_is_known_only_for_resources_the_local_stack_gives() -> None:
    r = resolver(resources={"Bucket.Arn": "arn:aws:s3:::local"})
    assert r.value({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::local"
    assert r.value({"Fn::GetAtt": "Bucket.Arn"}) == "arn:aws:s3:::local"
    with pytest.raises(Unresolved):
        r.value({"Fn::GetAtt": ["Cache", "Endpoint.Address"]})


def test_no_value_and_plain_data() -> None:
    r = resolver()
    assert r.value({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r.value({"Fn::If": ["HasUrl", {"Ref": "Url"}, {"Ref": "AWS::NoValue"}]}) is NO_VALUE
    assert r.value(["a", {"Ref": "Stage"}]) == ["a", "dev"]
    assert r.value({"A": {"Ref": "Stage"}, "B": 1}) == {"A": "dev", "B": 1}
    assert r.value(7) == 7


def test_a_function_it_does_not_know_is_unresolved() -> None:
    for node in ({"Fn::ImportValue": "shared-vpc"}, {"Fn::GetAZs": ""}, {"Fn::FindInMap": ["M", "k", "v"]}):
        with pytest.raises(Unresolved):
            resolver().value(node)


# Environments -----------------------------------------------------------------------------------


def test_an_environment_holds_what_resolves_and_leaves_out_the_rest() -> None:
    variables = {
        "STAGE": {"Ref": "Stage"},
        "LIMIT": {"Ref": "Limit"},
        "LITERAL": "500",
        "FLAG": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "OFF": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "CACHE": {"Fn::Sub": "rediss://${Cache.Endpoint.Address}:${Cache.Endpoint.Port}"},
        "ISSUER": {"Ref": "Issuer"},
        "REGION": {"Ref": "AWS::Region"},
        "CA_FILE": {"Fn::If": ["HasUrl", "/ca.pem", {"Ref": "AWS::NoValue"}]},
    }
    assert environment_of(resolver(), variables) == {
        "STAGE": "dev",
        "LIMIT": "100",
        "LITERAL": "500",
        "FLAG": "true",
        "OFF": "false",
    }


def test_a_later_set_wins_and_can_take_a_variable_away() -> None:
    globals_ = {"A": "global", "B": "global", "C": "global", "D": "global"}
    function = {"B": "function", "C": {"Ref": "AWS::NoValue"}, "D": {"Fn::GetAtt": ["Cache", "Port"]}}
    assert environment_of(resolver(), globals_, function) == {"A": "global", "B": "function"}


# The real template ------------------------------------------------------------------------------

SESSION_FUNCTIONS = {"session_init", "session_state", "session_update", "session_end", "session_list"}
PROJECT_FUNCTIONS = {"project_save", "project_load", "project_snapshots", "project_restore"}
DEPLOY = {"JwtIssuer": "https://issuer.example.com/pool", "JwtAudience": "stateway-web"}


def real_api(parameters: dict[str, str] | None = None, **resources: str) -> HttpApi:
    return http_api(load(TEMPLATE), parameters=parameters or {}, resources=resources)


def environments(api: HttpApi) -> dict[str, dict[str, str]]:
    """functions/<dir> -> the environment the template gives it."""
    return {route.function.code_dir.name: route.function.environment for route in api.routes}


def test_load_reads_the_short_form_tags() -> None:
    template = load(TEMPLATE)
    assert template == load_template()
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi")
    assert api["Properties"]["Auth"]["Authorizers"]["JwtAuthorizer"]["JwtConfiguration"]["issuer"] == {
        "Ref": "JwtIssuer"
    }


def test_every_function_route_is_served_and_only_health_is_public() -> None:
    api = real_api()
    declared = {(method, path): name for name, method, path in http_routes(load_template())}
    assert {(r.method, r.path): r.function.logical_id for r in api.routes} == declared
    assert [r.path for r in api.routes if r.public] == ["/api/health"]
    assert {r.function.code_dir.name for r in api.routes} == {
        "health"
    } | SESSION_FUNCTIONS | PROJECT_FUNCTIONS


def test_each_function_runs_its_own_code_with_the_globals_handler_timeout_and_memory() -> None:
    for route in real_api().routes:
        function = route.function
        assert function.code_dir == ROOT / "functions" / function.code_dir.name
        assert (function.code_dir / "app.py").is_file()
        assert (function.handler, function.timeout, function.memory_mb) == ("app.app", 15.0, 512)


def test_session_functions_have_no_snapshot_bucket_and_project_functions_and_health_do() -> None:
    envs = environments(real_api(SnapshotBucket="local-snapshots"))
    for name in SESSION_FUNCTIONS:
        assert "STATEWAY_SNAPSHOT_BUCKET" not in envs[name], name
    for name in PROJECT_FUNCTIONS | {"health"}:
        assert envs[name]["STATEWAY_SNAPSHOT_BUCKET"] == "local-snapshots", name
    # Without a bucket of the local stack's, the bucket's name is only known to a deployment.
    assert not any("STATEWAY_SNAPSHOT_BUCKET" in env for env in environments(real_api()).values())


def test_the_defaults_are_what_every_function_gets() -> None:
    for name, env in environments(real_api()).items():
        assert env["STATEWAY_NAVIGATION_LIMIT"] == "100", name
        assert env["STATEWAY_MAX_STATE_BYTES"] == "262144"
        assert env["STATEWAY_SESSION_TTL"] == "7200"
        assert env["STATEWAY_PROJECT_TTL"] == "3600"
        assert env["STATEWAY_CLASSIFIER_CONFIG"] == "{}"
        assert env["STATEWAY_MONGODB_DB"] == "stateway"
        assert env["STATEWAY_LOG_LEVEL"] == "INFO"
        assert env["STATEWAY_REDIS_TIMEOUT_MS"] == "500"
        # The created cache is a cluster; its address only a deployment knows.
        assert env["STATEWAY_REDIS_CLUSTER"] == "true"
        assert "REDIS_URL" not in env
        # No default: a deployment must name it.
        assert "STATEWAY_MONGODB_URI_SOURCE" not in env
        # AWS::NoValue while MongoTlsCaFile is empty.
        assert "STATEWAY_MONGODB_TLS_CA_FILE" not in env
        # The authorizer's settings never reach a function.
        assert not [key for key in env if key.startswith("STATEWAY_JWT") or key == "STATEWAY_JWKS_URL"]


def test_overrides_are_what_every_function_gets() -> None:
    overrides = {
        "NavigationLimit": "3",
        "ExistingRedisUrl": "redis://127.0.0.1:6379/0",
        "MongoUriSource": "ssm:/stateway/mongodb-uri",
        "MongoTlsCaFile": "/opt/python/ca.pem",
        "LogLevel": "DEBUG",
    }
    for name, env in environments(real_api(overrides)).items():
        assert env["STATEWAY_NAVIGATION_LIMIT"] == "3", name
        assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
        # An existing cache says itself whether it is a cluster (ExistingRedisCluster's default).
        assert env["STATEWAY_REDIS_CLUSTER"] == "false"
        assert env["STATEWAY_MONGODB_URI_SOURCE"] == "ssm:/stateway/mongodb-uri"
        assert env["STATEWAY_MONGODB_TLS_CA_FILE"] == "/opt/python/ca.pem"
        assert env["STATEWAY_LOG_LEVEL"] == "DEBUG"


def test_the_authorizer_and_cors_come_from_the_http_api() -> None:
    default = real_api()
    # JwtIssuer and JwtAudience have no default: without them, nothing is required.
    assert (default.issuer, default.audience) == (None, ())
    assert default.cors == {
        "AllowOrigins": ["*"],
        "AllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        "AllowHeaders": ["Authorization", "Content-Type", "If-Match"],
        "ExposeHeaders": ["ETag", "X-Request-Id", "apigw-requestid"],
        "MaxAge": 600,
    }
    deployed = real_api({**DEPLOY, "CorsAllowOrigins": "https://app.example,https://admin.example"})
    assert (deployed.issuer, deployed.audience) == (DEPLOY["JwtIssuer"], (DEPLOY["JwtAudience"],))
    assert deployed.cors["AllowOrigins"] == ["https://app.example", "https://admin.example"]


def test_code_is_found_relative_to_the_template_it_was_read_from(tmp_path: Path) -> None:
    api = http_api(load(TEMPLATE), template_dir=tmp_path / "infra")
    assert {r.function.code_dir for r in api.routes} == {
        (tmp_path / "functions" / name) for name in {"health"} | SESSION_FUNCTIONS | PROJECT_FUNCTIONS
    }


def test_an_override_for_a_parameter_the_template_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="NavigationLimt"):
        real_api({"NavigationLimt": "3"})
