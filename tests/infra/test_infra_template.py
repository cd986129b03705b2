"""infra/template.yaml is valid SAM and CloudFormation, and says what the project decided.

Two validators, because each catches what the other misses: the SAM transform (the code
CloudFormation runs for `Transform: AWS::Serverless-2016-10-31`) rejects malformed SAM
resources and events; cfn-lint checks the CloudFormation it produces against the
resource schemas (property names, types, references, conditions).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from stateway import migrate
from stateway_testing.template import (
    MIGRATION_CODE_URI,
    MIGRATION_FUNCTION,
    MIGRATION_HANDLER,
    REQUIRED_PARAMETERS,
    ROOT,
    TEMPLATE,
    Template,
    all_functions,
    function_dir,
    http_events,
    notes_routes,
    sam_functions,
    template_routes,
    translate,
)

# --- validators -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "MongoUriSource": "secretsmanager:arn:aws:secretsmanager:xx-test-1:123456789012:secret:stateway/prod/mongodb-uri-AbCdEf"
            },
            id="secret-arn",
        ),
        pytest.param({"MongoUriSource": "ssm:/stateway/prod/mongodb-uri"}, id="ssm-parameter"),
        pytest.param({"ExistingRedisUrl": "redis://cache.internal:6379/0"}, id="existing-redis"),
        pytest.param(
            {"ExistingRedisUrl": "rediss://clustercfg.cache.internal:6379", "ExistingRedisCluster": "true"},
            id="existing-redis-cluster",
        ),
        pytest.param(
            {"MongoTlsCaFile": "/opt/python/stateway/certs/global-bundle.pem"}, id="mongo-tls-ca-file"
        ),
        pytest.param(
            {"CorsAllowOrigins": "https://app.example.com,https://admin.example.com"}, id="cors-list"
        ),
    ],
)
def test_sam_transform_succeeds(sam_template: Template, parameters: dict[str, Any]) -> None:
    translated = translate(sam_template, parameters)
    assert "Transform" not in translated
    types = {resource["Type"] for resource in translated["Resources"].values()}
    assert not any(kind.startswith("AWS::Serverless::") for kind in types)
    assert {"AWS::ApiGatewayV2::Api", "AWS::Lambda::Function", "AWS::Lambda::LayerVersion"} <= types


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(Path(TEMPLATE), config=ManualArgs())
    problems = [
        f"{m.rule.id} line {m.linenumber}: {m.message}"
        for m in matches
        if m.rule.severity in ("error", "warning")
    ]
    assert problems == []


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    # Guards the check above: cfn-lint must really see the SAM resources.
    from cfnlint.api import ManualArgs, lint_file

    broken = tmp_path / "template.yaml"
    broken.write_text(TEMPLATE.read_text().replace("Engine: valkey", "Engine: valkey\n      Shards: 3"))
    matches = lint_file(broken, config=ManualArgs())
    assert any(m.rule.severity == "error" for m in matches)


# --- shape ------------------------------------------------------------------------------


def test_one_function_per_route_of_the_api_notes(sam_template: Template) -> None:
    assert template_routes(sam_template) == notes_routes()


def test_functions_share_runtime_layer_and_vpc(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    function_globals = sam_template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    assert function_globals["Architectures"] == ["arm64"]
    for name, properties in sam_functions(sam_template).items():
        directory = function_dir(properties)
        assert properties["CodeUri"] == f"../functions/{directory}/", name
        assert properties["Handler"] == "app.app", name
    # One function per route, and the migration's (which runs on the same layer, in the same VPC).
    assert len(lambda_functions) == len(notes_routes()) + 1
    assert MIGRATION_FUNCTION in lambda_functions
    for name, properties in lambda_functions.items():
        assert properties["Runtime"] == "python3.12", name
        assert properties["Architectures"] == ["arm64"], name
        layer_refs = [layer.get("Ref", "") for layer in properties["Layers"] if isinstance(layer, dict)]
        assert any(ref.startswith("StatewayLayer") for ref in layer_refs), name
        assert {"Ref": "ParametersSecretsExtensionLayerArn"} in properties["Layers"], name
        assert properties["VpcConfig"]["SubnetIds"] == {"Ref": "SubnetIds"}, name
        assert properties["VpcConfig"]["SecurityGroupIds"] == [{"Ref": "FunctionSecurityGroup"}], name


def test_layer_is_built_by_the_layer_makefile(sam_template: Template) -> None:
    layer = sam_template["Resources"]["StatewayLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "../layers/stateway"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    source = ROOT / "layers" / "stateway"
    assert (source / "requirements.txt").is_file()
    assert (source / "stateway" / "__init__.py").is_file()
    # sam runs `make build-<logical id>`; the target writes $(ARTIFACTS_DIR)/python itself.
    makefile = (source / "Makefile").read_text()
    assert re.search(r"^build-StatewayLayer:", makefile, flags=re.M)
    assert "$(ARTIFACTS_DIR)" in makefile
    assert not (source / "python").exists()


def test_every_event_is_an_http_api_route_with_payload_1_0(sam_template: Template) -> None:
    for name, properties in sam_functions(sam_template).items():
        events = properties.get("Events", {})
        assert events, name
        for event in events.values():
            assert event["Type"] == "HttpApi", name
            assert event["Properties"]["ApiId"] == {"Ref": "Api"}, name
            assert event["Properties"]["PayloadFormatVersion"] == "1.0", name


def test_jwt_authorizer_is_the_default_and_only_health_is_open(sam_template: Template) -> None:
    api = sam_template["Resources"]["Api"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    auth = api["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["JwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": [{"Ref": "JwtAudience"}],
    }
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    open_routes = {
        (event["Method"].upper(), event["Path"])
        for properties in sam_functions(sam_template).values()
        for event in http_events(properties)
        if event.get("Auth", {}).get("Authorizer") == "NONE"
    }
    assert open_routes == {("GET", "/api/health")}


def test_cors_comes_from_the_parameter(sam_template: Template) -> None:
    cors = sam_template["Resources"]["Api"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert {"Authorization", "Content-Type", "If-Match"} <= set(cors["AllowHeaders"])
    assert {"ETag", "X-Request-Id", "apigw-requestid"} <= set(cors["ExposeHeaders"])


def test_parameters(sam_template: Template) -> None:
    parameters = sam_template["Parameters"]
    for name in (
        "Stage",
        "JwtIssuer",
        "JwtAudience",
        "MongoUriSource",
        "ParametersSecretsExtensionLayerArn",
        "VpcId",
        "SubnetIds",
        "SnapshotRetentionDays",
        "LogLevel",
        "CorsAllowOrigins",
        "ClassifierConfig",
    ):
        assert name in parameters, name
    assert parameters["ClassifierConfig"]["Default"] == "{}"
    assert parameters["SubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    assert parameters["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    without_default = {name for name, spec in parameters.items() if "Default" not in spec}
    assert without_default == set(REQUIRED_PARAMETERS)


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ("secretsmanager:stateway/prod/mongodb-uri", True),
        ("secretsmanager:arn:aws:secretsmanager:xx-test-1:123456789012:secret:stateway/mongo-AbCdEf", True),
        ("ssm:/stateway/prod/mongodb-uri", True),
        ("ssm:stateway-mongodb-uri", True),
        ("mongodb+srv://user:pass@cluster.example.net/db", False),
        ("secretsmanager:", False),
        ("ssm:arn:aws:ssm:xx-test-1:123456789012:parameter/x", False),
        ("vault:secret/mongo", False),
    ],
)
def test_mongo_uri_source_accepts_only_references(sam_template: Template, source: str, valid: bool) -> None:
    pattern = sam_template["Parameters"]["MongoUriSource"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, source)) is valid


def test_no_region_or_mongodb_uri_is_written_in_the_template() -> None:
    text = TEMPLATE.read_text()
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+-\d\b", text)
    assert "mongodb://" not in text
    assert "mongodb+srv://" not in text


def test_outputs(sam_template: Template) -> None:
    outputs = sam_template["Outputs"]
    assert set(outputs) == {"ApiUrl", "SnapshotBucketName", "CacheEndpoint"}
    assert outputs["SnapshotBucketName"]["Value"] == {"Ref": "SnapshotBucket"}
    for output in outputs.values():
        assert "MongoUriSource" not in str(output["Value"])


# --- the deploy-time migration ---------------------------------------------------------


def test_the_migration_is_the_one_function_without_a_route(sam_template: Template) -> None:
    functions = all_functions(sam_template)
    assert set(functions) - set(sam_functions(sam_template)) == {MIGRATION_FUNCTION}
    migration = functions[MIGRATION_FUNCTION]
    # CloudFormation invokes it for the custom resource; nothing else can.
    assert "Events" not in migration
    assert http_events(migration) == []
    assert migration["Handler"] == MIGRATION_HANDLER
    # The handler is the layer's: the module and function the Handler names exist there.
    module, _, attribute = MIGRATION_HANDLER.rpartition(".")
    assert module == migrate.__name__
    assert callable(getattr(migrate, attribute))
    assert (ROOT / "layers" / "stateway" / Path(*module.split("."))).with_suffix(".py").is_file()


def test_the_migration_function_has_its_own_folder_with_no_app(sam_template: Template) -> None:
    migration = all_functions(sam_template)[MIGRATION_FUNCTION]
    assert migration["CodeUri"] == MIGRATION_CODE_URI
    folder = (TEMPLATE.parent / MIGRATION_CODE_URI).resolve()
    assert folder == ROOT / "infra" / "migrate"
    files = {path.name for path in folder.iterdir() if path.name != "__pycache__"}
    # Something to package (a zip function needs code of its own), and no route's app.
    assert files and all(name.endswith(".py") for name in files), files
    assert "app.py" not in files
    assert not (ROOT / "functions" / folder.name).exists()


def test_the_migration_reads_the_uri_as_the_functions_do_and_nothing_more(sam_template: Template) -> None:
    migration = all_functions(sam_template)[MIGRATION_FUNCTION]
    assert migration["Policies"] == [{"Ref": "MongoUriReadPolicy"}]
    # Layers, VPC and environment come from Globals, as every function's do.
    for key in ("Layers", "VpcConfig", "Environment", "Runtime", "Architectures"):
        assert key not in migration, key


def test_the_migration_custom_resource_runs_the_migration_function(sam_template: Template) -> None:
    resource = sam_template["Resources"]["Migration"]
    assert resource["Type"] == "Custom::StatewayMigration"
    properties = resource["Properties"]
    assert properties["ServiceToken"] == {"Fn::GetAtt": [MIGRATION_FUNCTION, "Arn"]}
    # It runs again when new layer code is deployed, or the store or database changes.
    assert properties["LayerVersion"] == {"Ref": "StatewayLayer"}
    assert properties["MongoUriSource"] == {"Ref": "MongoUriSource"}
    assert properties["MongoDbName"] == {"Ref": "MongoDbName"}
    # Nothing else: no URI or secret in the properties (CloudFormation shows them in its events).
    assert set(properties) == {
        "ServiceToken",
        "ServiceTimeout",
        "LayerVersion",
        "MongoUriSource",
        "MongoDbName",
    }
    # Delete leaves the store (and its indexes) as they are.
    assert resource.get("DeletionPolicy", "Delete") == "Delete"


def test_the_migration_answers_before_cloudformation_gives_up(sam_template: Template) -> None:
    timeout = int(all_functions(sam_template)[MIGRATION_FUNCTION]["Timeout"])
    service_timeout = int(sam_template["Resources"]["Migration"]["Properties"]["ServiceTimeout"])
    # The handler answers within its own time, keeping RESPONSE_MARGIN_S to answer a migration
    # that did not finish; and CloudFormation waits longer than one invocation and Lambda's two
    # retries of an asynchronous invocation.
    assert timeout > migrate.RESPONSE_MARGIN_S + migrate.MIN_BUDGET_S
    assert timeout > int(sam_template["Globals"]["Function"]["Timeout"])
    assert 3 * timeout <= service_timeout <= 3600


def layer_location(template: Template, key: str) -> Template:
    """``template`` whose layer code is at ``s3://artifacts/<key>`` (what `sam package` writes)."""
    changed = copy.deepcopy(template)
    changed["Resources"]["StatewayLayer"]["Properties"]["ContentUri"] = {"Bucket": "artifacts", "Key": key}
    return changed


