"""Lambda timeouts: the cheat sheet's "function times out", the 15-minute
post-mortem, a function close to its limit, a VPC without NAT, and a healthy twin."""
from __future__ import annotations

import time
import uuid

from . import Case, Seeder, scenario

# A secret the tests look for in every output: it is a Lambda environment
# value, and the function also prints it in a log line.
SEEDED_SECRET = "pg-Sup3rS3cret-0rders"
# A log line an attacker controls: terminal escapes (clear screen, an OSC 8
# hyperlink, a window-title change) and rich markup.
HOSTILE_SUFFIX = ("\x1b[2J\x1b]0;pwned\x07\x1b]8;;https://evil.example/\x07click me\x1b]8;;\x07 "
                  "[bold red]FAKE ALERT[/bold red] \x1b[31mred\x1b[0m")



@scenario("lambda-timeout", "Lambda functions timing out (cheat sheet + post-mortem)")
def lambda_timeouts(s: Seeder) -> list[Case]:
    # The post-mortem: a migration killed at exactly 15 minutes.
    s.function("migrate-db", timeout=900, memory=1024)
    s.invocations("migrate-db", [612_000.0, 900_000.0], timeout_s=900, memory=1024)

    # The cheat sheet's case: a 3 s timeout (the default) for 2-4 s of work.
    s.function("orders-etl", timeout=3, env={"DB_PASSWORD": SEEDED_SECRET, "DB_HOST": "orders.cluster.local",
                                             "STAGE": "prod"})
    s.invocations("orders-etl", [1200.0, 2100.0, 2900.0, 3000.0, 3000.0], timeout_s=3, extra_lines=[
        f"INFO connecting to postgres://orders:{SEEDED_SECRET}@orders.cluster.local:5432/orders",
    ])
    # A hostile log line inside a timeout message (log content is attacker-influenced).
    logs = s.client("logs")
    stream = f"2026/11/22/[$LATEST]{uuid.uuid4().hex}"
    logs.create_log_stream(logGroupName="/aws/lambda/orders-etl", logStreamName=stream)
    logs.put_log_events(logGroupName="/aws/lambda/orders-etl", logStreamName=stream, logEvents=[{
        "timestamp": int(time.time() * 1000) - 600_000,
        "message": f"2026-11-22T10:00:00.000Z 00000000-0000-0000-0000-0000000000ff Task timed out after 3.00 seconds {HOSTILE_SUFFIX}"}])

    # No timeouts yet, but the longest run used 92% of the limit.
    s.function("report-builder", timeout=60)
    s.invocations("report-builder", [30_000.0, 41_500.0, 55_200.0], timeout_s=60)

    # In a private subnet with no NAT route: outbound calls hang until the timeout.
    net = s.vpc(nat=False)
    s.function("payments-sync", timeout=30, subnets=[net["private"]], security_groups=[net["sg"]],
               env={"STRIPE_API_KEY": "sk_live_51Hdemo0000000000000000"})
    s.invocations("payments-sync", [30_000.0, 30_000.0], timeout_s=30)

    # Where the alarms the fixes create notify (their `--alarm-actions "$ALARM_TOPIC_ARN"`).
    oncall = s.client("sns").create_topic(Name="oncall-alerts")["TopicArn"]
    alarm = {"ALARM_TOPIC_ARN": oncall}

    # Healthy twin: VPC with a NAT route, short runs, generous timeout.
    healthy_net = s.vpc(nat=True, cidr="10.1.0.0/16")
    s.function("thumbnailer", timeout=30, subnets=[healthy_net["private"]], security_groups=[healthy_net["sg"]])
    s.invocations("thumbnailer", [800.0, 950.0, 1210.0], timeout_s=30)

    # The values the fixes leave to a human (tests/fixes applies them): the
    # on-call topic, and the public subnet the NAT gateway goes in.
    return [
        Case("lambda-timeout", {"function": "migrate-db"}, ["at-hard-limit"], "the 15-minute post-mortem"),
        Case("lambda-timeout", {"function": "orders-etl"}, ["timeout-too-low"], "timeout too low for the work",
             fix_vars=alarm),
        Case("lambda-timeout", {"function": "report-builder"}, ["duration-near-timeout"], "running close to the limit",
             fix_vars=alarm),
        Case("lambda-timeout", {"function": "payments-sync"}, ["vpc-without-nat", "timeout-too-low"],
             "VPC without NAT: calls hang until the timeout", fix_vars={**alarm, "PUBLIC_SUBNET_ID": net["public"]}),
        Case("lambda-timeout", {"function": "thumbnailer"}, [], "healthy"),
    ]
