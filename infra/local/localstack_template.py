"""``infra/localstack/template.yaml``, the LocalStack free-plan deployment, generated from ``infra/template.yaml``.

    python -m stateway_local.localstack_template           # write it
    python -m stateway_local.localstack_template --check   # exit 1, with a diff, when it is out of date

LocalStack's free plan has no HTTP API (v2), runs no authorizer, has no
ElastiCache and loads no layer content under ``/opt``. The template written
here deploys the same functions, routes, handlers and settings on what it does
have, and is made from the production template rather than kept beside it:

* each function with an ``HttpApi`` event keeps its logical id and event names,
  on a REST API (``AWS::Serverless::Api``) with the same paths and methods; its
  ``Handler`` is :func:`stateway_edge.wrapper.handler`, which verifies the token
  as the JWT authorizer would and calls the production handler, given in
  ``STATEWAY_HANDLER`` (``STATEWAY_PUBLIC_ROUTE=true`` where the route has
  ``Auth: Authorizer: NONE``); a function without events (the migration) keeps
  its own handler;
* every function's code is its own folder plus what the layer holds, packaged
  per function by :mod:`stateway_local.localstack_package` into the folder its
  ``CodeUri`` names;
* the settings are production's global and per-function variables, except
  ``REDIS_URL`` and ``STATEWAY_REDIS_CLUSTER`` (from the ``RedisUrl`` and
  ``RedisCluster`` parameters: no cache is created) and
  ``STATEWAY_MONGODB_URI_SOURCE``, replaced by ``MONGODB_URI`` from the NoEcho
  ``MongoUri`` parameter (no Parameters and Secrets extension to read a secret
  through); the wrapper's token settings are added;
* parameters, conditions, buckets and log groups come along when what is kept
  refers to them, copied as production declares them; a kept property that refers
  to anything else (a resource of another type, a name nowhere) is an error
  raised here, so that a change to production that does not map fails loudly;
* no custom resource: the free plan runs none (``Custom::*`` deploys as an
  unsupported no-op), so each one a kept function serves becomes an output
  ``<Resource>Function`` naming that function, which the deploy invokes itself
  (``stateway_local.localstack.deploy``: the migration, with a ``Create`` request).
"""

from __future__ import annotations

import argparse
import copy
import difflib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from stateway import config
from stateway_edge import wrapper
from stateway_edge.authorizer import JWKS_URL, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET
from stateway_local.template import TEMPLATE, load

ROOT = Path(__file__).resolve().parents[2]
LOCALSTACK_TEMPLATE = ROOT / "infra" / "localstack" / "template.yaml"
#: Where :mod:`stateway_local.localstack_package` writes ``functions/<LogicalId>/``.
BUILD_DIR = ROOT / "build" / "localstack"
#: The folder of the functions' packages, as the template's CodeUri names it (relative to the template).
FUNCTIONS_CODE_URI = Path(os.path.relpath(BUILD_DIR / "functions", LOCALSTACK_TEMPLATE.parent)).as_posix()
COMMAND = "python -m stateway_local.localstack_template"

WRAPPER_HANDLER = f"{wrapper.__name__}.{wrapper.handler.__name__}"
#: Every variable the wrapper reads (the layer's are ``stateway.config.ENV_NAMES``).
WRAPPER_ENV_NAMES = (JWT_SECRET, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE, wrapper.HANDLER, wrapper.PUBLIC_ROUTE)

FUNCTION = "AWS::Serverless::Function"
HTTP_API = "AWS::Serverless::HttpApi"
REST_API = "AWS::Serverless::Api"
#: Production resources copied (as declared, deleted with the stack) when what is kept refers to them.
COPIED_TYPES = frozenset({"AWS::S3::Bucket", "AWS::Logs::LogGroup"})
#: What a function has in production that LocalStack's free plan does not run (SnapStart, and
#: the published version and alias it needs: the routes call the function itself here).
DROPPED_FUNCTION_PROPERTIES = (
    "Layers",
    "VpcConfig",
    "Architectures",
    "Policies",
    "SnapStart",
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "VersionDeletionPolicy",
)
#: Production's transform that only its SnapStart properties need, which are dropped here.
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
PSEUDO_PARAMETERS = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)

