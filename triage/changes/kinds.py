"""The kinds of resource a change timeline can follow, as data: how each is
named in an ARN, which CloudTrail request parameters name it, which event
source logs its changes and whether those events are global (IAM events are
delivered to us-east-1).

A resource of interest is a `Resource`: a kind (None when only a name is
known: `triage changes --resource NAME` matches every kind) and a name, plus
the ARN, account and region when an ARN said so."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Kind:
    name: str                 # the `type:` in a playbook's resources section
    label: str                # in words, for output
    source: str               # CloudTrail eventSource prefix: lambda.amazonaws.com -> lambda
    keys: tuple = ()          # requestParameters keys (lower case) that hold its name, ARN or URL
    is_global: bool = False   # events logged in us-east-1 whatever the region of the call
    lookup_by_arn: bool = False   # LookupEvents indexes it by ARN, not by name


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("lambda-function", "Lambda function", "lambda", ("functionname", "function")),
    Kind("lambda-event-source-mapping", "event source mapping", "lambda", ("uuid",)),
    Kind("iam-role", "IAM role", "iam", ("rolename",), is_global=True),
    Kind("iam-user", "IAM user", "iam", ("username",), is_global=True),
    Kind("iam-group", "IAM group", "iam", ("groupname",), is_global=True),
    Kind("iam-policy", "IAM policy", "iam", ("policyarn",), is_global=True, lookup_by_arn=True),
    Kind("iam-instance-profile", "instance profile", "iam", ("instanceprofilename",), is_global=True),
    Kind("s3-bucket", "S3 bucket", "s3", ("bucketname", "bucket")),
    Kind("sqs-queue", "SQS queue", "sqs", ("queueurl", "queuename")),
    Kind("sns-topic", "SNS topic", "sns", ("topicarn",)),
    Kind("dynamodb-table", "DynamoDB table", "dynamodb", ("tablename",)),
    Kind("kinesis-stream", "Kinesis stream", "kinesis", ("streamname", "streamarn")),
    Kind("rds-instance", "DB instance", "rds", ("dbinstanceidentifier",)),
    Kind("rds-cluster", "DB cluster", "rds", ("dbclusteridentifier",)),
    Kind("rds-parameter-group", "DB parameter group", "rds", ("dbparametergroupname",)),
    Kind("rds-proxy", "RDS Proxy", "rds", ("dbproxyname",)),
    Kind("ec2-instance", "EC2 instance", "ec2", ("instanceid",)),
    Kind("ec2-security-group", "security group", "ec2", ("groupid",)),
    Kind("ec2-subnet", "subnet", "ec2", ("subnetid",)),
    Kind("ec2-route-table", "route table", "ec2", ("routetableid",)),
    Kind("ec2-network-acl", "network ACL", "ec2", ("networkaclid",)),
    Kind("ec2-vpc", "VPC", "ec2", ("vpcid",)),
    Kind("ec2-nat-gateway", "NAT gateway", "ec2", ("natgatewayid",)),
    Kind("logs-log-group", "log group", "logs", ("loggroupname",)),
    Kind("cloudtrail-trail", "trail", "cloudtrail", ("name", "trailname")),
)}

# `type: arn` in a playbook: the kind comes from each value's ARN.
TYPES = ("arn",) + tuple(KINDS)

# ARN resource parts: (service, pattern) -> kind; the group `name` is the resource's name.
_ARN_KINDS = (
    ("lambda", re.compile(r"^function:(?P<name>[^:]+)"), "lambda-function"),
    ("lambda", re.compile(r"^event-source-mapping:(?P<name>[^:]+)$"), "lambda-event-source-mapping"),
    ("iam", re.compile(r"^role/(?:.*/)?(?P<name>[^/]+)$"), "iam-role"),
    ("iam", re.compile(r"^user/(?:.*/)?(?P<name>[^/]+)$"), "iam-user"),
    ("iam", re.compile(r"^group/(?:.*/)?(?P<name>[^/]+)$"), "iam-group"),
    ("iam", re.compile(r"^policy/(?:.*/)?(?P<name>[^/]+)$"), "iam-policy"),
    ("iam", re.compile(r"^instance-profile/(?:.*/)?(?P<name>[^/]+)$"), "iam-instance-profile"),
    ("sts", re.compile(r"^assumed-role/(?P<name>[^/]+)/"), "iam-role"),
    ("s3", re.compile(r"^(?P<name>[^/]+)"), "s3-bucket"),
    ("sqs", re.compile(r"^(?P<name>[^:/]+)$"), "sqs-queue"),
    ("sns", re.compile(r"^(?P<name>[^:/]+)$"), "sns-topic"),
    ("dynamodb", re.compile(r"^table/(?P<name>[^/]+)"), "dynamodb-table"),
    ("kinesis", re.compile(r"^stream/(?P<name>[^/]+)"), "kinesis-stream"),
    ("rds", re.compile(r"^db:(?P<name>.+)$"), "rds-instance"),
    ("rds", re.compile(r"^cluster:(?P<name>.+)$"), "rds-cluster"),
    ("rds", re.compile(r"^pg:(?P<name>.+)$"), "rds-parameter-group"),
    ("rds", re.compile(r"^db-proxy:(?P<name>.+)$"), "rds-proxy"),
    ("ec2", re.compile(r"^instance/(?P<name>.+)$"), "ec2-instance"),
    ("ec2", re.compile(r"^security-group/(?P<name>.+)$"), "ec2-security-group"),
    ("ec2", re.compile(r"^subnet/(?P<name>.+)$"), "ec2-subnet"),
    ("ec2", re.compile(r"^route-table/(?P<name>.+)$"), "ec2-route-table"),
    ("ec2", re.compile(r"^network-acl/(?P<name>.+)$"), "ec2-network-acl"),
    ("ec2", re.compile(r"^vpc/(?P<name>.+)$"), "ec2-vpc"),
    ("ec2", re.compile(r"^natgateway/(?P<name>.+)$"), "ec2-nat-gateway"),
    ("logs", re.compile(r"^log-group:(?P<name>[^:]+)"), "logs-log-group"),
    ("cloudtrail", re.compile(r"^trail/(?P<name>.+)$"), "cloudtrail-trail"),
)
# EC2 ids are unique on their own: a value like sg-0abc names that group wherever it appears.
_EC2_ID = re.compile(r"^(?P<prefix>sg|subnet|rtb|acl|i|vpc|nat)-[0-9a-f]{8,17}$")
_EC2_PREFIX_KIND = {"sg": "ec2-security-group", "subnet": "ec2-subnet", "rtb": "ec2-route-table",
                    "acl": "ec2-network-acl", "i": "ec2-instance", "vpc": "ec2-vpc", "nat": "ec2-nat-gateway"}


@dataclass(frozen=True)
class Resource:
    kind: str | None          # a KINDS name; None: any kind with this name
    name: str
    arn: str | None = None
    account: str | None = None
    region: str | None = None
    given: str | None = field(default=None, compare=False, hash=False)   # as the playbook had it (for the call cache)

    @property
    def key(self) -> tuple:
        return (self.kind, self.name, self.account, self.region if not self.is_global else None)

    @property
    def is_global(self) -> bool:
        return self.kind is not None and KINDS[self.kind].is_global

    @property
    def label(self) -> str:
        return KINDS[self.kind].label if self.kind else "resource"

    @property
    def shown(self) -> str:
        """How output names it: the ARN when known, else the name."""
        return self.arn or self.name

    @property
    def lookup_value(self) -> str:
        """What LookupEvents' ResourceName is asked for."""
        if self.arn and self.kind and KINDS[self.kind].lookup_by_arn:
            return self.arn
        return self.name


