"""Least privilege and the stateful resources: who may read the MongoDB URI and the
snapshots (the project-state functions read and write them, health may only list the
prefix), how the cache and the bucket are locked down.

The MongoDB URI policy picks its resource with CloudFormation conditions on the form of
MongoUriSource; a small evaluator of the intrinsic functions it uses (Ref, Fn::If,
Fn::Select, Fn::Split, Fn::Join, Fn::Sub, Fn::Equals, Fn::And, Condition) resolves it
for each accepted form, as CloudFormation would at deploy time.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from stateway.ids import SNAPSHOT_ROOT
from stateway.tiers.s3_snapshots import S3Snapshots
from stateway_testing.template import (
    FAKE_ACCOUNT,
    FAKE_REGION,
    MIGRATION_FUNCTION,
    REQUIRED_PARAMETERS,
    Template,
    all_functions,
)

PROJECT_FUNCTIONS = {
    "ProjectSaveFunction",
    "ProjectLoadFunction",
    "ProjectSnapshotsFunction",
    "ProjectRestoreFunction",
}
HEALTH_FUNCTION = "HealthFunction"


# --- a tiny evaluator of the intrinsic functions the template's policies use ---------


class Evaluator:
    """Resolves the intrinsic functions; ``eager`` evaluates both branches of every Fn::If."""

    def __init__(self, template: Template, parameters: dict[str, Any], *, eager: bool = False) -> None:
        self.eager = eager
        defaults = {
            name: spec["Default"] for name, spec in template["Parameters"].items() if "Default" in spec
        }
        self.values = {
            **defaults,
            **REQUIRED_PARAMETERS,
            **parameters,
            "AWS::Partition": "aws",
            "AWS::Region": FAKE_REGION,
            "AWS::AccountId": FAKE_ACCOUNT,
        }
        self.conditions = template.get("Conditions", {})

    def condition(self, name: str) -> bool:
        return bool(self(self.conditions[name]))

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.values[arg]
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                if self.eager:
                    resolved = (self(when_true), self(when_false))
                    return resolved[0] if self.condition(name) else resolved[1]
                return self(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                return self(arg[0]) == self(arg[1])
            if key == "Fn::And":
                return all(self(item) for item in arg)
            if key == "Fn::Select":
                return self(arg[1])[int(self(arg[0]))]
            if key == "Fn::Split":
                return str(self(arg[1])).split(arg[0])
            if key == "Fn::Join":
                return arg[0].join(self(arg[1]))
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(local.get(m[1], self.values.get(m[1]))), text)
        return {key: self(value) for key, value in node.items()}


def mongo_uri_statement(template: Template, source: str) -> dict[str, Any]:
    policy = template["Resources"]["MongoUriReadPolicy"]
    evaluate = Evaluator(template, {"MongoUriSource": source})
    statements = evaluate(policy["Properties"]["PolicyDocument"]["Statement"])
    assert len(statements) == 1
    statement: dict[str, Any] = statements[0]
    return statement


@pytest.mark.parametrize(
    ("source", "action", "resource"),
    [
        (
            "secretsmanager:stateway/prod/mongodb-uri",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{FAKE_REGION}:{FAKE_ACCOUNT}:secret:stateway/prod/mongodb-uri-??????",
        ),
        (
            f"secretsmanager:arn:aws:secretsmanager:{FAKE_REGION}:210987654321:secret:shared/mongo-AbCdEf",
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{FAKE_REGION}:210987654321:secret:shared/mongo-AbCdEf",
        ),
        (
            "ssm:/stateway/prod/mongodb-uri",
            "ssm:GetParameter",
            f"arn:aws:ssm:{FAKE_REGION}:{FAKE_ACCOUNT}:parameter/stateway/prod/mongodb-uri",
        ),
        (
            "ssm:stateway-mongodb-uri",
            "ssm:GetParameter",
            f"arn:aws:ssm:{FAKE_REGION}:{FAKE_ACCOUNT}:parameter/stateway-mongodb-uri",
        ),
    ],
)
def test_mongo_uri_policy_names_exactly_the_one_secret_or_parameter(
    sam_template: Template, source: str, action: str, resource: str
) -> None:
    pattern = sam_template["Parameters"]["MongoUriSource"]["AllowedPattern"]
    assert re.fullmatch(pattern, source)
    statement = mongo_uri_statement(sam_template, source)
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == action
    assert statement["Resource"] == resource


@pytest.mark.parametrize(
    "source",
    [
        "secretsmanager:stateway/prod/mongodb-uri",
        f"secretsmanager:arn:aws:secretsmanager:{FAKE_REGION}:210987654321:secret:shared/mongo-AbCdEf",
        "ssm:/stateway/prod/mongodb-uri",
        "ssm:stateway-mongodb-uri",
    ],
)
def test_every_select_stays_in_range_in_both_branches(sam_template: Template, source: str) -> None:
    # Fn::Select out of range fails a deploy; do not rely on the branch not taken being skipped.
    evaluate = Evaluator(sam_template, {"MongoUriSource": source}, eager=True)
    evaluate(sam_template["Resources"]["MongoUriReadPolicy"]["Properties"])
    for name in sam_template["Conditions"]:
        evaluate.condition(name)


# --- who gets which policy ------------------------------------------------------------


def role_policies(cfn_template: Template) -> dict[str, list[Any]]:
    """Function logical id -> the managed policies its role carries."""
    resources = cfn_template["Resources"]
    result = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "Policies" not in role, f"{name}: inline policies are not expected"
        result[name] = role["ManagedPolicyArns"]
    return result


def policy_statements(cfn_template: Template) -> dict[str, list[dict[str, Any]]]:
    """Every IAM policy the stack defines (managed or inline) -> its statements."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in cfn_template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            found[name] = properties["PolicyDocument"]["Statement"]
        for inline in properties.get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
            found[f"{name}/{inline['PolicyName']}"] = inline["PolicyDocument"]["Statement"]
    return found


