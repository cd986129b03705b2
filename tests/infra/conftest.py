"""Session fixtures over infra/template.yaml (see stateway_testing.template)."""

from __future__ import annotations

from typing import Any

import pytest

from stateway_testing.template import Template, load_template, translate


@pytest.fixture(scope="session")
def sam_template() -> Template:
    return load_template()


@pytest.fixture(scope="session")
def cfn_template(sam_template: Template) -> Template:
    """The template after the SAM transform, with the default parameter values."""
    return translate(sam_template)


@pytest.fixture(scope="session")
def lambda_functions(cfn_template: Template) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every AWS::Lambda::Function after the transform."""
    return {
        name: resource["Properties"]
        for name, resource in cfn_template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