#: Production variables given another value here; ``MONGODB_URI_SOURCE`` is replaced by ``MONGODB_URI``.
REPLACED_VARIABLES: dict[str, tuple[str, Any]] = {
    config.REDIS_URL: (config.REDIS_URL, {"Ref": "RedisUrl"}),
    config.REDIS_CLUSTER: (config.REDIS_CLUSTER, {"Ref": "RedisCluster"}),
    config.MONGODB_URI_SOURCE: (config.MONGODB_URI, {"Ref": "MongoUri"}),
}
#: The wrapper's token settings, given to every function.
WRAPPER_VARIABLES: dict[str, Any] = {
    JWT_SECRET: {"Ref": "JwtSecret"},
    JWKS_URL: {"Ref": "JwksUrl"},
    JWT_ISSUER: {"Ref": "JwtIssuer"},
    JWT_AUDIENCE: {"Ref": "JwtAudience"},
}

#: Parameters of this template only; a production parameter of the same name is replaced.
PARAMETERS: dict[str, dict[str, Any]] = {
    "RedisUrl": {
        "Type": "String",
        "NoEcho": True,
        "AllowedPattern": "^rediss?://\\S+$",
        "ConstraintDescription": "must be a redis:// or rediss:// URL",
        "Description": "URL of the Redis or Valkey the functions use (LocalStack's free plan has no ElastiCache).",
    },
    "RedisCluster": {
        "Type": "String",
        "Default": "false",
        "AllowedValues": ["true", "false"],
        "Description": '"true" when RedisUrl is a Redis or Valkey Cluster (the functions use the cluster client).',
    },
    "MongoUri": {
        "Type": "String",
        "NoEcho": True,
        "AllowedPattern": "^mongodb(\\+srv)?://\\S+$",
        "ConstraintDescription": "must be a mongodb:// or mongodb+srv:// URI",
        "Description": "MongoDB URI, passed as MONGODB_URI (there is no Parameters and Secrets extension here).",
    },
    "JwtSecret": {
        "Type": "String",
        "NoEcho": True,
        "Default": "",
        "Description": "HS256 secret the wrapper verifies tokens with; or give JwksUrl.",
    },
    "JwksUrl": {
        "Type": "String",
        "Default": "",
        "Description": "URL of the JWKS the wrapper verifies RS256/ES256 tokens with; or give JwtSecret.",
    },
    "JwtIssuer": {
        "Type": "String",
        "Default": "",
        "Description": "Issuer the tokens must carry (the iss claim); empty: not checked.",
    },
    "JwtAudience": {
        "Type": "String",
        "Default": "",
        "Description": "Audiences, comma-separated, one of which the aud (or client_id) claim must be; empty: not checked.",
    },
    "Architecture": {
        "Type": "String",
        "Default": "x86_64",
        "AllowedValues": ["x86_64", "arm64"],
        "Description": "Architecture of the functions, the host's (the package is built for it).",
    },
}