def actions_of(statement: Any) -> set[str]:
    if isinstance(statement, dict) and "Fn::If" in statement:
        _, *branches = statement["Fn::If"]
        return set().union(*(actions_of(branch) for branch in branches))
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def s3_actions_by_function(cfn_template: Template) -> dict[str, set[str]]:
    """Function logical id -> every s3: action its role's policies allow."""
    statements = policy_statements(cfn_template)
    result = {}
    for name, policies in role_policies(cfn_template).items():
        actions: set[str] = set()
        for policy in policies:
            if isinstance(policy, dict):
                for statement in statements[policy["Ref"]]:
                    actions |= {action for action in actions_of(statement) if action.startswith("s3:")}
        result[name] = actions
    return result


def test_s3_access_of_each_function(cfn_template: Template) -> None:
    access = s3_actions_by_function(cfn_template)
    for name, actions in access.items():
        if name in PROJECT_FUNCTIONS:
            assert actions == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, name
        elif name == HEALTH_FUNCTION:
            assert actions == {"s3:ListBucket"}, name
        else:
            assert actions == set(), name
    for name, statements in policy_statements(cfn_template).items():
        actions = set().union(*(actions_of(statement) for statement in statements))
        if any(action.startswith("s3:") for action in actions):
            assert name in {"SnapshotObjectsPolicy", "SnapshotPingPolicy"}, name
    holders = {
        name: {policy["Ref"] for policy in policies if isinstance(policy, dict)}
        for name, policies in role_policies(cfn_template).items()
    }
    assert {name for name, refs in holders.items() if "SnapshotObjectsPolicy" in refs} == PROJECT_FUNCTIONS
    assert {name for name, refs in holders.items() if "SnapshotPingPolicy" in refs} == {HEALTH_FUNCTION}


