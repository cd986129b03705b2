"""The SnapStart parameter: with "true", every function behind a route runs from a snapshot of
a published version, called through the alias ``live``; with "false" (the default), none of it.

The SAM transform takes no ``Fn::If`` in ``AutoPublishAlias``, so the template's first
transform, ``AWS::LanguageExtensions``, resolves the three per-function properties before it
runs; tests/support/template.py applies that step offline (``language_extensions``), and the
last test here checks that step against the SAM CLI's own implementation of the transform.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from stateway_testing.template import (
    LANGUAGE_EXTENSIONS,
    MIGRATION_FUNCTION,
    REQUIRED_PARAMETERS,
    ROOT,
    SAM_TRANSFORM,
    Template,
    all_functions,
    condition_holds,
    http_events,
    language_extensions,
    lint,
    sam_functions,
    transforms,
    translate,
)

ALIAS = "live"
SNAPSTART = {"ApplyOn": "PublishedVersions"}
SAM_VENV = ROOT / "infra" / "sam" / "venv.sh"


def of_type(translated: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in translated["Resources"].items() if r["Type"] == kind}


def versions_of(translated: Template, function: str) -> dict[str, dict[str, Any]]:
    return {
        name: version
        for name, version in of_type(translated, "AWS::Lambda::Version").items()
        if version["Properties"]["FunctionName"] == {"Ref": function}
    }


def aliases_of(translated: Template, function: str) -> dict[str, dict[str, Any]]:
    return {
        name: alias
        for name, alias in of_type(translated, "AWS::Lambda::Alias").items()
        if alias["Properties"]["FunctionName"] == {"Ref": function}
    }


def integration_uri(translated: Template, method: str, path: str) -> str:
    """The Lambda ARN the HTTP API's route integration invokes, as the ``Fn::Sub`` names it."""
    operation = translated["Resources"]["Api"]["Properties"]["Body"]["paths"][path][method.lower()]
    uri: str = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    return uri


def permissions_of(translated: Template, function: str) -> list[Any]:
    """What the API Gateway permissions of ``function``'s routes let the API invoke."""
    return [
        permission["Properties"]["FunctionName"]
        for name, permission in of_type(translated, "AWS::Lambda::Permission").items()
        if name.startswith(function)
    ]


@pytest.fixture(scope="module")
def snapstart_on(sam_template: Template) -> Template:
    return translate(sam_template, {"SnapStart": "true"})


@pytest.fixture(scope="module")
def snapstart_off(sam_template: Template) -> Template:
    return translate(sam_template, {"SnapStart": "false"})


def test_the_parameter_is_off_by_default(sam_template: Template, cfn_template: Template) -> None:
    spec = sam_template["Parameters"]["SnapStart"]
    assert spec["Default"] == "false"
    assert sorted(spec["AllowedValues"]) == ["false", "true"]
    assert condition_holds(sam_template, "SnapStartOn", {"SnapStart": "true"})
    assert not condition_holds(sam_template, "SnapStartOn", {})
    # The default deploy has no version and no alias.
    assert not of_type(cfn_template, "AWS::Lambda::Version")
    assert not of_type(cfn_template, "AWS::Lambda::Alias")


def test_language_extensions_runs_before_the_sam_transform(sam_template: Template) -> None:
    assert transforms(sam_template) == [LANGUAGE_EXTENSIONS, SAM_TRANSFORM]


