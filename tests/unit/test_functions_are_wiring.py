"""Each ``functions/<op>/app.py`` is wiring: one route, one parser, one service call, no decisions.

The apps are read as source (``ast``), never imported: what is checked is what is written.
Their routes are checked against ``infra/template.yaml``, the one route table the deployment
and the local gateway share.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stateway import commands

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
TEMPLATE = ROOT / "infra" / "template.yaml"
APPS = sorted(FUNCTIONS.glob("*/app.py"))
NAMES = [app.parent.name for app in APPS]
PUBLIC = {"health"}
#: The one function without a route (the deploy-time migration, its handler in the layer).
MIGRATION_FUNCTION = "MigrationFunction"

#: What a view must not do: decide, fail on purpose, catch, or loop.
DECISIONS: tuple[type[ast.AST], ...] = (
    ast.If,
    ast.Match,
    ast.Raise,
    ast.Assert,
    ast.Try,
    ast.TryStar,
    ast.IfExp,
    ast.BoolOp,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (``!Ref x`` reads as ``{"Ref": "x"}``)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def template_functions() -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Serverless::Function of the SAM template."""
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def template_routes() -> dict[str, dict[str, Any]]:
    """Function folder name -> its HttpApi event's properties, for every function but the migration."""
    routes: dict[str, dict[str, Any]] = {}
    for name, properties in template_functions().items():
        if name == MIGRATION_FUNCTION:
            continue
        folder = Path(properties["CodeUri"]).name
        events = [e["Properties"] for e in properties.get("Events", {}).values() if e["Type"] == "HttpApi"]
        assert len(events) == 1, f"{folder}: {len(events)} HttpApi events"
        assert folder not in routes, f"two functions are built from functions/{folder}"
        routes[folder] = events[0]
    return routes


ROUTES = template_routes()


@dataclass(frozen=True)
class Wiring:
    """What a view's decorators declare: its route, its parser and whether it is public."""

    target: str
    path: str
    methods: list[str]
    parser: str
    public: bool


class App:
    """One app.py as written: its route declarations and its one view."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # ``http.route(app, path, method, parse)``, or Chalice's ``<app or bp>.route(path, methods=[...])``.
        self.route_calls = [node for node in ast.walk(self.tree) if _is_call_of(node, "route")]
        self.views = [
            node
            for node in ast.walk(self.tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and any(_is_call_of(d, "route") for d in node.decorator_list)
        ]

    @property
    def view(self) -> ast.FunctionDef | ast.AsyncFunctionDef:
        assert len(self.views) == 1, f"{self.path}: {len(self.views)} views"
        return self.views[0]

    def wiring(self) -> Wiring:
        """The view's one route and its parser, in either way of writing them."""
        decorators = self.view.decorator_list
        routes = [d for d in decorators if _is_call_of(d, "route")]
        endpoints = [d for d in decorators if isinstance(d, ast.Call) and _dotted(d.func) == "http.endpoint"]
        assert len(routes) == 1, f"{self.path}: one route decorator"
        (route,) = routes
        assert isinstance(route, ast.Call)
        if _dotted(route.func) == "http.route":
            # http.route(app, "<path>", "<METHOD>", commands.<parser>, public=...): route and endpoint at once.
            assert not endpoints, f"{self.path}: http.route already wraps the view in http.endpoint"
            assert len(route.args) == 4, f"{self.path}: http.route(app, path, method, commands.<parser>)"
            target, path, method, parse = route.args
            return Wiring(
                _dotted(target),
                _literal(path),
                [_literal(method)],
                _parser(self.path, parse),
                _public(self.path, route),
            )
        # <bp>.route("<path>", methods=[...]) outermost, then http.endpoint(<bp>, commands.<parser>, public=...).
        assert len(endpoints) == 1, f"{self.path}: the view must be wrapped by http.endpoint once"
        (endpoint,) = endpoints
        assert decorators[0] is route and decorators[-1] is endpoint, (
            f"{self.path}: route outermost, endpoint next"
        )
        assert len(endpoint.args) == 2, f"{self.path}: http.endpoint(bp, commands.<parser>)"
        target, parse = endpoint.args
        assert isinstance(route.func, ast.Attribute)
        assert _dotted(target) == _dotted(route.func.value), f"{self.path}: route and endpoint on one target"
        methods = next(_literal(k.value) for k in route.keywords if k.arg == "methods")
        return Wiring(
            _dotted(target),
            _literal(route.args[0]),
            list(methods),
            _parser(self.path, parse),
            _public(self.path, endpoint),
        )


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "<expr>"


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise AssertionError(f"not a literal: {ast.unparse(node)}") from None


