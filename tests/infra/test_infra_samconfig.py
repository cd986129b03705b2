"""samconfig.toml: the three environments, each pointing the SAM CLI at the right template."""
# default and prod deploy what `sam build` made of infra/template.yaml; localstack deploys the
# generated free-plan template, whose functions `make localstack-package` builds.

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from stateway_testing.template import ROOT

SAMCONFIG = ROOT / "samconfig.toml"
ENVIRONMENTS = ("default", "prod", "localstack")
BUILT = ("default", "prod")


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with SAMCONFIG.open("rb") as handle:
        return tomllib.load(handle)


def test_version_and_environments(samconfig: dict[str, Any]) -> None:
    assert samconfig["version"] == 0.1
    assert set(samconfig) - {"version"} == set(ENVIRONMENTS)


@pytest.mark.parametrize("environment", BUILT)
def test_build_uses_the_source_template_and_deploy_the_built_one(
    samconfig: dict[str, Any], environment: str
) -> None:
    sections = samconfig[environment]
    assert sections["build"]["parameters"]["template_file"] == "infra/template.yaml"
    # `sam deploy` must package what `sam build` produced (the layer with its
    # dependencies under python/), not the source folders the source template names.
    deploy = sections["deploy"]["parameters"]
    assert deploy["template_file"] == ".aws-sam/build/template.yaml"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert sections["global"]["parameters"]["stack_name"].startswith("stateway-")


def test_localstack_deploys_the_generated_template_with_no_build(samconfig: dict[str, Any]) -> None:
    sections = samconfig["localstack"]
    assert "build" not in sections
    deploy = sections["deploy"]["parameters"]
    assert deploy["template_file"] == "infra/localstack/template.yaml"
    assert (ROOT / deploy["template_file"]).is_file()
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert sections["global"]["parameters"]["stack_name"].startswith("stateway-")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_names_its_stage(samconfig: dict[str, Any], environment: str) -> None:
    overrides = samconfig[environment]["deploy"]["parameters"]["parameter_overrides"]
    stages = [item.split("=", 1)[1] for item in overrides.split() if item.startswith("Stage=")]
    assert len(stages) == 1


def test_stages_and_stacks_differ(samconfig: dict[str, Any]) -> None:
    stacks = {samconfig[env]["global"]["parameters"]["stack_name"] for env in ENVIRONMENTS}
    assert len(stacks) == len(ENVIRONMENTS)


def test_lint_is_not_switched_on(samconfig: dict[str, Any]) -> None:
    for environment in ENVIRONMENTS:
        for command, section in samconfig[environment].items():
            assert "lint" not in section.get("parameters", {}), (environment, command)


def test_no_region_or_secret_in_samconfig() -> None:
    text = SAMCONFIG.read_text()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        assert not line.strip().startswith("region"), line
        assert "mongodb://" not in line
        assert "mongodb+srv://" not in line
