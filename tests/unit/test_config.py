from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from stateway import config
from stateway.config import ENV_NAMES, Settings
from stateway.errors import ConfigError


def test_defaults_match_the_contract() -> None:
    s = Settings.from_env({})
    assert (s.session_ttl, s.project_ttl, s.max_state_bytes, s.navigation_limit) == (7200, 3600, 262144, 100)
    assert s.mongodb_db == "stateway"
    assert s.classifier_config == {}


def test_environment_is_read() -> None:
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://h:1/0",
            "MONGODB_URI": "mongodb://h:2/",
            "STATEWAY_SESSION_TTL": "60",
            "STATEWAY_CLASSIFIER_CONFIG": '{"model": "m1", "labels": [1, 2]}',
            "STATEWAY_LOG_LEVEL": "debug",
        }
    )
    assert s.redis_url == "redis://h:1/0"
    assert s.session_ttl == 60
    assert s.classifier_config == {"model": "m1", "labels": [1, 2]}
    assert s.log_level == "DEBUG"


def test_explicit_arguments_beat_the_environment() -> None:
    s = Settings.from_env({"STATEWAY_SESSION_TTL": "60"}, session_ttl=5)
    assert s.session_ttl == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATEWAY_SESSION_TTL", "soon"),
        ("STATEWAY_MAX_STATE_BYTES", "-1"),
        ("STATEWAY_NAVIGATION_LIMIT", "0"),
        ("STATEWAY_CLASSIFIER_CONFIG", "[1, 2]"),
        ("STATEWAY_CLASSIFIER_CONFIG", "{not json"),
        ("STATEWAY_LOG_LEVEL", "LOUD"),
        ("STATEWAY_MONGODB_URI_SOURCE", "vault:x"),
    ],
)
def test_malformed_settings_fail_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_missing_required_settings_are_named() -> None:
    s = Settings.from_env({})
    with pytest.raises(ConfigError, match="REDIS_URL"):
        s.require_redis_url()
    with pytest.raises(ConfigError, match="MONGODB_URI"):
        s.require_mongodb()
    with pytest.raises(ConfigError, match="STATEWAY_SNAPSHOT_BUCKET"):
        s.require_snapshot_bucket()


def sample(setting: dataclasses.Field[Any], tmp_path: Path) -> tuple[str, Any]:
    """A valid value for ``setting`` as its variable carries it, and what the setting then holds."""
    special: dict[str, tuple[str, Any]] = {
        "mongodb_uri_source": ("secretsmanager:stateway/uri", "secretsmanager:stateway/uri"),
        "mongodb_tls_ca_file": (str(tmp_path / "ca.pem"), str(tmp_path / "ca.pem")),
        "log_level": ("debug", "DEBUG"),
        "classifier_config": ('{"model": "m9"}', {"model": "m9"}),
    }
    if setting.name in special:
        return special[setting.name]
    if isinstance(setting.default, bool):
        return "true", not setting.default
    if isinstance(setting.default, int):
        return str(setting.default + 17), setting.default + 17
    return f"value-of-{setting.name}", f"value-of-{setting.name}"


def test_env_names_are_unique_and_cover_every_setting(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("a CA bundle")
    settings = dataclasses.fields(Settings)
    # Each setting's variable is the config constant named after it (session_ttl: SESSION_TTL).
    names = {setting.name: getattr(config, setting.name.upper()) for setting in settings}
    assert sorted(ENV_NAMES) == sorted(names.values())
    assert len(set(ENV_NAMES)) == len(ENV_NAMES) == len(settings)
    defaults = Settings.from_env({})
    for setting in settings:
        raw, expected = sample(setting, tmp_path)
        read = Settings.from_env({names[setting.name]: raw})
        # The variable sets its own setting, and no other.
        assert getattr(read, setting.name) == expected != getattr(defaults, setting.name), setting.name
        assert dataclasses.replace(read, **{setting.name: getattr(defaults, setting.name)}) == defaults
