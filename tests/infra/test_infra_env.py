"""The template passes the functions exactly the settings stateway.config reads.

Every name in ``stateway.config.ENV_NAMES`` is either passed to every deployed function
(DEPLOYED; the snapshot bucket only to the project-state functions and health; the OPTIONAL
ones only when their parameter is set) or local-only (LOCAL_ONLY, never in the template). A
new name in config.py fails here until it is placed in one of the sets, and the template
follows. Values are also checked as CloudFormation resolves them for a given set of
parameters (``stateway_testing.template.resolve``), and against what ``Settings.from_env`` accepts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stateway import config
from stateway.errors import ConfigError
from stateway_testing.template import (
    MIGRATION_FUNCTION,
    NO_VALUE,
    REQUIRED_PARAMETERS,
    Template,
    Unresolved,
    function_dir,
    resolve,
    sam_functions,
)

# Read only when run outside AWS: the URI itself (in AWS only its source is passed, and
# the URI never appears in the template).
LOCAL_ONLY = {config.MONGODB_URI}

DEPLOYED = {
    config.REDIS_URL,
    config.REDIS_CLUSTER,
    config.MONGODB_URI_SOURCE,
    config.MONGODB_DB,
    config.MONGODB_TLS_CA_FILE,
    config.SNAPSHOT_BUCKET,
    config.SESSION_TTL,
    config.PROJECT_TTL,
    config.MAX_STATE_BYTES,
    config.NAVIGATION_LIMIT,
    config.CLASSIFIER_CONFIG,
    config.REDIS_TIMEOUT_MS,
    config.MONGODB_TIMEOUT_MS,
    config.S3_TIMEOUT_MS,
    config.LOG_LEVEL,
    config.CACHE_VERIFY_SECONDS,
    config.STAGE,
}

# Passed only when their parameter is given (``!If [..., !Ref AWS::NoValue]``): a blank
# value would mean the same to config.py, but an absent one says so in the console too.
OPTIONAL = {config.MONGODB_TLS_CA_FILE}

PROJECT_FUNCTIONS = {"project_save", "project_load", "project_snapshots", "project_restore"}
# Health reports the snapshot tier by listing one key of the bucket.
SNAPSHOT_BUCKET_READERS = PROJECT_FUNCTIONS | {"health"}


def environment_by_dir(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """functions/<dir> -> the variables its Lambda function gets (Globals merged in); the
    migration's under its logical id, ``MigrationFunction``."""
    dirs = {name: function_dir(properties) for name, properties in sam_functions(sam_template).items()}
    dirs[MIGRATION_FUNCTION] = MIGRATION_FUNCTION
    assert set(lambda_functions) == set(dirs)
    return {
        dirs[name]: properties["Environment"]["Variables"] for name, properties in lambda_functions.items()
    }


def resolved_environment(
    sam_template: Template,
    lambda_functions: dict[str, dict[str, Any]],
    parameters: dict[str, Any] | None = None,
    directory: str = "session_update",
) -> dict[str, Any]:
    """The variables one function gets for a deploy with ``parameters``, as CloudFormation resolves them."""
    variables = environment_by_dir(sam_template, lambda_functions)[directory]
    resolved: dict[str, Any] = resolve(sam_template, variables, parameters)
    return resolved


