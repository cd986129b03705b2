"""pyproject.toml installs the layer's package, the edge's (the JWT authorizer played where API Gateway
does not run) and the development packages from their folders."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from stateway_testing.template import ROOT

SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
FOLDERS = {
    "stateway": ROOT / "layers" / "stateway" / "stateway",
    "stateway_local": ROOT / "infra" / "local",
    "stateway_testing": ROOT / "tests" / "support",
    "stateway_edge": ROOT / "infra" / "edge" / "stateway_edge",
    "stateway_runtime": ROOT / "infra" / "runtime" / "stateway_runtime",
}


def package_folder(package: str) -> Path:
    """Where setuptools takes ``package`` from, by the package-dir mapping."""
    mapping: dict[str, str] = SETUPTOOLS["package-dir"]
    top, _, rest = package.partition(".")
    base = ROOT / mapping[top] if top in mapping else ROOT / mapping.get("", ".") / top
    return base.joinpath(*rest.split(".")) if rest else base


def test_every_package_folder_is_listed_and_mapped_to_its_folder() -> None:
    found = {
        ".".join([top, *init.parent.relative_to(folder).parts])
        for top, folder in FOLDERS.items()
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert sorted(SETUPTOOLS["packages"]) == sorted(found)
    for package in found:
        assert (package_folder(package) / "__init__.py").is_file(), package
    assert {name: package_folder(name) for name in FOLDERS} == FOLDERS


def test_the_packages_import_from_any_directory(tmp_path: Path) -> None:
    code = (
        "import json, stateway, stateway_local.servers, stateway_local.functions, stateway_testing.clients\n"
        "import stateway_edge.authorizer\n"
        "modules = (stateway, stateway_local.servers, stateway_testing.clients, stateway_edge.authorizer)\n"
        "print(json.dumps([m.__file__ for m in modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    )
    files = [Path(name) for name in json.loads(done.stdout)]
    assert files == [
        FOLDERS["stateway"] / "__init__.py",
        FOLDERS["stateway_local"] / "servers.py",
        FOLDERS["stateway_testing"] / "clients.py",
        FOLDERS["stateway_edge"] / "authorizer.py",
    ]
