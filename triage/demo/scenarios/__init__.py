"""Seeded incident scenarios, by name. `triage demo` seeds them into the
embedded moto server; the tests seed the same ones and assert the exact
findings. Each scenario lists the playbook runs it sets up and the finding
ids each run must produce (and, by omission, must not)."""
from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Callable

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account



@dataclass
class Case:
    playbook: str
    inputs: dict
    expect: list[str]                      # finding ids that must fire
    note: str = ""
    # Values a fix command leaves to a human (it names them as shell
    # variables, e.g. $PUBLIC_SUBNET_ID); the proven-fix tests supply them.
    fix_vars: dict[str, str] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    description: str
    seed: Callable[["Seeder"], list[Case]]


class Seeder:
    """boto3 clients pointed at a moto endpoint, plus seeding helpers."""

    def __init__(self, endpoint_url: str | None, region: str = REGION):
        import boto3
        self.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name=region)
        self.endpoint_url, self.region = endpoint_url, region
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    # --- helpers ------------------------------------------------------------
    def role(self, name: str, service: str = "lambda.amazonaws.com") -> str:
        iam = self.client("iam")
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
        try:
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        except iam.exceptions.EntityAlreadyExistsException:
            return iam.get_role(RoleName=name)["Role"]["Arn"]

    def function(self, name: str, *, timeout: int, memory: int = 512, env: dict | None = None,
                 subnets: list[str] | None = None, security_groups: list[str] | None = None) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        kwargs = dict(FunctionName=name, Runtime="python3.12", Role=self.role(f"{name}-role"),
                      Handler="handler.handler", Code={"ZipFile": buf.getvalue()}, Timeout=timeout,
                      MemorySize=memory)
        if env:
            kwargs["Environment"] = {"Variables": env}
        if subnets:
            kwargs["VpcConfig"] = {"SubnetIds": subnets, "SecurityGroupIds": security_groups or []}
        return self.client("lambda").create_function(**kwargs)["FunctionArn"]

    def invocations(self, name: str, durations_ms: list[float], *, timeout_s: int, memory: int = 512,
                    extra_lines: list[str] | None = None) -> None:
        """Write START/END/REPORT lines (and Task timed out lines for runs at the limit)."""
        logs = self.client("logs")
        group, stream = f"/aws/lambda/{name}", f"2026/11/22/[$LATEST]{uuid.uuid4().hex}"
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        t = now - 3 * 3600 * 1000
        events = []
        for i, d in enumerate(durations_ms):
            rid = str(uuid.UUID(int=i + 1 + hash(name) % 10**6))
            events.append((t, f"START RequestId: {rid} Version: $LATEST"))
            for line in (extra_lines or []) if i == 0 else []:
                events.append((t + 1, line))
            timed_out = d >= timeout_s * 1000
            if timed_out:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t + d) / 1000))
                events.append((t + int(d), f"{stamp}.000Z {rid} Task timed out after {timeout_s:.2f} seconds"))
            events.append((t + int(d) + 1, f"END RequestId: {rid}"))
            status = " Status: timeout" if timed_out else ""
            events.append((t + int(d) + 2, f"REPORT RequestId: {rid}\tDuration: {d:.2f} ms\tBilled Duration: "
                                           f"{int(d) + 1} ms\tMemory Size: {memory} MB\tMax Memory Used: "
                                           f"{memory // 3} MB{status}"))
            t += int(d) + 60_000
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": ts, "message": m} for ts, m in sorted(events, key=lambda e: e[0])])
        cw = self.client("cloudwatch")
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[
            {"MetricName": "Duration", "Dimensions": [{"Name": "FunctionName", "Value": name}],
             "Timestamp": datetime.fromtimestamp(now / 1000 - 3600 + i, tz=timezone.utc), "Value": d,
             "Unit": "Milliseconds"}
            for i, d in enumerate(durations_ms)])

    def vpc(self, *, nat: bool, cidr: str = "10.0.0.0/16") -> dict:
        """A VPC with a public subnet (IGW route) and a private subnet whose
        default route goes to a NAT gateway only when nat=True."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        prefix = cidr.split(".")[:2]
        public = ec2.create_subnet(VpcId=vpc, CidrBlock=".".join(prefix) + ".1.0/24")["Subnet"]["SubnetId"]
        private = ec2.create_subnet(VpcId=vpc, CidrBlock=".".join(prefix) + ".2.0/24")["Subnet"]["SubnetId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        public_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=public_rt, SubnetId=public)
        private_rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=private_rt, SubnetId=private)
        if nat:
            eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
            natgw = ec2.create_nat_gateway(SubnetId=public, AllocationId=eip)["NatGateway"]["NatGatewayId"]
            ec2.create_route(RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=natgw)
        sg = ec2.create_security_group(GroupName=f"fn-{uuid.uuid4().hex[:6]}", Description="fn", VpcId=vpc)["GroupId"]
        return {"vpc": vpc, "public": public, "private": private, "private_rt": private_rt, "sg": sg}


# --- registry -------------------------------------------------------------------
# One module per incident family; each registers its seeding function.
MODULES = ("lambda_timeout", "access_denied", "lambda_not_found", "rds", "posture", "network", "changes")

SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str):
    def register(fn: Callable[[Seeder], list[Case]]):
        SCENARIOS[name] = Scenario(name, description, fn)
        return fn
    return register


def _load() -> None:
    import importlib
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


def seed_all(endpoint_url: str | None, names: list[str] | None = None) -> list[Case]:
    _load()
    seeder = Seeder(endpoint_url)
    cases: list[Case] = []
    for name in names or list(SCENARIOS):
        cases += SCENARIOS[name].seed(seeder)
    return cases
