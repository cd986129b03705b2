"""Helpers for the checks of infra/template.yaml: the template as written, as the SAM
transform turns it into CloudFormation, the route table of docs/API-NOTES.md.

Everything here is offline: the transform runs in-process with a stub of the managed
policy map, and the pseudo parameters (region, account) are made-up placeholders. The
template's first transform, ``AWS::LanguageExtensions``, is applied here as far as the SAM
transform needs it (:func:`language_extensions`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from stateway_local.template import NO_VALUE as _NO_VALUE
from stateway_local.template import Resolver, load
from stateway_local.template import Unresolved as _Unresolved

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
API_NOTES = ROOT / "docs" / "API-NOTES.md"

# Placeholders for the translator's pseudo parameters; not a real region or account.
FAKE_REGION = "xx-test-1"
FAKE_ACCOUNT = "123456789012"

# Values for the parameters that have no default (what `sam deploy` must be given).
REQUIRED_PARAMETERS: dict[str, Any] = {
    "JwtIssuer": "https://issuer.example.com/pool",
    "JwtAudience": "stateway-web",
    "MongoUriSource": "secretsmanager:stateway/test/mongodb-uri",
    "ParametersSecretsExtensionLayerArn": (
        f"arn:aws:lambda:{FAKE_REGION}:{FAKE_ACCOUNT}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:1"
    ),
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
}

Template = dict[str, Any]


def load_template(path: Path = TEMPLATE) -> Template:
    """The SAM template as plain dicts, short-form tags (!Ref, !Sub, ...) in long form (the gateway's reader)."""
    return load(path)


def copy_template(root: Path, edit: Callable[[Template], None]) -> Path:
    """``infra/template.yaml``, changed by ``edit``, as ``root/infra/template.yaml``; its path.

    ``root/functions`` links to the repository's ``functions/``, so that the copy's
    ``CodeUri`` (``../functions/<dir>/``) name the same code. The copy is the template's long
    form written as JSON, which is YAML.
    """
    template = load_template()
    edit(template)
    (root / "infra").mkdir(parents=True, exist_ok=True)
    (root / "functions").symlink_to(ROOT / "functions", target_is_directory=True)
    path = root / "infra" / "template.yaml"
    path.write_text(json.dumps(template, indent=2))
    return path


#: The one function without a route: it creates the store's indexes for the ``Migration``
#: custom resource, from its own folder, with its handler in the layer.
MIGRATION_FUNCTION = "MigrationFunction"
MIGRATION_CODE_URI = "../infra/migrate/"
MIGRATION_HANDLER = "stateway.migrate.handler"


def all_functions(template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Serverless::Function, the migration's included."""
    return {
        name: resource.get("Properties", {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def sam_functions(template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Serverless::Function that serves a route.

    That is every function but :data:`MIGRATION_FUNCTION`, left out by name: any other
    function without its route still fails the route checks.
    """
    return {name: props for name, props in all_functions(template).items() if name != MIGRATION_FUNCTION}


def function_dir(properties: dict[str, Any]) -> str:
    """The functions/<dir> a function's CodeUri names."""
    match = re.fullmatch(r"\.\./functions/([a-z_]+)/?", properties["CodeUri"])
    assert match, f"CodeUri {properties['CodeUri']!r} is not ../functions/<dir>/"
    return match.group(1)


def http_events(properties: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event["Properties"]
        for event in (properties.get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    ]


def http_routes(template: Template) -> list[tuple[str, str, str]]:
    """(function logical id, METHOD, path) of every HttpApi event; a function without one has no route."""
    return [
        (name, event["Method"].upper(), event["Path"])
        for name, properties in sam_functions(template).items()
        for event in http_events(properties)
    ]


def template_routes(template: Template) -> dict[str, tuple[str, str]]:
    """functions/<dir> -> (METHOD, path) of its one HttpApi event."""
    routes = {}
    for name, properties in sam_functions(template).items():
        events = http_events(properties)
        assert len(events) == 1, f"{name} must have exactly one HttpApi event"
        routes[function_dir(properties)] = (events[0]["Method"].upper(), events[0]["Path"])
    return routes


def notes_routes() -> dict[str, tuple[str, str]]:
    """The route table of docs/API-NOTES.md: function dir -> (METHOD, path)."""
    rows = re.findall(r"^\| `([a-z_]+)` \| ([A-Z]+) \| `([^`]+)`", API_NOTES.read_text(), flags=re.M)
    assert rows, "no route table found in docs/API-NOTES.md"
    return {directory: (method, path) for directory, method, path in rows}


def packaged(template: Template) -> Template:
    """The template as `sam package` leaves it: code locations replaced by S3 URIs.

    The SAM transform only accepts S3 locations (local paths are the SAM CLI's business).
    """
    result = copy.deepcopy(template)
    for name, resource in result["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged-artifacts/{name}.zip"
    return result


#: The transforms infra/template.yaml declares, in the order CloudFormation runs them.
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def transforms(template: Template) -> list[str]:
    declared = template.get("Transform", [])
    return [declared] if isinstance(declared, str) else list(declared)


def language_extensions(template: Template, parameters: dict[str, Any] | None = None) -> Template:
    """``template`` as ``AWS::LanguageExtensions`` hands it to the SAM transform, for ``parameters``,
    as far as the SAM transform needs it: a property of a SAM resource whose whole value is
    ``Fn::If`` becomes the branch its condition picks (the property is left out for
    ``AWS::NoValue``), and only the SAM transform is left to run.

    The SAM transform takes no ``Fn::If`` in ``AutoPublishAlias`` (a string or a Ref to a
    parameter only), and hashes the properties of a function into the logical id of its
    version as written. The real transform resolves more of the Resources section (every
    ``Fn::If`` and parameter whose value it knows), which the SAM transform passes on as it
    is; tests/infra/test_infra_snapstart.py checks what this gives against the SAM CLI's own
    implementation of the transform.
    """
    result = copy.deepcopy(template)
    if LANGUAGE_EXTENSIONS not in transforms(result):
        return result
    resolver = Resolver(result, parameter_values(result, parameters), {})
    for resource in result["Resources"].values():
        if not resource["Type"].startswith("AWS::Serverless::"):
            continue
        properties = resource.get("Properties", {})
        for key, value in list(properties.items()):
            if isinstance(value, dict) and set(value) == {"Fn::If"}:
                condition, then, otherwise = value["Fn::If"]
                chosen = then if resolver.condition(condition) else otherwise
                if chosen == {"Ref": "AWS::NoValue"}:
                    del properties[key]
                else:
                    properties[key] = chosen
    rest = [name for name in transforms(result) if name != LANGUAGE_EXTENSIONS]
    result["Transform"] = rest[0] if len(rest) == 1 else rest
    return result


def translate(template: Template, parameters: dict[str, Any] | None = None) -> Template:
    """Run the template's transforms (AWS::LanguageExtensions as :func:`language_extensions`
    does, then AWS::Serverless-2016-10-31) offline; raise on any error."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = language_extensions(template, parameters)
    values = {**REQUIRED_PARAMETERS, "AWS::AccountId": FAKE_ACCOUNT, **(parameters or {})}
    translator = Translator(
        managed_policy_map={},
        sam_parser=Parser(),
        boto_session=boto3.session.Session(region_name=FAKE_REGION),
    )
    try:
        translated: Template = translator.translate(
            packaged(template), parameter_values=values, get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        messages = "\n".join(cause.message for cause in exc.causes)
        raise AssertionError(f"SAM transform failed:\n{messages}") from exc
    return translated


def lint(path: Path = TEMPLATE, parameters: dict[str, Any] | None = None) -> list[str]:
    """cfn-lint's errors and warnings for ``path``, deployed with ``parameters`` (and the required ones)."""
    from cfnlint.api import ManualArgs, lint_file

    values = {**REQUIRED_PARAMETERS, **(parameters or {})}
    flat = {name: ",".join(value) if isinstance(value, list) else value for name, value in values.items()}
    matches = lint_file(path, config=ManualArgs(parameters=[flat]))
    return [
        f"{m.rule.id} line {m.linenumber}: {m.message}"
        for m in matches
        if m.rule.severity in ("error", "warning")
    ]


def condition_holds(template: Template, condition: str, parameters: dict[str, Any] | None = None) -> bool:
    """Whether ``condition`` of ``template`` is true for a deploy with ``parameters``."""
    return bool(Resolver(template, parameter_values(template, parameters), {}).condition(condition))


# --- values as CloudFormation would resolve them ----------------------------------------

#: What ``Ref: AWS::NoValue`` resolves to (the key is left out), and the value of what only
#: CloudFormation knows at deploy time (a resource's attribute or id): the local gateway's.
NO_VALUE = _NO_VALUE
Unresolved = _Unresolved


def parameter_values(template: Template, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every parameter's value for a deploy with ``parameters`` (defaults, then the required ones)."""
    values = {name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec}
    for name, value in values.items():
        if template["Parameters"][name]["Type"] != "CommaDelimitedList":
            values[name] = str(value)
    values.update(REQUIRED_PARAMETERS)
    values.update(parameters or {})
    return values


def resolve(template: Template, value: Any, parameters: dict[str, Any] | None = None) -> Any:
    """``value`` evaluated as CloudFormation would for a deploy with ``parameters`` (the local
    gateway's resolver); what only a deployment knows is an :class:`Unresolved` in its place."""
    resolver = Resolver(template, parameter_values(template, parameters), {})

    def evaluate(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (evaluate(item) for item in node) if item is not NO_VALUE]
        if isinstance(node, dict) and not _intrinsic(node):
            # A plain mapping (the variables): a key whose value is AWS::NoValue is left out.
            evaluated = ((key, evaluate(item)) for key, item in node.items())
            return {key: item for key, item in evaluated if item is not NO_VALUE}
        try:
            return resolver.value(node)
        except Unresolved:
            return Unresolved(node)

    return evaluate(value)


def _intrinsic(node: dict[str, Any]) -> bool:
    first = next(iter(node), "")
    return len(node) == 1 and (first in ("Ref", "Condition") or first.startswith("Fn::"))
