"""The stack's CloudWatch alarms: the HTTP API's 5xx rate, and the layer's failure metrics.

The metrics contract the layer emits: namespace ``Stateway``, dimensions ``service`` (the
operation) and ``stage`` (``STATEWAY_STAGE``, the template's ``Stage``), unit Count, the
metrics below. Each alarm has a parameter giving its threshold, or ``off`` to leave it out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from stateway import config, metrics
from stateway_testing.template import (
    NO_VALUE,
    TEMPLATE,
    Template,
    condition_holds,
    lint,
    resolve,
    translate,
)

#: The layer publishes its metrics there (stateway.metrics).
NAMESPACE = "Stateway"
TOPIC = "arn:aws:sns:xx-test-1:123456789012:stateway-alarms"

#: The alarms on the layer's metrics: logical id -> (threshold parameter, metric).
METRIC_ALARMS = {
    "CacheBugAlarm": ("AlarmCacheBugs", "cache_bug"),
    "CacheBreakerOpenAlarm": ("AlarmBreakerOpens", "cache_breaker_open"),
    "SnapshotFailureAlarm": ("AlarmSnapshotFailures", "snapshot_failure"),
}
RATE_ALARM = ("Api5xxRateAlarm", "Alarm5xxRatePercent")
#: Every alarm: logical id -> its parameter.
ALARMS = {RATE_ALARM[0]: RATE_ALARM[1], **{name: parameter for name, (parameter, _) in METRIC_ALARMS.items()}}
ALL_OFF = dict.fromkeys(ALARMS.values(), "off")

QUERY = re.compile(
    r"SELECT SUM\((?P<metric>[a-z_]+)\) FROM SCHEMA\(\"(?P<namespace>[^\"]+)\", service, stage\) "
    r"WHERE stage = '(?P<stage>[a-z0-9]+)'"
)


def alarm(template: Template, name: str) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"][name]
    assert resource["Type"] == "AWS::CloudWatch::Alarm", name
    return resource


def test_the_namespace_is_the_layers() -> None:
    assert metrics.NAMESPACE == NAMESPACE


def test_the_alarms_are_the_stacks_only_alarms(sam_template: Template) -> None:
    alarms = {name for name, r in sam_template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == set(ALARMS)


@pytest.mark.parametrize(
    "parameters",
    [
        pytest.param({}, id="defaults"),
        pytest.param(ALL_OFF, id="all-off"),
        pytest.param(
            {"AlarmTopicArn": TOPIC, "Alarm5xxRatePercent": "2.5", "AlarmCacheBugs": "3"}, id="topic"
        ),
    ],
)
def test_sam_transform_and_cfn_lint_accept_them(sam_template: Template, parameters: dict[str, Any]) -> None:
    translated = translate(sam_template, parameters)
    for name in ALARMS:
        assert translated["Resources"][name] == sam_template["Resources"][name]
    assert lint(parameters=parameters) == []


def test_cfn_lint_catches_a_broken_alarm(tmp_path: Path) -> None:
    # Guards the lint above: cfn-lint checks the alarms against the CloudWatch schema.
    source = TEMPLATE.read_text()
    assert source.count("ComparisonOperator: GreaterThanThreshold") == len(ALARMS)
    broken = tmp_path / "template.yaml"
    broken.write_text(
        source.replace("ComparisonOperator: GreaterThanThreshold", "ComparisonOperator: Above", 1)
    )
    assert any(problem.startswith("E") for problem in lint(broken))


def test_the_5xx_rate_is_metric_math_over_the_http_apis_metrics(sam_template: Template) -> None:
    name, parameter = RATE_ALARM
    properties = alarm(sam_template, name)["Properties"]
    queries = {query["Id"]: query for query in properties["Metrics"]}
    assert [query["Id"] for query in properties["Metrics"] if query["ReturnData"]] == ["rate"]
    errors, requests = queries["errors"]["MetricStat"], queries["requests"]["MetricStat"]
    for stat, metric_name in ((errors, "5xx"), (requests, "Count")):
        assert stat["Metric"] == {
            "Namespace": "AWS/ApiGateway",
            "MetricName": metric_name,
            "Dimensions": [{"Name": "ApiId", "Value": {"Ref": "Api"}}],
        }
        assert stat["Period"] == 60
        assert stat["Stat"] == "Sum"
    assert queries["rate"]["Expression"] == "100 * errors / requests"
    assert properties["Threshold"] == {"Ref": parameter}
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["EvaluationPeriods"] == 5
    assert properties["DatapointsToAlarm"] == 3
    assert properties["TreatMissingData"] == "notBreaching"
    assert sam_template["Parameters"][parameter]["Default"] == "1"
    # Api is the HTTP API: its Ref is the ApiId of the AWS/ApiGateway metrics.
    assert sam_template["Resources"]["Api"]["Type"] == "AWS::Serverless::HttpApi"


@pytest.mark.parametrize("name", sorted(METRIC_ALARMS))
def test_each_metric_alarm_sums_its_metric_over_the_stages_functions(
    sam_template: Template, name: str
) -> None:
    parameter, metric = METRIC_ALARMS[name]
    properties = alarm(sam_template, name)["Properties"]
    (query,) = properties["Metrics"]
    assert query["Period"] == 60
    assert query["ReturnData"] is True
    for stage in ("dev", "prod"):
        expression = resolve(sam_template, query["Expression"], {"Stage": stage})
        match = QUERY.fullmatch(expression)
        assert match, expression
        assert match.groupdict() == {"metric": metric, "namespace": NAMESPACE, "stage": stage}
    assert properties["Threshold"] == {"Ref": parameter}
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"
    assert properties["EvaluationPeriods"] == 1
    assert properties["TreatMissingData"] == "notBreaching"
    # Any occurrence, by default.
    assert sam_template["Parameters"][parameter]["Default"] == "0"


def test_the_queries_name_exactly_the_metrics_of_the_contract(sam_template: Template) -> None:
    named = set()
    for name in METRIC_ALARMS:
        (query,) = alarm(sam_template, name)["Properties"]["Metrics"]
        match = QUERY.fullmatch(resolve(sam_template, query["Expression"]))
        assert match
        named.add(match["metric"])
    assert named == {"cache_bug", "cache_breaker_open", "snapshot_failure"}


def test_every_function_reports_the_stage_the_queries_select(sam_template: Template) -> None:
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables[config.STAGE] == {"Ref": "Stage"}
    assert resolve(sam_template, variables[config.STAGE], {"Stage": "prod"}) == "prod"


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_off_leaves_the_alarm_out(sam_template: Template, name: str) -> None:
    parameter = ALARMS[name]
    condition = alarm(sam_template, name)["Condition"]
    assert condition_holds(sam_template, condition)
    assert not condition_holds(sam_template, condition, {parameter: "off"})
    # ... and no other alarm.
    for other, other_parameter in ALARMS.items():
        if other != name:
            assert condition_holds(sam_template, alarm(sam_template, other)["Condition"], {parameter: "off"})
            assert condition_holds(
                sam_template, alarm(sam_template, name)["Condition"], {other_parameter: "off"}
            )


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("off", True),
        ("0", True),
        ("1", True),
        ("2.5", True),
        ("10", True),
        ("", False),
        ("Off", False),
        ("-1", False),
        ("1%", False),
        (".5", False),
    ],
)
def test_thresholds_are_a_number_or_off(sam_template: Template, value: str, valid: bool) -> None:
    for parameter in ALARMS.values():
        spec = sam_template["Parameters"][parameter]
        assert spec["Type"] == "String"
        assert bool(re.fullmatch(spec["AllowedPattern"], value)) is valid, parameter


def test_actions_notify_the_topic_only_when_one_is_given(sam_template: Template) -> None:
    assert sam_template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    for name in ALARMS:
        properties = alarm(sam_template, name)["Properties"]
        for key in ("AlarmActions", "OKActions"):
            assert resolve(sam_template, properties[key]) is NO_VALUE, (name, key)
            assert resolve(sam_template, properties[key], {"AlarmTopicArn": TOPIC}) == [TOPIC], (name, key)


@pytest.mark.parametrize(
    ("arn", "valid"),
    [
        ("", True),
        (TOPIC, True),
        ("arn:aws-us-gov:sns:us-gov-west-1:123456789012:ops", True),
        ("arn:aws:sqs:xx-test-1:123456789012:ops", False),
        ("stateway-alarms", False),
    ],
)
def test_the_topic_parameter_takes_an_sns_topic_arn(sam_template: Template, arn: str, valid: bool) -> None:
    pattern = sam_template["Parameters"]["AlarmTopicArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, arn)) is valid