def parse_arn(arn: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(kind, name, account, region) of an ARN; kind None when unknown."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None, None, None, None
    _, _, service, region, account, rest = parts
    for svc, pattern, kind in _ARN_KINDS:
        if svc == service:
            m = pattern.match(rest)
            if m:
                return kind, m.group("name"), account or None, region or None
    return None, rest.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or None, account or None, region or None


def resource(value: str, kind: str | None, region: str | None) -> Resource | None:
    """A Resource from a playbook value (a name, an ARN, a queue URL...) of
    `kind` ('arn' or None: infer from the value)."""
    found = _resource(value, kind, region)
    return replace(found, given=value) if found is not None else None


def _resource(value: str, kind: str | None, region: str | None) -> Resource | None:
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        return None
    if value.startswith("arn:"):
        arn_kind, name, account, arn_region = parse_arn(value)
        if name is None:
            return None
        kind = arn_kind or (None if kind == "arn" else kind)   # the ARN says what it is
        arn = value if kind != "lambda-function" else _unqualified_function_arn(value)
        if kind == "s3-bucket":
            arn = f"arn:aws:s3:::{name}"   # an object ARN names its bucket
        elif kind == "iam-role" and value.split(":")[2] == "sts":
            arn = None                     # an assumed-role session: the role, by name
        return Resource(kind, name, arn, account, None if kind and KINDS[kind].is_global else arn_region or region)
    if kind == "arn":
        m = _EC2_ID.match(value)
        kind = _EC2_PREFIX_KIND[m.group("prefix")] if m else None
    name = name_in(kind, value) if kind else value
    if not name:
        return None
    return Resource(kind, name, None, None, None if kind and KINDS[kind].is_global else region)


def _unqualified_function_arn(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else arn


def name_in(kind: str | None, value: str) -> str | None:
    """The name of a `kind` resource inside a request parameter's value: a
    plain name, an ARN, a partial Lambda ARN (123456789012:function:name,
    name:alias) or an SQS queue URL."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("arn:"):
        arn_kind, name, _, _ = parse_arn(value)
        return name if kind is None or arn_kind == kind else None
    if kind == "sqs-queue" and value.startswith(("http://", "https://")):
        return urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1] or None
    if kind == "lambda-function":
        parts = value.split(":")
        if len(parts) >= 3 and parts[-2] == "function":
            return parts[-1]
        if len(parts) >= 3 and parts[1] == "function":      # 123456789012:function:name[:qualifier]
            return parts[2]
        return parts[0]                                      # name or name:qualifier
    return value


def id_kind(value: str) -> str | None:
    """The kind of a self-describing id (sg-..., subnet-..., i-...), else None."""
    m = _EC2_ID.match(value) if isinstance(value, str) else None
    return _EC2_PREFIX_KIND[m.group("prefix")] if m else None


def event_source(record: dict) -> str:
    """'lambda' for 'lambda.amazonaws.com'."""
    return str(record.get("eventSource") or "").split(".", 1)[0]
