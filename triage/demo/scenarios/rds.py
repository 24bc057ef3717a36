"""Lambda + RDS without a connection pool (the seed's production warning):
a small PostgreSQL instance at 93% of its engine-default max_connections with
an unbounded function and no proxy; four unbounded functions sharing a
database with one that already reserves concurrency; a MySQL instance near an
explicit parameter-group limit (behind a proxy, functions bounded); a healthy
twin."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from . import Case, Seeder, scenario


def _metric(s: Seeder, namespace: str, name: str, dimension: tuple[str, str], values: list[float]) -> None:
    now = datetime.now(timezone.utc)
    s.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": name, "Dimensions": [{"Name": dimension[0], "Value": dimension[1]}],
         "Timestamp": now - timedelta(minutes=90 - 10 * i), "Value": v} for i, v in enumerate(values)])


def _db(s: Seeder, name: str, engine: str, version: str, klass: str, parameter_group: str | None = None,
        subnet_group: str | None = None) -> None:
    kwargs = dict(DBInstanceIdentifier=name, DBInstanceClass=klass, Engine=engine, EngineVersion=version,
                  MasterUsername="app", MasterUserPassword="not-a-real-password-1", AllocatedStorage=20,
                  StorageEncrypted=True, PubliclyAccessible=False)
    if parameter_group:
        kwargs["DBParameterGroupName"] = parameter_group
    if subnet_group:
        kwargs["DBSubnetGroupName"] = subnet_group
    s.client("rds").create_db_instance(**kwargs)


def _function(s: Seeder, name: str, reserved: int | None, concurrency: list[float]) -> None:
    s.function(name, timeout=30)
    if reserved is not None:
        s.client("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    _metric(s, "AWS/Lambda", "ConcurrentExecutions", ("FunctionName", name), concurrency)


def _proxy(s: Seeder, name: str, engine_family: str, db: str, subnets: list[str]) -> None:
    secret = s.client("secretsmanager").create_secret(Name=f"{name}-credentials", SecretString="{}")["ARN"]
    rds = s.client("rds")
    rds.create_db_proxy(DBProxyName=name, EngineFamily=engine_family, RoleArn=s.role(f"{name}-role", "rds.amazonaws.com"),
                        Auth=[{"AuthScheme": "SECRETS", "SecretArn": secret, "IAMAuth": "DISABLED"}], VpcSubnetIds=subnets)
    rds.register_db_proxy_targets(DBProxyName=name, DBInstanceIdentifiers=[db])


INVENTORY_FUNCTIONS = ["inventory-reports", "inventory-api", "inventory-sync", "inventory-export", "inventory-audit"]


@scenario("rds-connections", "Lambda + RDS connection exhaustion: no pool, no proxy, unbounded concurrency")
def rds_connections(s: Seeder) -> list[Case]:
    net = s.vpc(nat=False, cidr="10.42.0.0/16")
    subnets = [net["private"], s.client("ec2").create_subnet(VpcId=net["vpc"], CidrBlock="10.42.3.0/24")["Subnet"]["SubnetId"]]

    s.client("rds").create_db_subnet_group(DBSubnetGroupName="orders-private", DBSubnetGroupDescription="orders",
                                           SubnetIds=subnets)
    # db.t3.micro (1 GiB), PostgreSQL default: LEAST(1073741824/9531392, 5000) = 112.
    _db(s, "orders-db", "postgres", "16.3", "db.t3.micro", subnet_group="orders-private")
    _metric(s, "AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier", "orders-db"), [35, 80, 104, 97])
    _function(s, "orders-api", None, [20, 150, 90])          # unbounded, peaks at 150 environments
    _function(s, "orders-worker", 10, [10, 10])              # bounded
    # What only the engineer can choose for the proxy and the alarm: the
    # database's credentials, a role RDS may assume, the topic that pages.
    orders_secret = s.client("secretsmanager").create_secret(
        Name="orders-db-credentials", SecretString='{"username": "app", "password": "not-a-real-password-1"}')["ARN"]
    orders_vars = {"DB_SECRET_ARN": orders_secret,
                   "PROXY_ROLE_ARN": s.role("orders-db-proxy-role", "rds.amazonaws.com"),
                   "ALARM_TOPIC_ARN": s.client("sns").create_topic(Name="orders-oncall")["TopicArn"]}

    # db.t3.small (2 GiB) -> 225 connections, 150 used (67%). inventory-reports
    # already reserves 20; four functions are unbounded and at their peaks
    # (90 + 60 + 45 + 30 = 225) alone could take every connection:
    # 80% of 225 = 180, minus 20 reserved = 160, / 4 = 40 each.
    _db(s, "inventory-db", "postgres", "16.3", "db.t3.small", subnet_group="orders-private")
    _metric(s, "AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier", "inventory-db"), [60, 150, 120])
    _function(s, "inventory-reports", 20, [12, 20])
    for name, peak in (("inventory-api", 90), ("inventory-sync", 60), ("inventory-export", 45), ("inventory-audit", 30)):
        _function(s, name, None, [peak / 3, peak])

    # db.t3.medium MySQL with max_connections = 120 set in its own parameter group; 100 used (83%).
    s.client("rds").create_db_parameter_group(DBParameterGroupName="billing-mysql8", DBParameterGroupFamily="mysql8.0",
                                              Description="billing")
    s.client("rds").modify_db_parameter_group(DBParameterGroupName="billing-mysql8", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": "120", "ApplyMethod": "pending-reboot"}])
    _db(s, "billing-db", "mysql", "8.0.35", "db.t3.medium", "billing-mysql8")
    _metric(s, "AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier", "billing-db"), [40, 100, 60])
    _function(s, "billing-worker", 20, [18, 12])
    _proxy(s, "billing-proxy", "MYSQL", "billing-db", subnets)

    # Healthy twin: db.r5.large (16 GiB) -> 1802 connections, 40 used, proxy, bounded function.
    _db(s, "analytics-db", "postgres", "16.3", "db.r5.large")
    _metric(s, "AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier", "analytics-db"), [12, 40, 25])
    _function(s, "analytics-ingest", 50, [30, 22])
    _proxy(s, "analytics-proxy", "POSTGRESQL", "analytics-db", subnets)

    return [
        Case("rds-connections", {"db": "orders-db", "function": ["orders-api", "orders-worker"]},
             ["connections-near-max", "no-rds-proxy", "unbounded-lambda-concurrency"],
             "Lambda + RDS without a pool: 104 of 112 connections", fix_vars=orders_vars),
        Case("rds-connections", {"db": "inventory-db", "function": INVENTORY_FUNCTIONS},
             ["no-rds-proxy", "unbounded-lambda-concurrency"],
             "four unbounded functions beside one that reserves 20: 40 each"),
        Case("rds-connections", {"db": "billing-db", "function": ["billing-worker"]}, ["connections-near-max"],
             "near an explicit parameter-group max_connections"),
        Case("rds-connections", {"db": "analytics-db", "function": ["analytics-ingest"]}, [],
             "healthy: proxy, reserved concurrency, headroom"),
    ]
