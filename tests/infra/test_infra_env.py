"""The template passes the functions exactly the settings stateway.config reads.

Every name in ``stateway.config.ENV_NAMES`` is either passed to every deployed function
(DEPLOYED; the snapshot bucket only to the project-state functions and health) or local-only
(LOCAL_ONLY, never in the template). A new name in config.py fails here until it is
placed in one of the two sets, and the template follows.
"""

from __future__ import annotations

from typing import Any

from template_helpers import Template, function_dir, sam_functions

from stateway import config

# Read only when run outside AWS: the URI itself (in AWS only its source is passed, and
# the URI never appears in the template), and token verification, which in AWS the HTTP
# API's JWT authorizer does before a function runs.
LOCAL_ONLY = {config.MONGODB_URI, config.JWT_SECRET, config.JWKS_URL}

DEPLOYED = {
    config.REDIS_URL,
    config.MONGODB_URI_SOURCE,
    config.MONGODB_DB,
    config.SNAPSHOT_BUCKET,
    config.SESSION_TTL,
    config.PROJECT_TTL,
    config.MAX_STATE_BYTES,
    config.NAVIGATION_LIMIT,
    config.CLASSIFIER_CONFIG,
    config.JWT_ISSUER,
    config.JWT_AUDIENCE,
    config.REDIS_TIMEOUT_MS,
    config.MONGODB_TIMEOUT_MS,
    config.S3_TIMEOUT_MS,
    config.LOG_LEVEL,
}

PROJECT_FUNCTIONS = {"project_save", "project_load", "project_snapshots", "project_restore"}
# Health reports the snapshot tier by listing one key of the bucket.
SNAPSHOT_BUCKET_READERS = PROJECT_FUNCTIONS | {"health"}


def environment_by_dir(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """functions/<dir> -> the variables its Lambda function gets (Globals merged in)."""
    dirs = {name: function_dir(properties) for name, properties in sam_functions(sam_template).items()}
    return {
        dirs[name]: properties["Environment"]["Variables"] for name, properties in lambda_functions.items()
    }


def test_every_config_name_is_either_deployed_or_local_only() -> None:
    assert set(config.ENV_NAMES) == DEPLOYED | LOCAL_ONLY
    assert not DEPLOYED & LOCAL_ONLY


def test_template_passes_only_names_config_reads(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    for directory, variables in environment_by_dir(sam_template, lambda_functions).items():
        assert set(variables) <= set(config.ENV_NAMES), directory
        assert not set(variables) & LOCAL_ONLY, directory


def test_template_passes_every_deployed_name(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    environments = environment_by_dir(sam_template, lambda_functions)
    assert set(environments) >= SNAPSHOT_BUCKET_READERS
    for directory, variables in environments.items():
        expected = DEPLOYED if directory in SNAPSHOT_BUCKET_READERS else DEPLOYED - {config.SNAPSHOT_BUCKET}
        assert set(variables) == expected, directory
    assert environments["health"][config.SNAPSHOT_BUCKET] == {"Ref": "SnapshotBucket"}


def test_values_come_from_parameters_and_resources(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    variables = environment_by_dir(sam_template, lambda_functions)["project_save"]
    assert variables[config.MONGODB_URI_SOURCE] == {"Ref": "MongoUriSource"}
    assert variables[config.SNAPSHOT_BUCKET] == {"Ref": "SnapshotBucket"}
    assert variables[config.CLASSIFIER_CONFIG] == {"Ref": "ClassifierConfig"}
    assert variables[config.LOG_LEVEL] == {"Ref": "LogLevel"}
    assert variables[config.JWT_ISSUER] == {"Ref": "JwtIssuer"}
    assert variables[config.JWT_AUDIENCE] == {"Ref": "JwtAudience"}
    condition, created, existing = variables[config.REDIS_URL]["Fn::If"]
    assert condition == "CreateCache"
    assert created == {"Fn::Sub": "rediss://${Cache.Endpoint.Address}:${Cache.Endpoint.Port}/0"}
    assert existing == {"Ref": "ExistingRedisUrl"}


def test_literal_values_are_what_config_accepts(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    # Literal strings in the template must pass Settings.from_env as they are.
    variables = environment_by_dir(sam_template, lambda_functions)["health"]
    literals = {name: value for name, value in variables.items() if isinstance(value, str)}
    assert literals, "expected some literal settings (the timeouts)"
    defaults = {
        name: str(spec["Default"])
        for name, spec in sam_template["Parameters"].items()
        if "Default" in spec and not isinstance(spec["Default"], list)
    }
    resolved = {
        name: defaults[value["Ref"]]
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in defaults
    }
    config.Settings.from_env({**literals, **resolved})
