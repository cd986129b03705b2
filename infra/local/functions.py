"""Each function's ``app.py`` imported by path, as Lambda imports its handler module.

Standard library only, and no more of it than the import system already loaded: it is
imported before ``bench/cold_child.py`` times a cold import, and by Python 3.12 with only
the standard library and the layer beside it (``tests/infra/test_infra_sam_build.py``).
"""

# No `from __future__ import annotations`, no typing, no pathlib: none of them is loaded yet
# when a cold start is timed (importlib.util loads os, sys and types).
import importlib.util
import os
import sys
from types import ModuleType

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
FUNCTIONS_DIR = os.path.join(ROOT, "functions")


def function_names() -> list[str]:
    """The ``functions/<name>/`` folders that hold an ``app.py``, sorted."""
    return sorted(
        name
        for name in os.listdir(FUNCTIONS_DIR)
        if os.path.isfile(os.path.join(FUNCTIONS_DIR, name, "app.py"))
    )


def app_path(name_or_path: str | os.PathLike[str]) -> str:
    """The ``app.py`` meant by a function's name (``session_init``), its folder, or the file itself."""
    given = os.fspath(name_or_path)
    if os.sep not in given and not given.endswith(".py"):
        return os.path.join(FUNCTIONS_DIR, given, "app.py")
    return os.path.join(given, "app.py") if os.path.isdir(given) else given


def load_app(name_or_path: str | os.PathLike[str]) -> ModuleType:
    """Import a function's ``app.py`` afresh and return the module (its Chalice app is ``.app``).

    Every call is a cold start: the file is executed again, as a new module registered in
    ``sys.modules`` as ``stateway_function_<folder>`` (all the files are called ``app.py``;
    the folder names them apart). Raises FileNotFoundError when there is no such file,
    and whatever the module raises while it is imported (it is then not registered).
    """
    path = app_path(name_or_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no function app at {path}")
    name = "stateway_function_" + os.path.basename(os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
