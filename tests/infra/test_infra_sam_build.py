"""`sam build` of the template succeeds without Docker and builds the right artefacts.

The SAM CLI lives in its own venv (.venv-sam, made once by infra/sam/venv.sh and reused
while infra/sam/requirements.txt is unchanged). The layer's dependencies are fetched as
manylinux aarch64 wheels for CPython 3.12 (the arm64 runtime); unchanged sources are
reused from .aws-sam/cache, so only a first run or a changed requirement downloads.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from template_helpers import ROOT, Template, function_dir, sam_functions

BUILD_SCRIPT = ROOT / "infra" / "sam" / "build.sh"
ELF_MACHINE_AARCH64 = 183
IGNORED = {"__pycache__"}


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
    for name in sam_functions(sam_template):
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
def test_layer_artefact_holds_the_package_and_arm64_dependencies(build_dir: Path) -> None:
    python = build_dir / "StatewayLayer" / "python"
    assert (python / "stateway" / "__init__.py").is_file()
    assert (python / "stateway" / "config.py").is_file()
    for package in ("chalice", "redis", "pymongo", "jwt", "orjson", "hiredis"):
        assert (python / package).is_dir(), package
    extensions = [*python.glob("orjson/*.so"), *python.glob("hiredis/*.so")]
    assert extensions, "no compiled extension modules for orjson / hiredis"
    for extension in extensions:
        assert "cpython-312-aarch64" in extension.name, extension.name
        assert elf_machine(extension) == ELF_MACHINE_AARCH64, extension.name
