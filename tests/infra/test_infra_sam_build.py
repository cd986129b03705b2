"""`sam build` of the template succeeds without Docker and builds the right artefacts.

The SAM CLI lives in its own venv (.venv-sam, made once by infra/sam/venv.sh and reused
while infra/sam/requirements.txt is unchanged). The layer is built by
layers/stateway/Makefile: the pins as manylinux aarch64 wheels for CPython 3.12 (the
arm64 runtime), of Chalice only its runtime module, and the stateway package. Unchanged
sources are reused from .aws-sam/cache, so only a first run or a change downloads.

The layer's compiled extensions are aarch64 and cannot be loaded here; its pure-Python
part is imported by Python 3.12 with nothing but the standard library and the layer on
sys.path, which proves the layer needs nothing it does not carry (Chalice's CLI
packages, botocore, ...).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

import stateway_local
from stateway_local.localstack_package import find_python312
from stateway_testing.isolated import only_from
from stateway_testing.settings import IMPORT_ONLY
from stateway_testing.template import (
    MIGRATION_CODE_URI,
    MIGRATION_FUNCTION,
    MIGRATION_HANDLER,
    ROOT,
    TEMPLATE,
    Template,
    all_functions,
    function_dir,
    sam_functions,
)

BUILD_SCRIPT = ROOT / "infra" / "sam" / "build.sh"
LAYER_SOURCE = ROOT / "layers" / "stateway"
ELF_MACHINE_AARCH64 = 183
IGNORED = {"__pycache__"}
# The layer was 78 MB with Chalice's CLI dependencies; it is about 10 MB now (PyJWT
# without its crypto extra, so no cryptography).
LAYER_LIMIT_BYTES = 32 * 1024 * 1024
# Never in the layer: the Lambda runtime provides boto3/botocore (a copy would shadow
# its botocore), and the rest is Chalice's CLI and packaging tools. (jmespath is in it:
# Powertools needs it, pinned in requirements.txt at the version boto3 accepts.)
NOT_IN_LAYER = {
    "boto3",
    "botocore",
    "s3transfer",
    "pip",
    "setuptools",
    "_distutils_hack",
    "wheel",
    "click",
    "inquirer",
    "blessed",
    "yaml",
    "dateutil",
}
CHALICE_RUNTIME = re.compile(r"(__init__\.py|app\.py|py\.typed|[A-Za-z_]+\.pyi)")


def files_under(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and not IGNORED & set(path.relative_to(folder).parts)
    }


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def import_in_layer(layer: Path, code: str, *extra_paths: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` under Python 3.12 with only the stdlib, ``extra_paths`` and the layer on sys.path.

    -I ignores PYTHON* variables, the working directory and user site-packages; -S skips
    site, so the interpreter's own site-packages are not on the path either. Afterwards
    every imported module must come from the standard library, the layer or ``extra_paths``.
    """
    allowed = [str(path) for path in (*extra_paths, layer)]
    prelude = f"import sys\nallowed = {allowed!r}\nsys.path[:0] = allowed\n"
    return subprocess.run(
        [find_python312(), "-I", "-S", "-c", prelude + textwrap.dedent(code) + only_from(allowed)],
        cwd=layer,
        # What a function's import checks at cold start (pointing nowhere: nothing connects).
        env={**os.environ, **IMPORT_ONLY},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sam-build") / "build"
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert result.returncode == 0, f"sam build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return target


@pytest.mark.timeout(900)
def test_sam_build_writes_a_template_for_every_function(build_dir: Path, sam_template: Template) -> None:
    built = yaml.load((build_dir / "template.yaml").read_text(), Loader=yaml.BaseLoader)
    resources = built["Resources"]
    assert MIGRATION_FUNCTION in all_functions(sam_template)
    for name in all_functions(sam_template):
        assert resources[name]["Properties"]["CodeUri"] == name
    assert resources["StatewayLayer"]["Properties"]["ContentUri"] == "StatewayLayer"


@pytest.mark.timeout(900)
def test_each_function_artefact_holds_only_its_own_code(build_dir: Path, sam_template: Template) -> None:
    for name, properties in sam_functions(sam_template).items():
        source = ROOT / "functions" / function_dir(properties)
        assert (source / "app.py").is_file(), f"{source.relative_to(ROOT)}/app.py is missing"
        artefact = build_dir / name
        assert artefact.is_dir(), f"sam build made no artefact for {name}"
        assert "app.py" in files_under(artefact)
        # Dependencies live in the layer; a function carries its own folder and nothing more.
        assert files_under(artefact) == files_under(source), name


@pytest.mark.timeout(900)
def test_the_migration_artefact_holds_only_its_own_folder(build_dir: Path, sam_template: Template) -> None:
    assert all_functions(sam_template)[MIGRATION_FUNCTION]["CodeUri"] == MIGRATION_CODE_URI
    source = (TEMPLATE.parent / MIGRATION_CODE_URI).resolve()
    artefact = build_dir / MIGRATION_FUNCTION
    assert artefact.is_dir(), "sam build made no artefact for the migration"
    # Its handler is the layer's; the artefact is the placeholder folder and nothing more.
    assert files_under(artefact) == files_under(source) != set()
    assert "app.py" not in files_under(artefact)


@pytest.mark.timeout(900)
def test_layer_artefact_holds_the_package_and_arm64_dependencies(build_dir: Path) -> None:
    python = build_dir / "StatewayLayer" / "python"
    assert files_under(python / "stateway") == files_under(LAYER_SOURCE / "stateway")
    for package in ("chalice", "redis", "pymongo", "bson", "orjson", "hiredis", "aws_lambda_powertools"):
        assert (python / package).is_dir(), package
    # The functions never verify a token (the authorizer in front of them does).
    assert not (python / "jwt").exists()
    extensions = [*python.glob("orjson/*.so"), *python.glob("hiredis/*.so")]
    assert extensions, "no compiled extension modules for orjson / hiredis"
    for extension in extensions:
        assert "cpython-312-aarch64" in extension.name, extension.name
        assert elf_machine(extension) == ELF_MACHINE_AARCH64, extension.name


@pytest.mark.timeout(900)
def test_layer_holds_only_the_chalice_runtime_of_the_pinned_version(build_dir: Path) -> None:
    python = build_dir / "StatewayLayer" / "python"
    chalice = files_under(python / "chalice")
    assert {"__init__.py", "app.py"} <= chalice
    assert all(CHALICE_RUNTIME.fullmatch(name) for name in chalice), sorted(chalice)
    assert not (python / "chalice" / "cli").exists()
    # What the functions import, `from chalice import ...`, reaches only chalice.app.
    tree = ast.parse((python / "chalice" / "__init__.py").read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"chalice.app"}
    # The files come from the wheel of the pin in requirements.txt, whatever the dev venv has.
    (pin,) = re.findall(r"^chalice==(\S+)", (LAYER_SOURCE / "requirements.txt").read_text(), flags=re.M)
    (version,) = re.findall(
        r"^__version__(?::\s*str)?\s*=\s*'([^']+)'", (python / "chalice" / "app.py").read_text(), flags=re.M
    )
    assert version == pin


@pytest.mark.timeout(900)
def test_layer_leaves_out_the_runtime_sdk_and_the_cli_tools(build_dir: Path) -> None:
    python = build_dir / "StatewayLayer" / "python"
    top_level = {path.name for path in python.iterdir()}
    distributions = {path.name.split("-")[0].lower().replace("_", "-") for path in python.glob("*.dist-info")}
    assert not top_level & NOT_IN_LAYER, sorted(top_level & NOT_IN_LAYER)
    assert not distributions & {"boto3", "botocore", "pip", "setuptools", "wheel", "chalice"}
    assert not (python / "bin").exists()
    size = tree_size(python)
    print(f"\nStatewayLayer unpacked: {size / 1024 / 1024:.1f} MB")
    assert size < LAYER_LIMIT_BYTES, f"layer is {size / 1024 / 1024:.1f} MB"


@pytest.mark.timeout(900)
def test_layer_pure_python_imports_with_the_layer_alone(build_dir: Path) -> None:
    python = build_dir / "StatewayLayer" / "python"
    result = import_in_layer(
        python,
        """
        import chalice
        import chalice.app
        from chalice import Blueprint, Chalice
        import stateway.config
        import stateway.errors
        import stateway.ids
        import stateway.runtime
        assert chalice.__file__.startswith(allowed[-1]), chalice.__file__
        assert "chalice.cli" not in sys.modules
        """,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip() == "imported"


@pytest.mark.timeout(900)
def test_every_function_imports_with_the_layer_alone(
    build_dir: Path, sam_template: Template, tmp_path: Path
) -> None:
    # orjson's extension is aarch64: a stand-in of the two calls stateway makes replaces it
    # for this check, so every function's app module and its imports can be loaded here.
    stand_in = tmp_path / "stand-in"
    stand_in.mkdir()
    (stand_in / "orjson.py").write_text(
        "import json\n\n"
        "def dumps(value):\n    return json.dumps(value).encode()\n\n"
        "def loads(payload):\n    return json.loads(payload)\n"
    )
    # The loader is the tests' own (stdlib only), reached under its package name.
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "stateway_local").symlink_to(Path(stateway_local.__file__).parent, target_is_directory=True)
    apps = {name: build_dir / name / "app.py" for name in sam_functions(sam_template)}
    # The migration's handler, as Lambda finds it: a module of the layer, its own folder first on the path.
    module, _, attribute = MIGRATION_HANDLER.rpartition(".")
    result = import_in_layer(
        build_dir / "StatewayLayer" / "python",
        f"""
        import importlib
        from stateway_local.functions import load_app
        for name, path in { ({name: str(path) for name, path in apps.items()})!r}.items():
            module = load_app(path)
            assert type(module.app).__name__ == "Chalice", name
        migration = importlib.import_module({module!r})
        assert migration.__file__.startswith(allowed[-1]), migration.__file__
        assert callable(getattr(migration, {attribute!r}))
        # The migration module builds nothing when imported: pymongo comes with the first command.
        assert "pymongo" not in sys.modules
        """,
        stand_in,
        harness,
        build_dir / MIGRATION_FUNCTION,
        *{path.parent for path in apps.values()},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip() == "imported"