def test_every_route_function_asks_for_snapstart_only_when_it_is_on(sam_template: Template) -> None:
    for name, properties in sam_functions(sam_template).items():
        assert properties["AutoPublishAlias"] == {"Fn::If": ["SnapStartOn", ALIAS, {"Ref": "AWS::NoValue"}]}
        assert properties["SnapStart"] == {"Fn::If": ["SnapStartOn", SNAPSTART, {"Ref": "AWS::NoValue"}]}
        assert properties["VersionDeletionPolicy"] == {
            "Fn::If": ["SnapStartOn", "Delete", {"Ref": "AWS::NoValue"}]
        }, name
        assert properties["AutoPublishAliasAllProperties"] is True, name
    # In Globals they would reach the migration too.
    for key in ("AutoPublishAlias", "SnapStart", "VersionDeletionPolicy"):
        assert key not in sam_template["Globals"]["Function"], key
    # New layer code is a new version of every function (with AutoPublishAliasAllProperties).
    assert sam_template["Resources"]["StatewayLayer"]["Properties"]["PublishLambdaVersion"] is True


@pytest.mark.parametrize("snapstart", ["true", "false"])
def test_sam_transform_and_cfn_lint_accept_it(sam_template: Template, snapstart: str) -> None:
    translated = translate(sam_template, {"SnapStart": snapstart})
    assert not any(r["Type"].startswith("AWS::Serverless::") for r in translated["Resources"].values())
    assert lint(parameters={"SnapStart": snapstart}) == []


def test_with_snapstart_each_route_calls_the_alias_of_a_snapshotted_version(
    sam_template: Template, snapstart_on: Template
) -> None:
    functions = sam_functions(sam_template)
    assert len(of_type(snapstart_on, "AWS::Lambda::Version")) == len(functions)
    assert len(of_type(snapstart_on, "AWS::Lambda::Alias")) == len(functions)
    for name, properties in functions.items():
        assert snapstart_on["Resources"][name]["Properties"]["SnapStart"] == SNAPSTART, name
        ((version_id, version),) = versions_of(snapstart_on, name).items()
        # A replaced version is deleted: its snapshot would stay cached, and billed.
        assert version["DeletionPolicy"] == "Delete", name
        ((alias_id, alias),) = aliases_of(snapstart_on, name).items()
        assert alias["Properties"]["Name"] == ALIAS
        assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
        for event in http_events(properties):
            uri = integration_uri(snapstart_on, event["Method"], event["Path"])
            assert f"/functions/${{{alias_id}}}/invocations" in uri, (name, uri)
        assert permissions_of(snapstart_on, name) == [{"Ref": alias_id}] * len(http_events(properties))


def test_without_snapstart_each_route_calls_the_function_itself(
    sam_template: Template, snapstart_off: Template
) -> None:
    assert not of_type(snapstart_off, "AWS::Lambda::Version")
    assert not of_type(snapstart_off, "AWS::Lambda::Alias")
    for name, properties in sam_functions(sam_template).items():
        assert "SnapStart" not in snapstart_off["Resources"][name]["Properties"], name
        for event in http_events(properties):
            uri = integration_uri(snapstart_off, event["Method"], event["Path"])
            assert f"/functions/${{{name}.Arn}}/invocations" in uri, (name, uri)
        assert permissions_of(snapstart_off, name) == [{"Ref": name}] * len(http_events(properties))


@pytest.mark.parametrize("snapstart", ["true", "false"])
def test_the_migration_never_has_snapstart_a_version_or_an_alias(
    sam_template: Template, snapstart: str
) -> None:
    migration = all_functions(sam_template)[MIGRATION_FUNCTION]
    for key in ("SnapStart", "AutoPublishAlias", "VersionDeletionPolicy"):
        assert key not in migration, key
    translated = translate(sam_template, {"SnapStart": snapstart})
    assert "SnapStart" not in translated["Resources"][MIGRATION_FUNCTION]["Properties"]
    assert not versions_of(translated, MIGRATION_FUNCTION)
    assert not aliases_of(translated, MIGRATION_FUNCTION)
    # CloudFormation still invokes the function itself for the custom resource.
    service_token = translated["Resources"]["Migration"]["Properties"]["ServiceToken"]
    assert service_token == {"Fn::GetAtt": [MIGRATION_FUNCTION, "Arn"]}


