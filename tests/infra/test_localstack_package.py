"""``python -m stateway_local.localstack_package``: each function's folder holds its code and what the layer would.

The dependencies are installed once per architecture (manylinux wheels for CPython 3.12,
with the pip of the Python 3.12 that infra/sam/python312.sh finds) into a cache kept
between runs under ``.local/`` (gitignored), and reused while the requirement files are
unchanged; the functions are packaged into a temporary folder. One function is then
imported for real by Python 3.12 with nothing but the standard library and its folder on
sys.path, as Lambda imports it from /var/task when no layer is loaded.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from stateway_edge import wrapper
from stateway_local.localstack_package import (
    EDGE_REQUIREMENTS,
    NOT_PACKAGED,
    PACKAGES,
    find_python312,
    package,
    pins,
    stamp_of,
)
from stateway_local.localstack_template import code_dirs, generate
from stateway_testing.isolated import only_from
from stateway_testing.settings import IMPORT_ONLY
from stateway_testing.template import MIGRATION_FUNCTION, ROOT, Template

# The host's: the import check below loads the compiled extensions.
ARCH = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
DEPS_CACHE = ROOT / ".local" / "localstack-test-deps" / ARCH
IGNORED = {"__pycache__"}
CHALICE_RUNTIME = re.compile(r"(__init__\.py|app\.py|py\.typed|[A-Za-z_]+\.pyi)")
DEPENDENCIES = (
    "pymongo",
    "bson",
    "redis",
    "hiredis",
    "orjson",
    "chalice",
    "jwt",
    "cryptography",
    "aws_lambda_powertools",
)


def files_under(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and not IGNORED & set(path.relative_to(folder).parts)
    }


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("localstack")


@pytest.fixture(scope="module")
def packaged(build_dir: Path) -> list[Path]:
    return package(build_dir, ARCH, deps_dir=DEPS_CACHE)


def run_in(folder: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` under Python 3.12 in ``folder`` with only the stdlib and ``folder`` on sys.path.

    -E ignores PYTHON* variables, -s the user's site-packages and -S the interpreter's own;
    the working directory is sys.path[0], as /var/task is in Lambda. Afterwards every imported
    module must come from the standard library or ``folder``.
    """
    return subprocess.run(
        [find_python312(), "-E", "-s", "-S", "-c", textwrap.dedent(code) + only_from([str(folder)])],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_function_of_the_template_gets_its_folder(
    packaged: list[Path], build_dir: Path, sam_template: Template
) -> None:
    functions = [
        name
        for name, resource in generate(sam_template)["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert packaged == [build_dir.resolve() / "functions" / name for name in functions]
    assert {path.name for path in (build_dir / "functions").iterdir()} == set(functions)


def test_each_folder_holds_its_code_the_packages_and_the_dependencies(
    packaged: list[Path], sam_template: Template
) -> None:
    sources = code_dirs(sam_template)
    for folder in packaged:
        name = folder.name
        own = "migration.py" if name == MIGRATION_FUNCTION else "app.py"
        assert (folder / own).is_file(), name
        assert files_under(sources[name]) <= files_under(folder), name
        for package_name, source in PACKAGES.items():
            assert files_under(folder / package_name) == files_under(source), (name, package_name)
        for dependency in DEPENDENCIES:
            assert (folder / dependency).is_dir(), (name, dependency)
        # The Lambda runtime provides boto3; a copy would shadow its botocore.
        for absent in (*NOT_PACKAGED, "bin", "pip", "setuptools"):
            assert not (folder / absent).exists(), (name, absent)
        assert not list(folder.rglob("__pycache__")), name


def test_chalice_is_only_its_runtime(packaged: list[Path]) -> None:
    files = {path.name for path in (packaged[0] / "chalice").iterdir()}
    assert {"__init__.py", "app.py"} <= files
    assert all(CHALICE_RUNTIME.fullmatch(name) for name in files), files


def test_compiled_extensions_are_for_the_architecture(packaged: list[Path]) -> None:
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[ARCH]
    extensions = [*packaged[0].glob("orjson/*.so"), *packaged[0].glob("hiredis/*.so")]
    assert extensions
    for extension in extensions:
        assert f"cpython-312-{machine}" in extension.name, extension.name


def test_a_function_imports_from_its_folder_alone(packaged: list[Path]) -> None:
    folder = next(path for path in packaged if path.name == "SessionInitFunction")
    # Importing the app checks the settings it needs (config.REQUIRED_BY) and connects to nothing.
    code = """
        import stateway_edge.wrapper, app
        import jwt, redis, hiredis, pymongo, orjson
        from jwt.algorithms import has_crypto
        assert has_crypto, "cryptography did not load"
        answer = stateway_edge.wrapper.handler({"headers": {}}, None)
        assert answer["statusCode"] == 401, answer
    """
    done = run_in(folder, code, **{wrapper.HANDLER: "app.app"}, **IMPORT_ONLY)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


def test_the_migration_handler_imports_from_its_folder_alone(packaged: list[Path]) -> None:
    folder = next(path for path in packaged if path.name == MIGRATION_FUNCTION)
    done = run_in(folder, "import stateway.migrate\nassert callable(stateway.migrate.handler)\n")
    assert done.returncode == 0, done.stderr


def test_a_second_run_reuses_the_dependencies_and_leaves_nothing_stale(
    packaged: list[Path], build_dir: Path
) -> None:
    stale_file = packaged[0] / "stale.py"
    stale_file.write_text("")
    stale_function = build_dir / "functions" / "RemovedFunction"
    stale_function.mkdir()
    inode = DEPS_CACHE.stat().st_ino
    again = package(build_dir, ARCH, deps_dir=DEPS_CACHE)
    assert again == packaged
    assert not stale_file.exists()
    assert not stale_function.exists()
    assert DEPS_CACHE.stat().st_ino == inode


def test_the_stamp_follows_the_architecture() -> None:
    assert stamp_of("x86_64") != stamp_of("arm64")
    assert stamp_of("x86_64") == stamp_of("x86_64")
    with pytest.raises(ValueError, match="architecture"):
        stamp_of("i386")


def test_the_pins_are_the_layer_s_and_the_wrapper_s_but_chalice() -> None:
    others, chalice = pins()
    names = {re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0].lower() for line in others}
    assert re.fullmatch(r"chalice==\S+", chalice)
    assert {"redis", "hiredis", "pymongo", "orjson", "pyjwt", "cryptography"} <= names
    assert "chalice" not in names
    assert not names & {"boto3", "botocore"}


def test_the_wrapper_s_pins_are_what_the_dev_environment_runs() -> None:
    pinned = dict(
        line.split("==")
        for line in (raw.split("#", 1)[0].strip() for raw in EDGE_REQUIREMENTS.read_text().splitlines())
        if line
    )
    assert set(pinned) == {"PyJWT", "cryptography"}
    for name, version in pinned.items():
        assert importlib.metadata.version(name) == version, name
