"""infra/localstack/template.yaml is generated from infra/template.yaml, and deploys its API on LocalStack's free plan.

The committed file must be what ``python -m stateway_local.localstack_template`` writes
from the production template; what it holds is then checked against production (every
route, handler and setting, the routes left open), for what the free plan cannot run
(HTTP APIs, authorizers, ElastiCache, layers, VPCs), and by both validators, as
tests/infra/test_infra_template.py runs them on production. A change to production (a
function, a route, a setting) shows up in the generated template with no change to the
generator, and one that does not map fails the generator, naming it.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stateway import config
from stateway_edge import wrapper
from stateway_edge.authorizer import JWKS_URL, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, AuthorizerConfig
from stateway_local import localstack_template
from stateway_local.localstack_template import (
    BUILD_DIR,
    COMMAND,
    LOCALSTACK_TEMPLATE,
    PARAMETERS,
    WRAPPER_ENV_NAMES,
    WRAPPER_HANDLER,
    code_dirs,
    diff,
    generate,
    render,
)
from stateway_local.template import Resolver, environment_of, load
from stateway_testing.template import (
    MIGRATION_FUNCTION,
    MIGRATION_HANDLER,
    ROOT,
    TEMPLATE,
    Template,
    all_functions,
    http_events,
    http_routes,
    translate,
)

#: Values for the parameters without a default (what the deploy must give).
LOCAL_PARAMETERS = {"RedisUrl": "redis://127.0.0.1:6379/0", "MongoUri": "mongodb://127.0.0.1:27017/"}
#: Production's variables that have another name here.
RENAMED = {config.MONGODB_URI_SOURCE: config.MONGODB_URI}
#: Production parameters with no use here (or another definition: the JWT ones).
DROPPED_PARAMETERS = {
    "MongoUriSource",
    "ParametersSecretsExtensionLayerArn",
    "VpcId",
    "SubnetIds",
    "CacheMaxDataStorageGB",
    "ExistingRedisUrl",
    "ExistingRedisCluster",
    "CorsAllowOrigins",
}
COPIED_PARAMETERS = {
    "Stage",
    "MongoDbName",
    "LogLevel",
    "SessionTtlSeconds",
    "ProjectTtlSeconds",
    "MaxStateBytes",
    "NavigationLimit",
    "ClassifierConfig",
    "SnapshotRetentionDays",
    "LogRetentionDays",
    "MongoTlsCaFile",
}
NOT_ON_THE_FREE_PLAN = (
    "AWS::Serverless::HttpApi",
    "AWS::Serverless::LayerVersion",
    "AWS::ApiGatewayV2::",
    "AWS::ElastiCache::",
    "AWS::EC2::",
    "AWS::IAM::ManagedPolicy",
    "AWS::S3::BucketPolicy",
)


@pytest.fixture(scope="module")
def generated(sam_template: Template) -> Template:
    return generate(sam_template)


def functions_of(template: Template) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def api_events(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: event for name, event in (properties.get("Events") or {}).items() if event["Type"] == "Api"}


def variables_of(template: Template, name: str) -> dict[str, Any]:
    """The variables a function gets: Globals, then its own."""
    defaults = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**defaults, **own}


def walk_keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {key for value in node.values() for key in walk_keys(value)}
    if isinstance(node, list):
        return {key for item in node for key in walk_keys(item)}
    return set()


# --- generated, not written ----------------------------------------------------------------


def test_the_committed_template_is_the_generated_one(sam_template: Template) -> None:
    committed = LOCALSTACK_TEMPLATE.read_text()
    expected = render(generate(sam_template))
    changes = "".join(diff(committed, expected)[:60])
    assert committed == expected, (
        f"{LOCALSTACK_TEMPLATE.relative_to(ROOT)} is out of date: run `{COMMAND}`\n{changes}"
    )


def test_the_template_reads_back_as_generated(generated: Template) -> None:
    assert load(LOCALSTACK_TEMPLATE) == generated
    assert render(generated) == render(copy.deepcopy(generated))


def test_the_header_says_it_is_generated_and_how() -> None:
    text = LOCALSTACK_TEMPLATE.read_text()
    assert text.startswith("# GENERATED from infra/template.yaml")
    assert f"`{COMMAND}`" in text.splitlines()[0]


def test_check_fails_with_a_diff_when_the_file_is_out_of_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert localstack_template.main(["--check"]) == 0
    stale = tmp_path / "template.yaml"
    stale.write_text(LOCALSTACK_TEMPLATE.read_text().replace("Method: get", "Method: post", 1))
    monkeypatch.setattr(localstack_template, "LOCALSTACK_TEMPLATE", stale)
    capsys.readouterr()
    assert localstack_template.main(["--check"]) == 1
    out, err = capsys.readouterr()
    assert "-            Method: post" in out and "+            Method: get" in out
    assert COMMAND in err
    # Without --check the file is written, and is then up to date.
    assert localstack_template.main([]) == 0
    assert stale.read_text() == LOCALSTACK_TEMPLATE.read_text()


# --- the same API ----------------------------------------------------------------------------


def test_every_route_is_one_rest_api_event_of_the_same_function(
    sam_template: Template, generated: Template
) -> None:
    production = all_functions(sam_template)
    functions = functions_of(generated)
    routes = Counter(
        (name, event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for name, properties in functions.items()
        for event in api_events(properties).values()
    )
    assert routes == Counter(http_routes(sam_template))
    assert set(routes.values()) == {1}
    for name, properties in functions.items():
        assert not [event for event in (properties.get("Events") or {}).values() if event["Type"] != "Api"]
        if not http_events(production[name]):
            continue
        assert properties["Handler"] == WRAPPER_HANDLER, name
        assert properties["Environment"]["Variables"][wrapper.HANDLER] == production[name]["Handler"], name
        assert set(api_events(properties)) == set(production[name]["Events"]), name
        for event in api_events(properties).values():
            assert event["Properties"]["RestApiId"] == {"Ref": "Api"}, name


def test_the_wrapper_handler_names_the_wrapper() -> None:
    module, _, attribute = WRAPPER_HANDLER.rpartition(".")
    assert module == wrapper.__name__
    assert getattr(wrapper, attribute) is wrapper.handler


def test_exactly_the_routes_production_leaves_open_are_public(
    sam_template: Template, generated: Template
) -> None:
    open_in_production = {
        (event["Method"].upper(), event["Path"])
        for properties in all_functions(sam_template).values()
        for event in http_events(properties)
        if event.get("Auth", {}).get("Authorizer") == "NONE"
    }
    public = set()
    for properties in functions_of(generated).values():
        flag = properties.get("Environment", {}).get("Variables", {}).get(wrapper.PUBLIC_ROUTE)
        assert flag in (None, "true")
        if flag == "true":
            public |= {
                (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                for event in api_events(properties).values()
            }
    assert public == open_in_production
    assert public  # the health check


def test_functions_keep_their_ids_descriptions_and_sizes(sam_template: Template, generated: Template) -> None:
    production = all_functions(sam_template)
    functions = functions_of(generated)
    assert list(functions) == list(production)
    for name, properties in functions.items():
        for key in ("Description", "Timeout", "MemorySize"):
            assert properties.get(key) == production[name].get(key), (name, key)
        # The folder stateway_local.localstack_package fills, relative to this template.
        assert (
            LOCALSTACK_TEMPLATE.parent / properties["CodeUri"]
        ).resolve() == BUILD_DIR / "functions" / name
    assert {"Runtime", "Timeout", "MemorySize"} <= set(generated["Globals"]["Function"])
    for key in ("Runtime", "Timeout", "MemorySize"):
        assert generated["Globals"]["Function"][key] == sam_template["Globals"]["Function"][key], key
    assert generated["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]


def test_each_function_is_packaged_from_its_production_folder(sam_template: Template) -> None:
    folders = code_dirs(sam_template)
    assert set(folders) == set(all_functions(sam_template))
    assert folders[MIGRATION_FUNCTION] == ROOT / "infra" / "migrate"
    assert folders["SessionInitFunction"] == ROOT / "functions" / "session_init"
    assert all(folder.is_dir() for folder in folders.values())


def test_the_migration_runs_its_own_handler_for_its_custom_resource(generated: Template) -> None:
    migration = generated["Resources"][MIGRATION_FUNCTION]["Properties"]
    assert migration["Handler"] == MIGRATION_HANDLER
    assert "Events" not in migration
    assert wrapper.HANDLER not in migration.get("Environment", {}).get("Variables", {})
    # The free plan runs no custom resources: none is declared, and an output names the
    # function the deploy invokes instead.
    assert not [r for r in generated["Resources"].values() if r["Type"].startswith("Custom::")]
    assert generated["Outputs"]["MigrationFunction"]["Value"] == {"Ref": MIGRATION_FUNCTION}


# --- settings ----------------------------------------------------------------------------------


def test_functions_get_only_names_the_layer_or_the_wrapper_reads(generated: Template) -> None:
    assert set(WRAPPER_ENV_NAMES) == {
        JWT_SECRET,
        JWKS_URL,
        JWT_ISSUER,
        JWT_AUDIENCE,
        wrapper.HANDLER,
        wrapper.PUBLIC_ROUTE,
    }
    for name in functions_of(generated):
        assert set(variables_of(generated, name)) <= set(config.ENV_NAMES) | set(WRAPPER_ENV_NAMES), name


def test_functions_get_every_production_setting(sam_template: Template, generated: Template) -> None:
    replaced = {config.REDIS_URL, config.REDIS_CLUSTER, config.MONGODB_URI_SOURCE}
    for name in all_functions(sam_template):
        production = variables_of(sam_template, name)
        variables = variables_of(generated, name)
        assert {RENAMED.get(key, key) for key in production} <= set(variables), name
        for key in set(production) - replaced:
            assert variables[key] == production[key], (name, key)
        assert variables[config.REDIS_URL] == {"Ref": "RedisUrl"}
        assert variables[config.REDIS_CLUSTER] == {"Ref": "RedisCluster"}
        assert variables[config.MONGODB_URI] == {"Ref": "MongoUri"}
        assert config.MONGODB_URI_SOURCE not in variables
        for setting, parameter in (
            (JWT_SECRET, "JwtSecret"),
            (JWKS_URL, "JwksUrl"),
            (JWT_ISSUER, "JwtIssuer"),
            (JWT_AUDIENCE, "JwtAudience"),
        ):
            assert variables[setting] == {"Ref": parameter}, name


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"RedisCluster": "true", "JwtSecret": "s3cret", "JwtAudience": "web,cli", "MongoTlsCaFile": ""},
            id="cluster-secret-audiences",
        ),
    ],
)
def test_resolved_values_are_what_config_and_the_wrapper_accept(
    generated: Template, parameters: dict[str, str]
) -> None:
    resolver = Resolver(
        generated, {**LOCAL_PARAMETERS, **parameters}, {"SnapshotBucket": "stateway-snapshots"}
    )
    defaults = generated["Globals"]["Function"]["Environment"]["Variables"]
    for name, properties in functions_of(generated).items():
        environ = environment_of(resolver, defaults, properties.get("Environment", {}).get("Variables", {}))
        settings = config.Settings.from_env(environ)
        assert settings.redis_url == LOCAL_PARAMETERS["RedisUrl"], name
        assert settings.mongodb_uri == LOCAL_PARAMETERS["MongoUri"], name
        assert settings.redis_cluster is (parameters.get("RedisCluster") == "true"), name
        assert config.MONGODB_TLS_CA_FILE not in environ, name
        authorizer = AuthorizerConfig.from_env(environ)
        assert authorizer.secret == (parameters.get("JwtSecret") or None), name
        assert authorizer.audience == tuple(filter(None, parameters.get("JwtAudience", "").split(","))), name


# --- parameters --------------------------------------------------------------------------------


def test_parameters_are_copied_from_production(sam_template: Template, generated: Template) -> None:
    parameters = generated["Parameters"]
    assert set(parameters) >= COPIED_PARAMETERS
    assert not set(parameters) & DROPPED_PARAMETERS
    for name in set(parameters) - set(PARAMETERS):
        assert parameters[name] == sam_template["Parameters"][name], name
    assert {name for name, spec in parameters.items() if "Default" not in spec} == set(LOCAL_PARAMETERS)
    # The issuer is checked only when given, and need not be https (a local token server).
    assert parameters["JwtIssuer"] == {**parameters["JwtIssuer"], "Default": ""}
    assert "AllowedPattern" not in parameters["JwtIssuer"]


def test_secrets_are_no_echo_and_never_shown(generated: Template) -> None:
    parameters = generated["Parameters"]
    secret = {name for name, spec in parameters.items() if spec.get("NoEcho")}
    assert secret == {"MongoUri", "RedisUrl", "JwtSecret"}
    shown = [generated["Outputs"]]
    for name in secret:
        assert all(f"'{name}'" not in str(part) for part in shown), name


@pytest.mark.parametrize(
    ("parameter", "value", "valid"),
    [
        ("RedisUrl", "redis://127.0.0.1:6379/0", True),
        ("RedisUrl", "rediss://cache.internal:6379", True),
        ("RedisUrl", "http://cache.internal:6379", False),
        ("RedisUrl", "", False),
        ("MongoUri", "mongodb://127.0.0.1:27017/", True),
        ("MongoUri", "mongodb+srv://user:pass@cluster.example.net/db", True),
        ("MongoUri", "secretsmanager:stateway/mongodb-uri", False),
        ("MongoUri", "", False),
    ],
)
def test_url_parameters_take_only_their_schemes(
    generated: Template, parameter: str, value: str, valid: bool
) -> None:
    pattern = generated["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is valid


def test_choice_parameters_offer_only_what_is_accepted(generated: Template) -> None:
    parameters = generated["Parameters"]
    assert parameters["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert parameters["Architecture"]["Default"] == "x86_64"
    assert parameters["RedisCluster"]["Default"] == "false"
    for value in parameters["RedisCluster"]["AllowedValues"]:
        assert config.Settings.from_env({config.REDIS_CLUSTER: value}).redis_cluster is (value == "true")


# --- what the free plan runs ---------------------------------------------------------------------


def test_nothing_the_free_plan_cannot_run(generated: Template) -> None:
    types = {resource["Type"] for resource in generated["Resources"].values()}
    assert not [kind for kind in types if kind.startswith(NOT_ON_THE_FREE_PLAN)], types
    assert not {"Layers", "VpcConfig", "Auth", "HttpApi"} & walk_keys(generated)
    assert generated["Resources"]["Api"]["Type"] == "AWS::Serverless::Api"
    assert generated["Resources"]["Api"]["Properties"]["StageName"] == {"Ref": "Stage"}


def test_the_bucket_is_production_s_without_the_tls_policy(
    sam_template: Template, generated: Template
) -> None:
    bucket = generated["Resources"]["SnapshotBucket"]
    assert bucket["Properties"] == sam_template["Resources"]["SnapshotBucket"]["Properties"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Delete"
    policies = [r for r in generated["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert policies == []
    assert "DenyInsecureTransport" not in str(generated)
    for name, properties in functions_of(generated).items():
        reads = config.SNAPSHOT_BUCKET in variables_of(generated, name)
        expected = [{"S3CrudPolicy": {"BucketName": {"Ref": "SnapshotBucket"}}}] if reads else None
        assert properties.get("Policies") == expected, name


def test_outputs(generated: Template) -> None:
    outputs = generated["Outputs"]
    assert list(outputs) == ["ApiUrl", "ApiId", "MigrationFunction", "SnapshotBucketName"]
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "http://localhost:4566/restapis/${Api}/${Stage}/_user_request_"
    }
    assert outputs["ApiId"]["Value"] == {"Ref": "Api"}
    assert outputs["SnapshotBucketName"]["Value"] == {"Ref": "SnapshotBucket"}


# --- validators (as tests/infra/test_infra_template.py runs them on production) --------------------


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_sam_transform_succeeds(generated: Template, architecture: str) -> None:
    translated = translate(generated, {**LOCAL_PARAMETERS, "Architecture": architecture})
    assert "Transform" not in translated
    resources = translated["Resources"]
    types = {resource["Type"] for resource in resources.values()}
    assert not any(kind.startswith("AWS::Serverless::") for kind in types)
    assert {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage", "AWS::Lambda::Function"} <= types
    assert not [
        kind for kind in types if kind.startswith(("AWS::ApiGatewayV2::", "AWS::Lambda::LayerVersion"))
    ]
    lambdas = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(lambdas) == set(functions_of(generated))
    for name, properties in lambdas.items():
        assert "Layers" not in properties and "VpcConfig" not in properties, name
        assert properties["Architectures"] == [{"Ref": "Architecture"}], name


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(Path(LOCALSTACK_TEMPLATE), config=ManualArgs())
    problems = [
        f"{m.rule.id} line {m.linenumber}: {m.message}"
        for m in matches
        if m.rule.severity in ("error", "warning")
    ]
    assert problems == []


# --- production changes show up here ---------------------------------------------------------------


def test_a_new_setting_in_production_reaches_every_function(sam_template: Template) -> None:
    production = copy.deepcopy(sam_template)
    production["Parameters"]["NewLimit"] = {"Type": "Number", "Default": 7, "MinValue": 1}
    production["Globals"]["Function"]["Environment"]["Variables"]["STATEWAY_NEW_LIMIT"] = {"Ref": "NewLimit"}
    production["Resources"]["SessionListFunction"]["Properties"].setdefault("Environment", {"Variables": {}})
    production["Resources"]["SessionListFunction"]["Properties"]["Environment"]["Variables"][
        "STATEWAY_PAGE"
    ] = "20"
    generated = generate(production)
    assert generated["Globals"]["Function"]["Environment"]["Variables"]["STATEWAY_NEW_LIMIT"] == {
        "Ref": "NewLimit"
    }
    assert generated["Parameters"]["NewLimit"] == production["Parameters"]["NewLimit"]
    assert variables_of(generated, "SessionListFunction")["STATEWAY_PAGE"] == "20"


def test_a_new_function_in_production_is_deployed_here(sam_template: Template) -> None:
    production = copy.deepcopy(sam_template)
    function = copy.deepcopy(production["Resources"]["SessionListFunction"])
    function["Properties"]["Description"] = "GET /api/version"
    function["Properties"]["CodeUri"] = "../functions/version/"
    function["Properties"]["Events"] = {
        "Version": {
            "Type": "HttpApi",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "Method": "GET",
                "Path": "/api/version",
                "PayloadFormatVersion": "1.0",
                "Auth": {"Authorizer": "NONE"},
            },
        }
    }
    production["Resources"]["VersionFunction"] = function
    generated = generate(production)
    properties = generated["Resources"]["VersionFunction"]["Properties"]
    assert properties["Handler"] == WRAPPER_HANDLER
    assert properties["Environment"]["Variables"] == {
        wrapper.HANDLER: "app.app",
        wrapper.PUBLIC_ROUTE: "true",
    }
    assert properties["Events"] == {
        "Version": {
            "Type": "Api",
            "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/api/version", "Method": "get"},
        }
    }
    assert code_dirs(production)["VersionFunction"] == ROOT / "functions" / "version"


def test_what_does_not_map_fails_the_generator_naming_it(sam_template: Template) -> None:
    production = copy.deepcopy(sam_template)
    variables = production["Globals"]["Function"]["Environment"]["Variables"]
    variables["STATEWAY_CACHE_HOST"] = {"Fn::GetAtt": ["Cache", "Endpoint.Address"]}
    with pytest.raises(ValueError, match=r"Cache \(AWS::ElastiCache::ServerlessCache\)"):
        generate(production)
    production = copy.deepcopy(sam_template)
    production["Resources"]["SessionListFunction"]["Properties"]["Events"]["Nightly"] = {
        "Type": "Schedule",
        "Properties": {"Schedule": "rate(1 day)"},
    }
    with pytest.raises(ValueError, match="SessionListFunction has events of type"):
        generate(production)


def test_the_production_template_is_left_as_it_was(sam_template: Template) -> None:
    before = copy.deepcopy(sam_template)
    generate(sam_template)
    assert sam_template == before
    assert load(TEMPLATE) == before
