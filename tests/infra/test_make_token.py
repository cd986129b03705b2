"""``make token`` signs for the user and client it is given, never for the shell's login name."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[2]


def make_token(*args: str) -> subprocess.CompletedProcess[str]:
    # As from a shell: not a sub-make of the make that runs the tests (its MAKEFLAGS would carry
    # its own command-line variables and print directories).
    env = {
        k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    env["USER"] = "login-name-of-the-shell"
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "token", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_user_on_the_command_line_it_refuses() -> None:
    for args in (("CLIENT=acme",), ("USER=alice",), ()):
        result = make_token(*args)
        assert result.returncode != 0
        assert "usage: make token USER=<user id> CLIENT=<client id>" in result.stderr
        assert result.stdout == ""


def test_it_signs_for_the_user_and_client_given() -> None:
    result = make_token("USER=alice", "CLIENT=acme")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert (claims["sub"], claims["client_id"]) == ("alice", "acme")
