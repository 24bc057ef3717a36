"""The single-process floor: one Python process, one boto3 session, the same
seven read calls as the hand-typed cheat-sheet sequence (bench/run.py),
made one after the other, printing nothing but a count.

    python bench/floor_boto3.py FUNCTION ENDPOINT_URL REGION
"""
from __future__ import annotations

import sys
import time


def main(function: str, endpoint: str, region: str) -> int:
    import boto3

    session = boto3.Session(region_name=region)
    lam, logs, cw, ec2 = (session.client(s, endpoint_url=endpoint) for s in ("lambda", "logs", "cloudwatch", "ec2"))
    group = f"/aws/lambda/{function}"
    since_ms = int((time.time() - 24 * 3600) * 1000)
    config = lam.get_function_configuration(FunctionName=function)
    logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True, limit=1)
    logs.filter_log_events(logGroupName=group, filterPattern='"Task timed out"', startTime=since_ms)
    logs.filter_log_events(logGroupName=group, filterPattern='"REPORT RequestId"', startTime=since_ms)
    cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration",
                             Dimensions=[{"Name": "FunctionName", "Value": function}],
                             StartTime=since_ms / 1000, EndTime=time.time(), Period=3600,
                             Statistics=["Maximum", "SampleCount"])
    subnets = config.get("VpcConfig", {}).get("SubnetIds") or []
    vpcs = [s["VpcId"] for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]] if subnets else []
    ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": sorted(set(vpcs)) or ["none"]}])
    print(7)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
