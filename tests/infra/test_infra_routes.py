"""The template, the functions' own Chalice routes and openapi.yaml name the same routes.

Each function is imported from its file (functions/<dir>/app.py) and its ``app.routes``
read: Chalice keeps ``{path: {METHOD: RouteEntry}}`` there, so no request is made.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml

from stateway_local.functions import load_app
from stateway_testing.template import (
    ROOT,
    Template,
    function_dir,
    notes_routes,
    sam_functions,
    template_routes,
)

FUNCTIONS = ROOT / "functions"
OPENAPI = ROOT / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}

FUNCTION_DIRS = sorted(notes_routes())


def chalice_routes(module: ModuleType) -> set[tuple[str, str]]:
    routes: dict[str, dict[str, Any]] = module.app.routes
    return {(method.upper(), path) for path, methods in routes.items() for method in methods}


def openapi_routes() -> set[tuple[str, str]]:
    document = yaml.safe_load(OPENAPI.read_text())
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


@pytest.mark.parametrize("directory", FUNCTION_DIRS)
def test_function_code_exists_for_each_template_function(sam_template: Template, directory: str) -> None:
    directories = {function_dir(properties) for properties in sam_functions(sam_template).values()}
    assert directory in directories
    assert (FUNCTIONS / directory / "app.py").is_file(), f"functions/{directory}/app.py is missing"


def test_no_function_folder_is_left_out_of_the_template(sam_template: Template) -> None:
    on_disk = {path.parent.name for path in FUNCTIONS.glob("*/app.py")}
    assert on_disk == set(template_routes(sam_template))


@pytest.mark.usefixtures("import_only_settings")
@pytest.mark.parametrize("directory", FUNCTION_DIRS)
def test_template_event_is_the_route_the_function_declares(sam_template: Template, directory: str) -> None:
    module = load_app(directory)
    assert type(module.app).__name__ == "Chalice"
    assert chalice_routes(module) == {template_routes(sam_template)[directory]}


def test_template_routes_are_the_openapi_routes(sam_template: Template) -> None:
    assert set(template_routes(sam_template).values()) == openapi_routes()


def test_only_the_routes_openapi_leaves_open_skip_the_authorizer(sam_template: Template) -> None:
    document = yaml.safe_load(OPENAPI.read_text())
    open_in_openapi = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in HTTP_METHODS and operation.get("security") == []
    }
    open_in_template = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for properties in sam_functions(sam_template).values()
        for event in properties["Events"].values()
        if event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
    }
    assert open_in_template == open_in_openapi