def _is_call_of(node: ast.AST, attribute: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attribute


def _parser(path: Path, node: ast.AST) -> str:
    dotted = _dotted(node)
    assert dotted.startswith("commands.") and dotted.count(".") == 1, (
        f"{path}: {dotted} is not commands.<parser>"
    )
    return dotted.removeprefix("commands.")


def _public(path: Path, call: ast.Call) -> bool:
    flags = [k.value for k in call.keywords if k.arg == "public"]
    assert all(isinstance(v, ast.Constant) and isinstance(v.value, bool) for v in flags), (
        f"{path}: public= literal"
    )
    return any(isinstance(v, ast.Constant) and v.value is True for v in flags)


@pytest.fixture(params=APPS, ids=NAMES)
def app(request: pytest.FixtureRequest) -> App:
    return App(request.param)


def test_there_are_functions_and_each_is_in_the_template() -> None:
    assert len(APPS) >= 10
    assert set(NAMES) == set(ROUTES)


def test_the_only_function_without_a_route_is_the_migration_and_it_is_no_app() -> None:
    migration = template_functions()[MIGRATION_FUNCTION]
    assert not migration.get("Events")
    # Its code is the layer's (stateway.migrate), not a folder of functions/ to hold to these rules.
    assert migration["Handler"] == "stateway.migrate.handler"
    assert not (TEMPLATE.parent / migration["CodeUri"]).resolve().is_relative_to(FUNCTIONS)


def test_each_app_declares_exactly_one_route(app: App) -> None:
    assert len(app.route_calls) == 1, f"{app.path}: {len(app.route_calls)} route declarations"
    assert len(app.views) == 1


def decisions(app: App) -> list[str]:
    return [
        f"{type(node).__name__} at line {getattr(node, 'lineno', '?')}"
        for statement in app.view.body
        for node in ast.walk(statement)
        if isinstance(node, DECISIONS)
    ]


def test_each_view_makes_no_decision(app: App) -> None:
    assert not decisions(app), f"{app.path}: {decisions(app)}"


def test_each_view_is_routed_on_the_apps_own_chalice_app_or_blueprint(app: App) -> None:
    target = app.wiring().target
    assigned = {
        t.id: node.value
        for node in app.tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    assert target in assigned, f"{app.path}: {target} is not defined in the module"
    assert _dotted(getattr(assigned[target], "func", ast.Constant(None))) in ("Chalice", "Blueprint"), (
        app.path
    )
    # The handler the template names (Handler: app.app) is the module's Chalice app.
    assert _dotted(getattr(assigned.get("app"), "func", ast.Constant(None))) == "Chalice", app.path


def test_each_view_is_wrapped_by_an_existing_parser(app: App) -> None:
    name = app.wiring().parser
    assert callable(getattr(commands, name, None)), f"{app.path}: stateway.commands has no parser {name!r}"


def test_each_parser_takes_its_routes_path_parameters(app: App) -> None:
    # The endpoint calls parse(request, **path_params): the names must be the route's, in order.
    wiring = app.wiring()
    params = list(inspect.signature(getattr(commands, wiring.parser)).parameters)
    assert params[0] == "request"
    assert params[1:] == re.findall(r"\{(\w+)\}", wiring.path), f"{app.path}: {params} for {wiring.path}"


def test_only_health_is_public(app: App) -> None:
    wiring = app.wiring()
    assert wiring.public == (app.path.parent.name in PUBLIC), app.path
    # A public route reads nothing of a caller, and a route with a caller parses its input.
    assert (wiring.parser == "public") == wiring.public, app.path


def test_each_route_is_the_templates(app: App) -> None:
    event = ROUTES[app.path.parent.name]
    wiring = app.wiring()
    assert wiring.path == event["Path"], app.path
    assert [m.upper() for m in wiring.methods] == [event["Method"].upper()], app.path


def test_the_template_skips_the_authorizer_exactly_for_public_routes(app: App) -> None:
    event = ROUTES[app.path.parent.name]
    no_authorizer = (event.get("Auth") or {}).get("Authorizer") == "NONE"
    assert no_authorizer == app.wiring().public, app.path


def test_routes_are_distinct() -> None:
    seen = {(w.path, tuple(w.methods)) for w in (App(a).wiring() for a in APPS)}
    assert len(seen) == len(APPS)


# The checks themselves, on apps written here -------------------------------------------------

ROUTED = """
from chalice import Chalice
from stateway import bodies, commands, http, runtime

app = Chalice(app_name="x")


@http.route(app, "/api/project-state/{client_id}/{app_id}/{project_id}", "GET", commands.project_load)
def view(command):
    return bodies.project_state(runtime.project_service().load(command.ref))
"""

BLUEPRINTED = """
from chalice import Blueprint, Chalice
from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/project-state/{client_id}/{app_id}/{project_id}", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.project_load)
def view(command):
    return bodies.project_state(runtime.project_service().load(command.ref))


app = Chalice(app_name="x")
app.register_blueprint(bp)
"""


def written(tmp_path: Path, source: str) -> App:
    path = tmp_path / "app.py"
    path.write_text(source, encoding="utf-8")
    return App(path)


def test_the_checks_read_both_ways_of_declaring_a_route(tmp_path: Path) -> None:
    routed, blueprinted = written(tmp_path, ROUTED).wiring(), written(tmp_path, BLUEPRINTED).wiring()
    assert (routed.path, routed.methods, routed.parser, routed.public) == (
        "/api/project-state/{client_id}/{app_id}/{project_id}",
        ["GET"],
        "project_load",
        False,
    )
    assert (blueprinted.path, blueprinted.methods, blueprinted.parser, blueprinted.public) == (
        routed.path,
        routed.methods,
        routed.parser,
        routed.public,
    )


@pytest.mark.parametrize(
    "body",
    [
        "return bodies.x() if command else None",
        "return command.a or command.b",
        "if command:\n        return 1\n    return 2",
        "raise ValueError",
        "try:\n        return 1\n    except Exception:\n        return 2",
        "return [c for c in command]",
        "for c in command:\n        pass",
        "assert command",
    ],
)
def test_the_checks_see_a_decision_in_a_view(tmp_path: Path, body: str) -> None:
    source = ROUTED.replace("return bodies.project_state(runtime.project_service().load(command.ref))", body)
    assert decisions(written(tmp_path, source))


def test_the_checks_count_every_route_in_a_module(tmp_path: Path) -> None:
    source = ROUTED + "\n\n@app.route('/other')\ndef other():\n    return 1\n"
    app = written(tmp_path, source)
    assert len(app.route_calls) == 2