def test_every_config_name_is_either_deployed_or_local_only() -> None:
    assert set(config.ENV_NAMES) == DEPLOYED | LOCAL_ONLY
    assert not DEPLOYED & LOCAL_ONLY
    assert OPTIONAL <= DEPLOYED


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
        for name in OPTIONAL:
            _, _, otherwise = variables[name]["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}, (directory, name)
    assert environments["health"][config.SNAPSHOT_BUCKET] == {"Ref": "SnapshotBucket"}
    # The migration never reads the bucket, and gets every other setting the functions get.
    assert set(environments[MIGRATION_FUNCTION]) == DEPLOYED - {config.SNAPSHOT_BUCKET}


#: The variables that give each need of config.REQUIRED_BY, as the template passes them.
NEED_VARIABLES = {
    "cache": {config.REDIS_URL},
    "store": {config.MONGODB_URI_SOURCE},
    "snapshots": {config.SNAPSHOT_BUCKET},
}


def test_every_function_gets_what_it_requires_at_cold_start(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    """Each routed function's import checks its REQUIRED_BY settings; the template passes them all."""
    environments = environment_by_dir(sam_template, lambda_functions)
    routed = set(environments) - {MIGRATION_FUNCTION}
    assert routed == set(config.REQUIRED_BY)
    for directory in routed:
        wanted = set().union(*(NEED_VARIABLES[need] for need in config.REQUIRED_BY[directory]))
        assert wanted <= set(environments[directory]), directory
    # A function that reads the bucket requires it, and the other way round.
    assert {d for d in routed if "snapshots" in config.REQUIRED_BY[d]} == SNAPSHOT_BUCKET_READERS


STORE_SETTINGS = (
    config.MONGODB_URI_SOURCE,
    config.MONGODB_DB,
    config.MONGODB_TLS_CA_FILE,
    config.MONGODB_TIMEOUT_MS,
)


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {
                "MongoUriSource": "ssm:/stateway/prod/mongodb-uri",
                "MongoDbName": "stateway_prod",
                "MongoTlsCaFile": "/opt/python/stateway/certs/global-bundle.pem",
            },
            id="ssm-other-database-ca-file",
        ),
    ],
)
def test_the_migration_reaches_the_store_the_functions_use(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]], parameters: dict[str, Any]
) -> None:
    migration = resolved_environment(sam_template, lambda_functions, parameters, MIGRATION_FUNCTION)
    for directory in ("health", "session_init", "project_save"):
        function = resolved_environment(sam_template, lambda_functions, parameters, directory)
        assert {name: migration.get(name) for name in STORE_SETTINGS} == {
            name: function.get(name) for name in STORE_SETTINGS
        }, directory
    expected_source = parameters.get("MongoUriSource", REQUIRED_PARAMETERS["MongoUriSource"])
    assert migration[config.MONGODB_URI_SOURCE] == expected_source
    assert migration[config.MONGODB_DB] == parameters.get("MongoDbName", "stateway")


def test_values_come_from_parameters_and_resources(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    variables = environment_by_dir(sam_template, lambda_functions)["project_save"]
    assert variables[config.MONGODB_URI_SOURCE] == {"Ref": "MongoUriSource"}
    assert variables[config.SNAPSHOT_BUCKET] == {"Ref": "SnapshotBucket"}
    assert variables[config.CLASSIFIER_CONFIG] == {"Ref": "ClassifierConfig"}
    assert variables[config.LOG_LEVEL] == {"Ref": "LogLevel"}
    condition, created, existing = variables[config.REDIS_URL]["Fn::If"]
    assert condition == "CreateCache"
    # TLS always (serverless caches have in-transit encryption on); no database number,
    # since a cluster has only database 0.
    assert created == {"Fn::Sub": "rediss://${Cache.Endpoint.Address}:${Cache.Endpoint.Port}"}
    assert existing == {"Ref": "ExistingRedisUrl"}
    assert variables[config.REDIS_CLUSTER] == {
        "Fn::If": ["CreateCache", "true", {"Ref": "ExistingRedisCluster"}]
    }
    assert variables[config.MONGODB_TLS_CA_FILE] == {
        "Fn::If": ["HasMongoTlsCaFile", {"Ref": "MongoTlsCaFile"}, {"Ref": "AWS::NoValue"}]
    }
    assert sam_template["Conditions"]["HasMongoTlsCaFile"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MongoTlsCaFile"}, ""]}]
    }


def test_the_resolver_follows_the_conditions(sam_template: Template) -> None:
    # Guards the resolved checks below: conditions come out as CloudFormation evaluates them.
    def branch(condition: str, parameters: dict[str, Any]) -> Any:
        return resolve(sam_template, {"Fn::If": [condition, "yes", {"Ref": "AWS::NoValue"}]}, parameters)

    assert branch("CreateCache", {}) == "yes"
    assert branch("CreateCache", {"ExistingRedisUrl": "redis://cache.internal:6379/0"}) is NO_VALUE
    assert branch("HasMongoTlsCaFile", {"MongoTlsCaFile": "/var/task/global-bundle.pem"}) == "yes"
    assert branch("HasMongoTlsCaFile", {}) is NO_VALUE
    no_ca = {
        "K": "v",
        "CA": {"Fn::If": ["HasMongoTlsCaFile", {"Ref": "MongoTlsCaFile"}, {"Ref": "AWS::NoValue"}]},
    }
    assert resolve(sam_template, no_ca) == {"K": "v"}
    assert resolve(sam_template, {"CA": no_ca["CA"]}) == {}
    arn = "secretsmanager:arn:aws:secretsmanager:xx-test-1:123456789012:secret:stateway/mongo-AbCdEf"
    assert branch("MongoSecretIsArn", {"MongoUriSource": arn}) == "yes"
    assert branch("MongoUriFromSecretsManager", {"MongoUriSource": "ssm:/stateway/mongodb-uri"}) is NO_VALUE
    assert isinstance(resolve(sam_template, {"Fn::GetAtt": ["Cache", "Endpoint.Address"]}), Unresolved)


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param({}, id="defaults"),
        pytest.param(
            {"ExistingRedisUrl": "rediss://cache.internal:6379", "ExistingRedisCluster": "true"},
            id="existing-cluster",
        ),
        pytest.param({"ExistingRedisUrl": "redis://cache.internal:6379/0"}, id="existing-single-node"),
    ],
)
def test_resolved_values_are_what_config_accepts(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]], parameters: dict[str, Any]
) -> None:
    # Every value CloudFormation resolves from the template and its parameters must pass
    # Settings.from_env as it is; only resource attributes (the cache endpoint, the bucket
    # name) are left for the deploy, and are stood in for here.
    variables = resolved_environment(sam_template, lambda_functions, parameters, directory="health")
    assert any(isinstance(value, str) for value in variables.values())
    stand_ins = {
        config.REDIS_URL: "rediss://cache.example:6379",
        config.SNAPSHOT_BUCKET: "stateway-snapshots",
    }
    environ = {
        name: stand_ins[name] if isinstance(value, Unresolved) else value for name, value in variables.items()
    }
    assert all(isinstance(value, str) for value in environ.values()), environ
    config.Settings.from_env(environ)