HEADER = f"""\
# GENERATED from infra/template.yaml by `{COMMAND}`: do not edit.
# Run that command after changing infra/template.yaml (tests/infra/test_localstack_template.py
# fails while this file differs from what it writes).
#
# Stateway on LocalStack's free plan: production's functions, routes, handlers and settings, on
# what the free plan runs. Each difference, and why:
# - A REST API (AWS::Serverless::Api), not an HTTP API: the free plan has no API Gateway v2.
# - No authorizer: the free plan runs none. Each route's Handler is {WRAPPER_HANDLER},
#   which verifies the token (JwtSecret or JwksUrl; JwtIssuer, JwtAudience) as the JWT authorizer
#   would, then runs the production handler named in {wrapper.HANDLER};
#   {wrapper.PUBLIC_ROUTE}=true where production has Auth: Authorizer: NONE.
# - No CORS (CorsAllowOrigins): the REST API is given no Cors setting, so it answers no browser
#   preflight; what calls it here is tests, not browsers.
# - No layers: the free plan puts no layer content under /opt. Each CodeUri is a folder that
#   `python -m stateway_local.localstack_package` fills with the function's code, the stateway and
#   stateway_edge packages and the pinned dependencies (boto3 comes from the Lambda runtime).
# - No cache: the free plan has no ElastiCache. REDIS_URL and STATEWAY_REDIS_CLUSTER come from the
#   RedisUrl and RedisCluster parameters.
# - MONGODB_URI from the NoEcho MongoUri parameter, not STATEWAY_MONGODB_URI_SOURCE: there is no
#   Parameters and Secrets extension to read a secret through (so no IAM policy for one either).
# - No VPC or security groups: nothing to isolate on a local host.
# - S3 access through SAM's S3CrudPolicy on the bucket, for the functions given STATEWAY_SNAPSHOT_BUCKET.
# - The snapshot bucket has no DenyInsecureTransport policy (LocalStack serves http); it and the
#   function log group are deleted with the stack (DeletionPolicy: Delete): a throwaway stack.
# - No API access log group: a REST API logs access through a stage setting, not used here.
# - Architecture is a parameter (default x86_64), the host's, which the package is built for;
#   production is arm64.
# - No Migration custom resource: the free plan runs no custom resources (Custom::* deploys as a
#   no-op). MigrationFunction is kept, named by the MigrationFunction output; invoke it with
#   {{"RequestType": "Create"}} after each deploy (make test's deploy does; docs/DEPLOY.md).
# - No SnapStart (the SnapStart parameter), so no published version or alias either: the free
#   plan takes no snapshots, and the routes call the function itself. Without those properties
#   nothing needs production's AWS::LanguageExtensions transform, so only the SAM transform runs.
# - No alarms: only what the kept functions refer to is copied, and nothing refers to them; a
#   throwaway stack has no one to alert.
"""


def generate(production: Mapping[str, Any]) -> dict[str, Any]:
    """The LocalStack template for ``production`` (as :func:`stateway_local.template.load` reads it)."""
    source = copy.deepcopy(dict(production))
    resources: dict[str, Any] = source["Resources"]
    function_globals: dict[str, Any] = source.get("Globals", {}).get("Function", {})

    apis = [name for name, resource in resources.items() if resource["Type"] == HTTP_API]
    if len(apis) != 1:
        raise ValueError(f"expected one {HTTP_API}, found {apis}")
    (api,) = apis

    kept: dict[str, Any] = {}
    for name, resource in resources.items():
        if resource["Type"] == HTTP_API:
            kept[name] = _rest_api(resource)
        elif resource["Type"] == FUNCTION:
            kept[name] = _function(name, resource, function_globals, api)
    globals_ = {"Function": _function_globals(function_globals)}
    outputs = _outputs(api)
    for name, resource in resources.items():
        if _custom_resource_of(resource, kept):
            outputs.update(_custom_resource_output(name, resource))

    # What is kept brings along the production resources it refers to, and what they refer to.
    body = {"Globals": globals_, "Resources": kept, "Outputs": outputs}
    while True:
        names, _ = _references(_without_custom_properties(body))
        wanted = [name for name in resources if name in names and name not in kept]
        if not wanted:
            break
        for name in wanted:
            if resources[name]["Type"] not in COPIED_TYPES:
                raise ValueError(
                    f"what the LocalStack template keeps refers to {name} ({resources[name]['Type']}), "
                    "which it does not have: map it in stateway_local.localstack_template"
                )
            kept[name] = _copied(resources[name])

    # Parameters and conditions come from what is kept, not from the custom resources' properties:
    # those that refer to anything else are left out.
    core = _without_custom_properties(body)
    conditions = _condition_closure(source.get("Conditions", {}), core)
    parameters = _parameters(source.get("Parameters", {}), core, conditions)
    available = set(kept) | set(parameters) | PSEUDO_PARAMETERS
    outputs.update(_copied_outputs(source.get("Outputs", {}), outputs, available))

    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": source.get("AWSTemplateFormatVersion", "2010-09-09"),
        "Transform": _transform(source["Transform"]),
        "Description": (
            "Stateway on LocalStack's free plan: the functions of infra/template.yaml on a REST API, "
            "each behind the token-checking wrapper, with its dependencies in its own package."
        ),
        "Parameters": parameters,
    }
    if conditions:
        template["Conditions"] = conditions
    template["Globals"] = globals_
    # Production's order, the REST API where the HTTP API was.
    template["Resources"] = {name: kept[name] for name in resources if name in kept}
    template["Outputs"] = outputs
    _check(template)
    return template


