"""No request creates an index: only the deploy-time migration (``stateway.migrate``) does.

The layer and the functions are read as source (``ast``): every call that creates an index
(``create_index``, ``create_indexes``, a ``createIndexes`` command) is inside
``MongoStore.ensure_indexes``, and only ``stateway.migrate`` calls that.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "stateway" / "stateway"
FUNCTIONS = ROOT / "functions"
MONGO_STORE = LAYER / "tiers" / "mongo_store.py"
MIGRATE = LAYER / "migrate.py"
CREATES = {"create_index", "create_indexes"}


def sources() -> list[Path]:
    return sorted([*LAYER.rglob("*.py"), *FUNCTIONS.glob("*/app.py")])


def calls(path: Path) -> list[tuple[str, str, int]]:
    """(enclosing function, called name, line) of every call in ``path`` to an attribute or a name."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope
            if isinstance(child, ast.Call):
                func = child.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name == "command" and child.args and isinstance(child.args[0], ast.Constant):
                    name = f"command:{child.args[0].value}"
                found.append((inner, name, child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), "<module>")
    return found


def test_the_scan_sees_the_layers_code() -> None:
    assert MONGO_STORE in sources() and MIGRATE in sources()
    assert len(list(FUNCTIONS.glob("*/app.py"))) >= 10


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_ensure_indexes_creates_an_index(path: Path) -> None:
    creating = [
        (scope, name, line)
        for scope, name, line in calls(path)
        if name in CREATES or name.lower() == "command:createindexes"
    ]
    if path == MONGO_STORE:
        assert creating and {scope for scope, _, _ in creating} == {"ensure_indexes"}
    else:
        assert creating == [], path


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_migration_calls_ensure_indexes(path: Path) -> None:
    callers = [(scope, line) for scope, name, line in calls(path) if name == "ensure_indexes"]
    if path == MIGRATE:
        assert [scope for scope, _ in callers] == ["migrate_database"]
    else:
        assert callers == [], path


def test_no_function_imports_the_migration() -> None:
    for app in FUNCTIONS.glob("*/app.py"):
        tree = ast.parse(app.read_text(encoding="utf-8"))
        imported = {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        names = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names
        }
        assert "stateway.migrate" not in imported and "migrate" not in names, app


def test_the_scan_finds_a_call_that_creates_an_index(tmp_path: Path) -> None:
    # Guards the checks above: a cold start that creates an index is seen, in any spelling.
    written = tmp_path / "app.py"
    written.write_text(
        "def database():\n"
        "    db = client()['stateway']\n"
        "    db.sessions.create_index([('client_id', 1)])\n"
        "    db.command('createIndexes', 'sessions', indexes=[])\n"
        "    MongoStore(db).ensure_indexes()\n"
    )
    found = {(scope, name) for scope, name, _ in calls(written)}
    assert {
        ("database", "create_index"),
        ("database", "command:createIndexes"),
        ("database", "ensure_indexes"),
    } <= found
