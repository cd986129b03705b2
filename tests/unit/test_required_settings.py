"""Settings checked at cold start: each function's import fails, naming the setting, when one it
needs is missing (``stateway.config.REQUIRED_BY``), instead of its first request answering 500.

Each case imports the function's ``app.py`` in a fresh interpreter, as a Lambda init does, with
every setting the function needs (values that point nowhere: the import connects to nothing)
but the one under test.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from stateway import config
from stateway_local.functions import function_names
from stateway_testing.settings import IMPORT_ONLY

#: A value for each need that satisfies the check and is never connected to.
GIVEN = IMPORT_ONLY
#: The variables whose absence each need's check reports, and what its message says.
NEEDS = {
    "cache": ((config.REDIS_URL,), f"{config.REDIS_URL} is required"),
    "store": (
        (config.MONGODB_URI, config.MONGODB_URI_SOURCE),
        f"{config.MONGODB_URI} or {config.MONGODB_URI_SOURCE} is required",
    ),
    "snapshots": ((config.SNAPSHOT_BUCKET,), f"{config.SNAPSHOT_BUCKET} is required"),
}
CASES = [(name, need) for name in sorted(config.REQUIRED_BY) for need in config.REQUIRED_BY[name]]


def import_app(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = f"from stateway_local.functions import load_app\nload_app({name!r})\nprint('imported')\n"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_function_declares_what_it_needs() -> None:
    assert set(config.REQUIRED_BY) == set(function_names())
    assert all(set(needs) <= set(NEEDS) for needs in config.REQUIRED_BY.values())


@pytest.mark.parametrize("name", sorted(config.REQUIRED_BY))
def test_a_function_with_what_it_needs_imports(name: str) -> None:
    done = import_app(name, GIVEN)
    assert (done.returncode, done.stdout.strip()) == (0, "imported"), done.stderr[-2000:]


@pytest.mark.parametrize(("name", "need"), CASES)
def test_a_missing_setting_fails_the_import_naming_it(name: str, need: str) -> None:
    unset, message = NEEDS[need]
    env = {key: value for key, value in GIVEN.items() if key not in unset}
    done = import_app(name, env)
    assert done.returncode != 0
    assert f"ConfigError: {message}" in done.stderr, done.stderr[-2000:]
    # Blank counts as missing, as every setting reads it.
    done = import_app(name, {**env, unset[0]: "  "})
    assert done.returncode != 0 and f"ConfigError: {message}" in done.stderr