def code_dirs(production: Mapping[str, Any], template_dir: Path = TEMPLATE.parent) -> dict[str, Path]:
    """Logical id -> the production code folder of every function of the LocalStack template."""
    generated = generate(production)
    folders: dict[str, Path] = {}
    for name, resource in generated["Resources"].items():
        if resource["Type"] == FUNCTION:
            code_uri = production["Resources"][name]["Properties"]["CodeUri"]
            if not isinstance(code_uri, str):
                raise ValueError(f"{name}: CodeUri must be a folder, not {code_uri!r}")
            folders[name] = (template_dir / code_uri).resolve()
    return folders


def code_uri(logical_id: str) -> str:
    """The CodeUri of a function here: its package folder, relative to this template."""
    return f"{FUNCTIONS_CODE_URI}/{logical_id}/"


# --- pieces -------------------------------------------------------------------------------


def _transform(production: Any) -> Any:
    """Production's transforms but AWS::LanguageExtensions, as production declares them (one: a string)."""
    declared = [production] if isinstance(production, str) else list(production)
    kept = [name for name in declared if name != LANGUAGE_EXTENSIONS]
    return kept[0] if len(kept) == 1 else kept


def _rest_api(http_api: Mapping[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {"StageName": {"Ref": "Stage"}}
    if "Description" in http_api.get("Properties", {}):
        properties["Description"] = http_api["Properties"]["Description"]
    properties["EndpointConfiguration"] = {"Type": "REGIONAL"}
    return {"Type": REST_API, "Properties": properties}


def _function(name: str, resource: Mapping[str, Any], function_globals: Mapping[str, Any], api: str) -> Any:
    production = resource["Properties"]
    events = production.get("Events") or {}
    others = sorted({event["Type"] for event in events.values()} - {"HttpApi"})
    if others:
        raise ValueError(f"{name} has events of type {others}, which the LocalStack template does not map")
    properties: dict[str, Any] = {}
    for key, value in production.items():
        if key in ("CodeUri", "Handler", "Events", "Environment") or key in DROPPED_FUNCTION_PROPERTIES:
            continue
        properties[key] = value
    properties["CodeUri"] = code_uri(name)
    handler = production.get("Handler", function_globals.get("Handler"))
    variables = _variables(production.get("Environment", {}).get("Variables", {}))
    if events:
        public = {
            event["Properties"].get("Auth", {}).get("Authorizer") == "NONE" for event in events.values()
        }
        if len(public) > 1:
            raise ValueError(f"{name} has both public and authorized routes; the wrapper serves one kind")
        properties["Handler"] = WRAPPER_HANDLER
        variables[wrapper.HANDLER] = handler
        if public == {True}:
            variables[wrapper.PUBLIC_ROUTE] = "true"
    else:
        properties["Handler"] = handler
    if variables:
        properties["Environment"] = {**production.get("Environment", {}), "Variables": variables}
    global_variables = function_globals.get("Environment", {}).get("Variables", {})
    if config.SNAPSHOT_BUCKET in {**global_variables, **variables}:
        bucket = {**global_variables, **variables}[config.SNAPSHOT_BUCKET]
        properties["Policies"] = [{"S3CrudPolicy": {"BucketName": copy.deepcopy(bucket)}}]
    if events:
        properties["Events"] = {
            event_name: {"Type": "Api", "Properties": _rest_event(name, event["Properties"], api)}
            for event_name, event in events.items()
        }
    return {**{k: v for k, v in resource.items() if k != "Properties"}, "Properties": properties}


def _rest_event(name: str, event: Mapping[str, Any], api: str) -> dict[str, Any]:
    if event.get("ApiId") != {"Ref": api}:
        raise ValueError(f"{name}: an HttpApi event must name its API (ApiId: !Ref {api})")
    return {"RestApiId": {"Ref": api}, "Path": event["Path"], "Method": str(event["Method"]).lower()}


def _variables(production: Mapping[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for name, value in production.items():
        if name in REPLACED_VARIABLES:
            replaced, replacement = REPLACED_VARIABLES[name]
            variables[replaced] = copy.deepcopy(replacement)
        else:
            variables[name] = value
    return variables


def _function_globals(production: Mapping[str, Any]) -> dict[str, Any]:
    function_globals: dict[str, Any] = {}
    for key, value in production.items():
        if key in DROPPED_FUNCTION_PROPERTIES:
            if key == "Architectures":
                function_globals[key] = [{"Ref": "Architecture"}]
            continue
        if key == "Environment":
            variables = {**_variables(value.get("Variables", {})), **copy.deepcopy(WRAPPER_VARIABLES)}
            value = {**value, "Variables": variables}
        function_globals[key] = value
    function_globals.setdefault("Architectures", [{"Ref": "Architecture"}])
    return function_globals


def _copied(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {**resource, "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}


def _is_custom(resource: Mapping[str, Any]) -> bool:
    kind = str(resource["Type"])
    return kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"


def _custom_resource_of(resource: Mapping[str, Any], kept: Mapping[str, Any]) -> bool:
    """A custom resource that a function kept here serves."""
    if not _is_custom(resource):
        return False
    names, _ = _references(resource.get("Properties", {}).get("ServiceToken"))
    return bool(names) and names <= set(kept)


def _custom_resource_output(name: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """The output naming the function that serves custom resource ``name``, for the deploy to invoke."""
    (function,) = _references(resource["Properties"]["ServiceToken"])[0]
    return {
        f"{name}Function": {
            "Description": (
                f"The function behind production's {name} custom resource ({resource['Type']}), which "
                'the free plan does not run: invoke it with {"RequestType": "Create"} after each deploy.'
            ),
            "Value": {"Ref": function},
        }
    }


def _without_custom_properties(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with only the ServiceToken of each custom resource (the rest is filtered later)."""
    resources = {
        name: (
            {**resource, "Properties": {"ServiceToken": resource["Properties"]["ServiceToken"]}}
            if _is_custom(resource)
            else resource
        )
        for name, resource in body["Resources"].items()
    }
    return {**body, "Resources": resources}


def _outputs(api: str) -> dict[str, Any]:
    return {
        "ApiUrl": {
            "Description": "Base URL of the REST API on LocalStack's port 4566 (routes start with /api/).",
            "Value": {"Fn::Sub": f"http://localhost:4566/restapis/${{{api}}}/${{Stage}}/_user_request_"},
        },
        "ApiId": {
            "Description": "Id of the REST API (a client on another host:port builds the URL from it).",
            "Value": {"Ref": api},
        },
    }


def _copied_outputs(
    production: Mapping[str, Any], outputs: Mapping[str, Any], available: set[str]
) -> dict[str, Any]:
    copied: dict[str, Any] = {}
    for name, output in production.items():
        if name in outputs or "Condition" in output:
            continue
        if _references(output)[0] <= available:
            copied[name] = output
    return copied


def _condition_closure(production: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    _, wanted = _references(body)
    found: set[str] = set()
    while wanted - found:
        name = sorted(wanted - found)[0]
        if name not in production:
            raise ValueError(f"the LocalStack template refers to a condition {name} production does not have")
        found.add(name)
        wanted |= _references(production[name])[1]
    return {name: production[name] for name in production if name in found}


def _parameters(
    production: Mapping[str, Any], body: Mapping[str, Any], conditions: Mapping[str, Any]
) -> dict[str, Any]:
    names = _references(body)[0] | _references(conditions)[0]
    parameters = {name: production[name] for name in production if name in names and name not in PARAMETERS}
    parameters.update({name: copy.deepcopy(spec) for name, spec in PARAMETERS.items() if name in names})
    return parameters


def _check(template: Mapping[str, Any]) -> None:
    """Every name referred to is declared, and no NoEcho parameter is shown where CloudFormation shows it."""
    declared = set(template["Parameters"]) | set(template["Resources"]) | PSEUDO_PARAMETERS
    names, conditions = _references(template)
    if names - declared:
        raise ValueError(f"the LocalStack template refers to undeclared {sorted(names - declared)}")
    missing = conditions - set(template.get("Conditions", {}))
    if missing:
        raise ValueError(f"the LocalStack template refers to undeclared conditions {sorted(missing)}")
    secret = {name for name, spec in template["Parameters"].items() if spec.get("NoEcho")}
    shown = [template["Outputs"]] + [
        resource.get("Properties", {}) for resource in template["Resources"].values() if _is_custom(resource)
    ]
    for part in shown:
        if _references(part)[0] & secret:
            raise ValueError(f"a NoEcho parameter ({sorted(_references(part)[0] & secret)}) would be shown")


_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


def _references(node: Any) -> tuple[set[str], set[str]]:
    """(parameters and resources, conditions) that ``node`` refers to, by its intrinsic functions."""
    names: set[str] = set()
    conditions: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for element in item:
                walk(element)
            return
        if not isinstance(item, dict):
            return
        if len(item) == 1:
            ((fn, arg),) = item.items()
            if fn == "Ref" and isinstance(arg, str):
                names.add(arg)
                return
            if fn == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                names.add(target)
                return
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names.update(
                    match.split(".", 1)[0] for match in _SUB_NAME.findall(text) if match not in variables
                )
                walk(variables)
                return
            if fn == "Fn::If" and isinstance(arg, list) and arg:
                conditions.add(arg[0])
                walk(arg[1:])
                return
        for key, value in item.items():
            # A resource's or an output's condition, or the Condition function (an IAM
            # statement's Condition is a mapping).
            if key == "Condition" and isinstance(value, str):
                conditions.add(value)
            else:
                walk(value)

    walk(node)
    return names, conditions


# --- rendering ----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, list items indented under their key, no anchors."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(node: Any) -> str:
    text: str = yaml.dump(node, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
    return text


def render(template: Mapping[str, Any]) -> str:
    """The template as YAML (intrinsics in their long form), after :data:`HEADER`; deterministic."""
    sections = []
    for key, value in template.items():
        if key in ("Parameters", "Resources", "Outputs") and isinstance(value, dict):
            entries = [
                "".join(f"  {line}" for line in _dump({name: item}).splitlines(keepends=True))
                for name, item in value.items()
            ]
            sections.append(f"{key}:\n" + "\n".join(entries))
        else:
            sections.append(_dump({key: value}))
    return HEADER + "\n" + "\n".join(sections)


def diff(committed: str, generated: str) -> list[str]:
    """What writing ``generated`` over the ``committed`` file would change, as a unified diff."""
    shown = _relative(LOCALSTACK_TEMPLATE)
    return list(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            generated.splitlines(keepends=True),
            fromfile=f"{shown} (committed)",
            tofile=f"{shown} (generated)",
        )
    )


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND.removeprefix("python -m "),
        description=f"Write {_relative(LOCALSTACK_TEMPLATE)} from {_relative(TEMPLATE)}.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1, printing a diff, if the file is out of date",
    )
    args = parser.parse_args(argv)
    generated = render(generate(load(TEMPLATE)))
    committed = LOCALSTACK_TEMPLATE.read_text() if LOCALSTACK_TEMPLATE.exists() else ""
    if args.check:
        if committed == generated:
            return 0
        sys.stdout.writelines(diff(committed, generated))
        print(f"{_relative(LOCALSTACK_TEMPLATE)} is out of date: run `{COMMAND}`", file=sys.stderr)
        return 1
    if committed != generated:
        LOCALSTACK_TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
        LOCALSTACK_TEMPLATE.write_text(generated)
        print(f"wrote {_relative(LOCALSTACK_TEMPLATE)}")
    else:
        print(f"{_relative(LOCALSTACK_TEMPLATE)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