def test_the_migration_runs_on_every_update_that_brings_new_layer_code(sam_template: Template) -> None:
    # `sam package` names the layer's zip by its content: new code, a new location. The SAM
    # transform gives each layer version its own logical id, so the custom resource's
    # LayerVersion changes, and CloudFormation sends it an Update, which migrates.
    def migration_of(key: str) -> tuple[Any, list[Any]]:
        translated = translate(layer_location(sam_template, key))
        resources = translated["Resources"]
        (layer,) = [name for name, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"]
        properties = resources["Migration"]["Properties"]
        assert properties["LayerVersion"] == {"Ref": layer}
        return properties["LayerVersion"], resources[MIGRATION_FUNCTION]["Properties"]["Layers"]

    first, first_layers = migration_of("layer-0a1b2c.zip")
    again, _ = migration_of("layer-0a1b2c.zip")
    second, second_layers = migration_of("layer-3d4e5f.zip")
    assert first == again
    assert first != second
    # ... and the function that migrates runs the new code.
    assert first in first_layers and second in second_layers
    resource = translate(sam_template)["Resources"]["Migration"]
    assert resource["Type"] == "Custom::StatewayMigration"
    assert resource["Properties"]["ServiceToken"] == {"Fn::GetAtt": [MIGRATION_FUNCTION, "Arn"]}
