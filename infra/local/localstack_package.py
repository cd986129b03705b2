"""The code of each function of ``infra/localstack/template.yaml``, layer included, in a folder of its own.

    python -m stateway_local.localstack_package [--build-dir build/localstack] [--arch x86_64|arm64]
                                                [--python PATH]

LocalStack's free plan puts no layer content under ``/opt``, so each function
carries what the layer holds in AWS, in the folder its ``CodeUri`` names
(``<build dir>/functions/<LogicalId>/``, remade on every run):

* the function's own folder (its production ``CodeUri``: ``functions/<op>/``,
  ``infra/migrate/`` for the migration);
* the ``stateway`` package (``layers/stateway/stateway``) and the wrapper's,
  ``stateway_edge`` (``infra/edge/stateway_edge``);
* the pins of ``layers/stateway/requirements.txt`` and
  ``infra/localstack/requirements-edge.txt``, as manylinux wheels for CPython
  3.12 on the chosen architecture, and of Chalice only its runtime, as
  ``layers/stateway/Makefile`` builds the layer. boto3 is not packaged: the
  Lambda runtime provides it.

The dependencies are installed once into ``<build dir>/deps`` with the pip of
the Python 3.12 that ``infra/sam/python312.sh`` finds (or ``--python``), and
reused while ``deps.sha256`` beside it matches the requirement files and the
architecture; each function gets them as hard links (copies where a link
cannot be made), so a run with the dependencies in place takes about a second.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from stateway_local.localstack_template import BUILD_DIR, LOCALSTACK_TEMPLATE, code_dirs, generate, render
from stateway_local.template import TEMPLATE, load

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers" / "stateway" / "requirements.txt"
EDGE_REQUIREMENTS = ROOT / "infra" / "localstack" / "requirements-edge.txt"
REQUIREMENTS = (LAYER_REQUIREMENTS, EDGE_REQUIREMENTS)
PACKAGES = {
    "stateway": ROOT / "layers" / "stateway" / "stateway",
    "stateway_edge": ROOT / "infra" / "edge" / "stateway_edge",
}
FIND_PYTHON312 = ROOT / "infra" / "sam" / "python312.sh"

#: The template's Architecture -> the machine of its manylinux wheels.
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
# Lambda's python3.12 runs on Amazon Linux 2023 (glibc 2.34), as layers/stateway/Makefile says.
PLATFORM_TAGS = ("manylinux2014_{machine}", "manylinux_2_28_{machine}")
# The Chalice files a deployed function imports (the rest of the wheel is its CLI), as in the layer.
CHALICE_RUNTIME = ("__init__.py", "app.py", "py.typed", "*.pyi")
#: What the Lambda runtime provides; a copy would shadow its botocore.
NOT_PACKAGED = ("boto3", "botocore", "s3transfer")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
#: Part of the deps stamp: a change to how they are installed installs them again.
RECIPE = "pip install --target, cp312, only binary; chalice runtime only; no bin/"


def platform_args(arch: str) -> list[str]:
    if arch not in MACHINES:
        raise ValueError(f"the architecture is one of {sorted(MACHINES)}, not {arch!r}")
    args = [f"--platform={tag.format(machine=MACHINES[arch])}" for tag in PLATFORM_TAGS]
    return [*args, "--implementation=cp", "--python-version=3.12", "--abi=cp312", "--only-binary=:all:"]


def find_python312() -> str:
    """The interpreter ``infra/sam/python312.sh`` finds: $SAM_PYTHON312, pyenv's 3.12, python3.12 on PATH."""
    found = subprocess.run(
        ["bash", "-c", 'source "$0" && find_python312', str(FIND_PYTHON312)],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0 or not found.stdout.strip():
        raise RuntimeError(found.stderr.strip() or "python3.12 not found")
    return found.stdout.strip()


def pins() -> tuple[list[str], str]:
    """(every pin but Chalice's, Chalice's pin) of the requirement files, comments left out."""
    lines = [
        stripped
        for path in REQUIREMENTS
        for line in path.read_text().splitlines()
        if (stripped := re.sub(r"(^|\s+)#.*", "", line).strip())
    ]
    chalice = [line for line in lines if re.match(r"chalice\s*([=<>!~;\[]|$)", line, flags=re.I)]
    if len(chalice) != 1 or not re.fullmatch(r"chalice\s*==\s*[^=\s]+", chalice[0], flags=re.I):
        raise ValueError(f"{LAYER_REQUIREMENTS.relative_to(ROOT)} must pin chalice==<version>, once")
    return [line for line in lines if line not in chalice], chalice[0].replace(" ", "")


def stamp_of(arch: str) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE, arch, *platform_args(arch)):
        digest.update(part.encode() + b"\0")
    for path in REQUIREMENTS:
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stamp_file(deps: Path) -> Path:
    return deps.with_name(f"{deps.name}.sha256")