def test_the_created_cache_is_always_used_as_a_cluster(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]]
) -> None:
    # ElastiCache Serverless is only available in cluster mode, whatever ExistingRedisCluster says.
    for parameters in ({}, {"ExistingRedisCluster": "false"}):
        variables = resolved_environment(sam_template, lambda_functions, parameters)
        assert variables[config.REDIS_CLUSTER] == "true"
        assert isinstance(variables[config.REDIS_URL], Unresolved)
        settings = config.Settings.from_env({config.REDIS_CLUSTER: variables[config.REDIS_CLUSTER]})
        assert settings.redis_cluster is True


@pytest.mark.parametrize(("given", "cluster"), [(None, False), ("false", False), ("true", True)])
def test_an_existing_cache_says_whether_it_is_a_cluster(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]], given: str | None, cluster: bool
) -> None:
    parameters = {"ExistingRedisUrl": "rediss://clustercfg.cache.internal:6379"}
    if given is not None:
        parameters["ExistingRedisCluster"] = given
    variables = resolved_environment(sam_template, lambda_functions, parameters)
    assert variables[config.REDIS_URL] == "rediss://clustercfg.cache.internal:6379"
    assert (
        config.Settings.from_env({config.REDIS_CLUSTER: variables[config.REDIS_CLUSTER]}).redis_cluster
        is cluster
    )


def test_redis_cluster_parameter_offers_only_what_config_accepts(sam_template: Template) -> None:
    spec = sam_template["Parameters"]["ExistingRedisCluster"]
    assert spec["Default"] == "false"
    assert sorted(spec["AllowedValues"]) == ["false", "true"]
    for value in spec["AllowedValues"]:
        assert config.Settings.from_env({config.REDIS_CLUSTER: value}).redis_cluster is (value == "true")


def test_mongo_tls_ca_file_is_passed_only_when_given(
    sam_template: Template, lambda_functions: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    assert sam_template["Parameters"]["MongoTlsCaFile"]["Default"] == ""
    for directory in ("health", "session_update", "project_save"):
        absent = resolved_environment(sam_template, lambda_functions, directory=directory)
        assert config.MONGODB_TLS_CA_FILE not in absent, directory
    bundle = "/opt/python/stateway/certs/global-bundle.pem"
    given = resolved_environment(sam_template, lambda_functions, {"MongoTlsCaFile": bundle})
    assert given[config.MONGODB_TLS_CA_FILE] == bundle
    # Where the bundle is not, the cold start fails naming the setting ...
    with pytest.raises(ConfigError, match=config.MONGODB_TLS_CA_FILE):
        config.Settings.from_env({config.MONGODB_TLS_CA_FILE: str(tmp_path / "global-bundle.pem")})
    # ... and where it is, the store's client gets it.
    (tmp_path / "global-bundle.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    settings = config.Settings.from_env({config.MONGODB_TLS_CA_FILE: str(tmp_path / "global-bundle.pem")})
    assert settings.mongodb_tls_ca_file == str(tmp_path / "global-bundle.pem")


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("", True),
        ("/opt/python/stateway/certs/global-bundle.pem", True),
        ("/var/task/global-bundle.pem", True),
        ("global-bundle.pem", False),
        ("s3://bucket/global-bundle.pem", False),
        ("/opt/ca bundle.pem", False),
    ],
)
def test_mongo_tls_ca_file_parameter_takes_an_absolute_path(
    sam_template: Template, path: str, valid: bool
) -> None:
    pattern = sam_template["Parameters"]["MongoTlsCaFile"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, path)) is valid