def test_health_may_only_list_the_snapshot_prefix(cfn_template: Template) -> None:
    (statement,) = cfn_template["Resources"]["SnapshotPingPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:ListBucket"
    assert statement["Resource"] == {"Fn::GetAtt": ["SnapshotBucket", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"s3:prefix": f"{SNAPSHOT_ROOT}/"}}


class RecordingS3:
    """Records the calls a tier makes; answers as an empty bucket would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list_objects_v2", kwargs))
        return {"KeyCount": 0}

    def get_object(self, **kwargs: Any) -> Any:
        raise AssertionError("health must not read objects")

    def put_object(self, **kwargs: Any) -> Any:
        raise AssertionError("health must not write objects")


def test_the_health_ping_is_what_the_health_policy_allows(cfn_template: Template) -> None:
    # The policy's condition is an exact prefix: the ping must list with exactly that one.
    client = RecordingS3()
    assert S3Snapshots(client, "stateway-bucket").ping() is True
    (statement,) = cfn_template["Resources"]["SnapshotPingPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert [name for name, _ in client.calls] == ["list_objects_v2"]  # s3:ListBucket
    ((_, arguments),) = client.calls
    assert arguments["Bucket"] == "stateway-bucket"
    assert arguments["Prefix"] == statement["Condition"]["StringEquals"]["s3:prefix"]
    assert arguments["MaxKeys"] == 1


def test_snapshot_policy_is_limited_to_the_project_state_prefix(cfn_template: Template) -> None:
    statements = cfn_template["Resources"]["SnapshotObjectsPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert set(by_sid) == {"SnapshotObjects", "ListSnapshots"}
    objects = by_sid["SnapshotObjects"]
    assert set(objects["Action"]) == {"s3:GetObject", "s3:PutObject"}
    assert objects["Resource"] == {"Fn::Sub": "${SnapshotBucket.Arn}/project-state/*"}
    listing = by_sid["ListSnapshots"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": ["SnapshotBucket", "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "project-state/*"}}


def test_every_function_reads_the_mongo_uri_and_nothing_else_does(cfn_template: Template) -> None:
    for name, policies in role_policies(cfn_template).items():
        assert {"Ref": "MongoUriReadPolicy"} in policies, name
    for name, statements in policy_statements(cfn_template).items():
        actions = set().union(*(actions_of(statement) for statement in statements))
        if any(action.startswith(("secretsmanager:", "ssm:")) for action in actions):
            assert name == "MongoUriReadPolicy"
        assert not any(action == "*" or action.endswith(":*") for action in actions), name


def test_aws_managed_policies_are_only_logging_and_vpc_access(cfn_template: Template) -> None:
    for name, policies in role_policies(cfn_template).items():
        managed = {policy for policy in policies if isinstance(policy, str)}
        assert managed == {
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        }, name


def test_sam_functions_declare_no_other_policies(sam_template: Template) -> None:
    # The migration's included: it reads the URI, as every function does, and nothing else.
    assert MIGRATION_FUNCTION in all_functions(sam_template)
    for name, properties in all_functions(sam_template).items():
        expected = [{"Ref": "MongoUriReadPolicy"}]
        if name in PROJECT_FUNCTIONS:
            expected.append({"Ref": "SnapshotObjectsPolicy"})
        if name == HEALTH_FUNCTION:
            expected.append({"Ref": "SnapshotPingPolicy"})
        assert properties["Policies"] == expected, name


# --- cache ----------------------------------------------------------------------------


def test_cache_is_serverless_valkey_reachable_only_from_the_functions(sam_template: Template) -> None:
    resources = sam_template["Resources"]
    cache = resources["Cache"]
    assert cache["Type"] == "AWS::ElastiCache::ServerlessCache"
    assert cache["Properties"]["Engine"] == "valkey"
    assert cache["Properties"]["SubnetIds"] == {"Ref": "SubnetIds"}
    assert cache["Properties"]["SecurityGroupIds"] == [{"Ref": "CacheSecurityGroup"}]
    group = resources["CacheSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert group["VpcId"] == {"Ref": "VpcId"}
    ingress = [
        resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::EC2::SecurityGroupIngress"
    ]
    assert ingress == [
        {
            "GroupId": {"Ref": "CacheSecurityGroup"},
            "Description": ingress[0]["Description"],
            "IpProtocol": "tcp",
            "FromPort": 6379,
            "ToPort": 6379,
            "SourceSecurityGroupId": {"Ref": "FunctionSecurityGroup"},
        }
    ]
    assert "SecurityGroupIngress" not in resources["FunctionSecurityGroup"]["Properties"]


# --- snapshot bucket ------------------------------------------------------------------


def test_snapshot_bucket_is_private_encrypted_and_expires_snapshots(sam_template: Template) -> None:
    bucket = sam_template["Resources"]["SnapshotBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = [
        r for r in properties["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "project-state/"
    ]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "SnapshotRetentionDays"}


def test_snapshot_bucket_refuses_plain_http(sam_template: Template) -> None:
    policy = sam_template["Resources"]["SnapshotBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "SnapshotBucket"}
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["SnapshotBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${SnapshotBucket.Arn}/*"} in deny["Resource"]