@contextlib.contextmanager
def _locked(deps: Path) -> Iterator[None]:
    """One install at a time into ``deps`` (two test sessions, a test and a command line)."""
    deps.parent.mkdir(parents=True, exist_ok=True)
    with deps.with_name(f".{deps.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install_deps(deps: Path, arch: str, python: str | None = None) -> bool:
    """The third-party packages in ``deps``; False when they were already there for this stamp."""
    wanted = stamp_of(arch)
    stamp = _stamp_file(deps)
    with _locked(deps):
        if deps.is_dir() and stamp.is_file() and stamp.read_text().strip() == wanted:
            return False
        python = python or find_python312()
        _check_python(python)
        stamp.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="deps-", dir=deps.parent) as work:
            target = Path(work) / "deps"
            _pip_install(python, arch, Path(work), target)
            shutil.rmtree(deps, ignore_errors=True)
            target.rename(deps)
        stamp.write_text(wanted + "\n")
        return True


def _check_python(python: str) -> None:
    version = subprocess.run(
        [python, "-I", "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if version.stdout.strip() != "True":
        raise RuntimeError(f"{python} is not Python 3.12 (the functions' runtime)")


def _pip(python: str, *args: str, cwd: Path) -> None:
    # -I keeps the working directory and PYTHON* variables out of pip's own imports; the PIP_*
    # settings keep a user's configuration from making it a --user or venv-only install.
    env = {**os.environ, "PIP_USER": "0", "PIP_REQUIRE_VIRTUALENV": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [python, "-I", "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _pip_install(python: str, arch: str, work: Path, target: Path) -> None:
    others, chalice = pins()
    requirements = work / "requirements.txt"
    requirements.write_text("\n".join(others) + "\n")
    platform = platform_args(arch)
    _pip(
        python,
        "install",
        "--quiet",
        "--no-compile",
        f"--target={target}",
        *platform,
        "-r",
        str(requirements),
        cwd=work,
    )
    # Of Chalice only the runtime: the wheel without its dependencies (its CLI's botocore, pip, ...).
    _pip(python, "download", "--quiet", "--no-deps", f"--dest={work / 'wheel'}", *platform, chalice, cwd=work)
    (wheel,) = (work / "wheel").glob("chalice-*.whl")
    (target / "chalice").mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            folder, _, name = member.partition("/")
            if (
                folder == "chalice"
                and "/" not in name
                and any(fnmatch.fnmatch(name, p) for p in CHALICE_RUNTIME)
            ):
                (target / member).write_bytes(archive.read(member))
    if not (target / "chalice" / "app.py").is_file():
        raise RuntimeError(f"{wheel.name} has no chalice/app.py")
    shutil.rmtree(target / "bin", ignore_errors=True)
    shadowing = sorted(name for name in NOT_PACKAGED if (target / name).exists())
    if shadowing:
        raise RuntimeError(
            f"a pin brings {shadowing}, which the Lambda runtime provides: pin what needs it out"
        )


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def package(
    build_dir: Path, arch: str, python: str | None = None, *, deps_dir: Path | None = None
) -> list[Path]:
    """``build_dir/functions/<LogicalId>/`` for every function of the LocalStack template; their paths.

    ``deps_dir`` (default ``build_dir/deps``) holds the installed dependencies between runs.
    """
    build_dir = build_dir.resolve()
    deps = (deps_dir or build_dir / "deps").resolve()
    started = time.monotonic()
    installed = install_deps(deps, arch, python)
    print(
        f"deps {'installed' if installed else 'reused'} ({arch}, {time.monotonic() - started:.1f} s): {_shown(deps)}"
    )
    dependencies = {path.name for path in deps.iterdir()}
    functions_dir = build_dir / "functions"
    shutil.rmtree(functions_dir, ignore_errors=True)
    built = []
    for name, source in code_dirs(load(TEMPLATE)).items():
        own = {path.name for path in source.iterdir() if not IGNORED(str(source), [path.name])}
        clashes = sorted(((own | set(PACKAGES)) & dependencies) | (own & set(PACKAGES)))
        if clashes:
            raise RuntimeError(f"{name}: {clashes} would be both code and a dependency")
        target = functions_dir / name
        shutil.copytree(deps, target, copy_function=_link)
        shutil.copytree(source, target, ignore=IGNORED, dirs_exist_ok=True)
        for package_name, folder in PACKAGES.items():
            shutil.copytree(folder, target / package_name, ignore=IGNORED)
        print(f"{name:<26} {_size(target) / 1_000_000:5.1f} MB  {_shown(target)}")
        built.append(target)
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="stateway_local.localstack_package",
        description=f"Package every function of {LOCALSTACK_TEMPLATE.relative_to(ROOT)}, layer included.",
    )
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=BUILD_DIR,
        help="default: build/localstack, the folder the template's CodeUri names (another is for tests)",
    )
    parser.add_argument(
        "--arch", choices=sorted(MACHINES), default="x86_64", help="the template's Architecture"
    )
    parser.add_argument("--python", help="the Python 3.12 whose pip installs the dependencies")
    args = parser.parse_args(argv)
    if not LOCALSTACK_TEMPLATE.exists() or LOCALSTACK_TEMPLATE.read_text() != render(
        generate(load(TEMPLATE))
    ):
        print(
            f"warning: {LOCALSTACK_TEMPLATE.relative_to(ROOT)} is out of date: "
            "run `python -m stateway_local.localstack_template`",
            file=sys.stderr,
        )
    package(args.build_dir, args.arch, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