def layer_at(template: Template, key: str) -> Template:
    """``template`` whose layer code is at ``s3://artifacts/<key>`` (what `sam package` writes)."""
    changed = json.loads(json.dumps(template))
    changed["Resources"]["StatewayLayer"]["Properties"]["ContentUri"] = {"Bucket": "artifacts", "Key": key}
    return changed


def version_ids(template: Template, parameters: dict[str, Any]) -> set[str]:
    return set(of_type(translate(template, parameters), "AWS::Lambda::Version"))


def test_new_layer_code_publishes_a_new_version_of_every_function(sam_template: Template) -> None:
    # The stateway package is in the layer: a version that kept the old layer would run old code.
    on = {"SnapStart": "true"}
    first = version_ids(layer_at(sam_template, "layer-0a1b2c.zip"), on)
    again = version_ids(layer_at(sam_template, "layer-0a1b2c.zip"), on)
    second = version_ids(layer_at(sam_template, "layer-3d4e5f.zip"), on)
    assert first == again
    assert len(first) == len(sam_functions(sam_template))
    assert not first & second


def test_a_change_of_parameters_alone_publishes_no_new_version(sam_template: Template) -> None:
    # The SAM transform hashes a function's properties as written (``!Ref LogLevel``), not their
    # values: with SnapStart on, a deploy that changes only parameters leaves the alias on the
    # version it had (docs/DEPLOY.md, SnapStart, says so and what to do).
    on = {"SnapStart": "true"}
    assert version_ids(sam_template, on) == version_ids(sam_template, {**on, "LogLevel": "DEBUG"})


def test_cfn_lint_warns_of_snapstart_without_a_published_version(tmp_path: Path) -> None:
    # Guards the lint above: cfn-lint sees the SAM functions' SnapStart (rule W2530).
    source = (ROOT / "infra" / "template.yaml").read_text()
    line = "      AutoPublishAlias: !If [SnapStartOn, live, !Ref AWS::NoValue]\n"
    assert line in source
    broken = tmp_path / "template.yaml"
    broken.write_text(source.replace(line, "", 1))
    assert any(problem.startswith("W2530") for problem in lint(broken))


def sam_cli_python() -> Path:
    """The Python of the SAM CLI's own venv (infra/sam/venv.sh makes it once, prints its ``sam``)."""
    sam = subprocess.run(["bash", str(SAM_VENV)], capture_output=True, text=True, check=True, timeout=900)
    return Path(sam.stdout.strip().splitlines()[-1]).parent / "python"


def test_language_extensions_as_the_sam_cli_implements_it(sam_template: Template) -> None:
    # The SAM CLI ships an implementation of AWS::LanguageExtensions; what it makes of the
    # per-function properties is what tests/support/template.py hands the SAM transform.
    script = textwrap.dedent(
        """
        import json, sys
        from samcli.lib.cfn_language_extensions.sam_integration import process_template_for_sam_cli
        request = json.load(sys.stdin)
        print(json.dumps(process_template_for_sam_cli(request["template"], parameter_values=request["values"])))
        """
    )
    python = sam_cli_python()
    keys = ("AutoPublishAlias", "SnapStart", "VersionDeletionPolicy", "AutoPublishAliasAllProperties")
    for snapstart in ("true", "false"):
        values = {**REQUIRED_PARAMETERS, "SnapStart": snapstart}
        result = subprocess.run(
            [str(python), "-c", script],
            input=json.dumps({"template": sam_template, "values": values}),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        theirs = json.loads(result.stdout)["Resources"]
        ours = language_extensions(sam_template, {"SnapStart": snapstart})["Resources"]
        for name in sam_functions(sam_template):
            expected = {key: ours[name]["Properties"][key] for key in keys if key in ours[name]["Properties"]}
            got = {key: theirs[name]["Properties"][key] for key in keys if key in theirs[name]["Properties"]}
            assert got == expected, (snapstart, name)
        assert ("AutoPublishAlias" in ours["HealthFunction"]["Properties"]) is (snapstart == "true")
