"""``infra/template.yaml`` read the way the local gateway needs it: routes, functions, environments, authorizer.

What CloudFormation would resolve at deploy time is resolved here from what
is known locally:

* a parameter's value is its ``Default``, or the value given for it
  (``STATEWAY_PARAMETER_OVERRIDES="NavigationLimit=5 JwtAudience=web"``, as
  ``sam deploy --parameter-overrides`` takes them);
* a resource's ``Ref`` is known only when the local stack provides it (the
  snapshot bucket); ``GetAtt`` of a cloud resource, or a parameter with no
  value, leaves the variable out (the caller's environment and the local
  servers give it instead, as they give ``REDIS_URL`` and ``MONGODB_URI``);
* conditions (``Equals``, ``Not``, ``And``, ``Or``, ``Condition``) and ``If``,
  ``Sub``, ``Select``, ``Split``, ``Join`` are evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"


class Unresolved(Exception):
    """A value that only a deployment knows (a cloud resource's attribute, a parameter with no value)."""


class _NoValue:
    """``AWS::NoValue``: the property is left out."""


NO_VALUE = _NoValue()


@dataclass(frozen=True, slots=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: float
    memory_mb: int


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    function: Function
    public: bool

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.strip("/").split("/"))


@dataclass(frozen=True, slots=True)
class HttpApi:
    routes: list[Route]
    issuer: str | None
    audience: tuple[str, ...]
    cors: dict[str, Any] = field(default_factory=dict)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short-form tags (``!Ref``, ``!Sub``...) in their long form."""
    from cfnlint.decode import cfn_yaml

    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(path))))
    return loaded


def parse_overrides(text: str | None) -> dict[str, str]:
    """``"Name=Value Other=Value"`` (the form ``sam deploy --parameter-overrides`` takes)."""
    overrides: dict[str, str] = {}
    for item in (text or "").split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"a parameter override is Name=Value, not {item!r}")
        overrides[name] = value
    return overrides


class Resolver:
    def __init__(
        self, template: Mapping[str, Any], parameters: Mapping[str, str], resources: Mapping[str, str]
    ) -> None:
        self._template = template
        self._resources = dict(resources)
        self._parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in parameters:
                _check_parameter(name, spec, parameters[name])
            if name in parameters or "Default" in spec:
                value = parameters[name] if name in parameters else spec["Default"]
                listed = spec.get("Type") == "CommaDelimitedList" or spec.get("Type", "").startswith("List<")
                if listed and isinstance(value, str):
                    value = [item.strip() for item in value.split(",")]
                self._parameters[name] = value
        unknown = set(parameters) - set(template.get("Parameters", {}))
        if unknown:
            raise ValueError(f"the template has no parameter {sorted(unknown)}")

    def value(self, node: Any) -> Any:
        """The resolved value; raises :class:`Unresolved`; ``NO_VALUE`` for ``AWS::NoValue``."""
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {key: self.value(item) for key, item in node.items()}
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return self._ref(arg)
        if fn == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else arg
            if name in self._resources:
                return self._resources[name]
            raise Unresolved(name)
        if fn == "Fn::If":
            condition, then, otherwise = arg
            return self.value(then if self.condition(condition) else otherwise)
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Select":
            index, items = self.value(arg[0]), self.value(arg[1])
            return items[int(index)]
        if fn == "Fn::Split":
            return str(self.value(arg[1])).split(arg[0])
        if fn == "Fn::Join":
            items = self.value(arg[1])
            return str(arg[0]).join(str(item) for item in (items if isinstance(items, list) else [items]))
        if fn.startswith("Fn::") or fn == "Condition":
            return self._boolean(fn, arg)
        return {fn: self.value(arg)}

    def condition(self, name: str) -> bool:
        return bool(self.value(self._template["Conditions"][name]))

    def _boolean(self, fn: str, arg: Any) -> bool:
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            left, right = (self.value(item) for item in arg)
            return str(left) == str(right)
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(item) for item in arg)
        if fn == "Fn::Or":
            return any(self.value(item) for item in arg)
        raise Unresolved(fn)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self._parameters:
            return self._parameters[name]
        if name in self._resources:
            return self._resources[name]
        raise Unresolved(name)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name:
                return str(self.value({"Fn::GetAtt": name.split(".", 1)}))
            return str(self._ref(name))

        substituted = re.sub(r"\$\{([^}!][^}]*)\}", one, text)
        # ``${!Name}`` is the literal ``${Name}``.
        return re.sub(r"\$\{!([^}]*)\}", lambda m: "${" + m.group(1) + "}", substituted)


def _check_parameter(name: str, spec: Mapping[str, Any], value: str) -> None:
    """Refuse an override CloudFormation would refuse: a Number that is not one, a value not allowed."""
    if spec.get("Type") == "Number":
        try:
            float(value)
        except ValueError:
            raise ValueError(f"parameter {name} is a Number, not {value!r}") from None
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise ValueError(f"parameter {name} must be one of {allowed}, not {value!r}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and spec.get("Type") == "String" and not re.fullmatch(pattern, value):
        raise ValueError(f"parameter {name} must match {pattern}, not {value!r}")


def environment_of(resolver: Resolver, *variable_sets: Mapping[str, Any]) -> dict[str, str]:
    """The variables that resolve locally, later sets overriding earlier ones; the others are left out."""
    environment: dict[str, str] = {}
    for variables in variable_sets:
        for name, node in variables.items():
            try:
                value = resolver.value(node)
            except Unresolved:
                environment.pop(name, None)
                continue
            if value is NO_VALUE:
                environment.pop(name, None)
            elif isinstance(value, bool):
                environment[name] = "true" if value else "false"
            else:
                environment[name] = str(value)
    return environment


def http_api(
    template: Mapping[str, Any],
    *,
    parameters: Mapping[str, str] = {},
    resources: Mapping[str, str] = {},
    template_dir: Path = TEMPLATE.parent,
) -> HttpApi:
    """The HTTP API the template deploys: each route with its function, and the JWT authorizer."""
    resolver = Resolver(template, parameters, resources)
    defaults = template.get("Globals", {}).get("Function", {})
    default_vars = defaults.get("Environment", {}).get("Variables", {})
    routes: list[Route] = []
    api: dict[str, Any] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::HttpApi":
            api = resource.get("Properties", {})
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        function = Function(
            logical_id=logical_id,
            code_dir=(template_dir / props["CodeUri"]).resolve(),
            handler=props.get("Handler", defaults.get("Handler")),
            environment=environment_of(
                resolver, default_vars, props.get("Environment", {}).get("Variables", {})
            ),
            timeout=float(props.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
        )
        for event in props.get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            spec = event["Properties"]
            public = spec.get("Auth", {}).get("Authorizer") == "NONE"
            routes.append(Route(spec["Method"].upper(), spec["Path"], function, public))
    auth = api.get("Auth", {})
    jwt = auth.get("Authorizers", {}).get(auth.get("DefaultAuthorizer", ""), {}).get("JwtConfiguration", {})
    issuer = _optional(resolver, jwt.get("issuer"))
    audience = tuple(
        a for a in (_optional(resolver, item) for item in jwt.get("audience", [])) if isinstance(a, str) and a
    )
    cors = {key: _optional(resolver, value) for key, value in api.get("CorsConfiguration", {}).items()}
    return HttpApi(routes, issuer if isinstance(issuer, str) and issuer else None, audience, cors)


def _optional(resolver: Resolver, node: Any) -> Any:
    try:
        return resolver.value(node)
    except Unresolved:
        return None
