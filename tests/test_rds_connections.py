"""rds-connections against seeded moto incidents (Lambda + RDS without a
pool), and the max_connections formulas it relies on."""
from __future__ import annotations

import json

import pytest

from triage.expr import rds_max_connections, search


def diagnose(cli, db: str, *functions: str) -> tuple[int, dict]:
    args = ["rds-connections", "--db", db, "--output", "json"]
    for f in functions:
        args += ["--function", f]
    r = cli(*args)
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out)


def by_id(data: dict) -> dict:
    return {f["check"]: f for f in data["findings"]}


def test_lambda_without_pool_exhausts_a_small_postgres(cli):
    code, data = diagnose(cli, "orders-db", "orders-api", "orders-worker")
    assert code == 1
    found = by_id(data)
    assert list(found) == ["connections-near-max", "unbounded-lambda-concurrency", "no-rds-proxy"]  # high, high, medium

    near = found["connections-near-max"]["evidence"]
    assert near["peak_connections"] == 104 and near["max_connections"] == 112 and near["percent_of_max"] == 93
    assert near["max_connections_source"] == "engine default default.postgres16"
    assert near["formula"] == "LEAST({DBInstanceClassMemory/9531392},5000)"
    assert near["arithmetic"] == ("DBInstanceClassMemory = 1073741824 (1024 MiB): "
                                  "LEAST({1073741824/9531392},5000) = LEAST(112,5000) = 112")
    assert "no reserve subtracted" in near["memory_note"]
    assert found["connections-near-max"]["fix"]["commands"] == [
        "aws cloudwatch put-metric-alarm --alarm-name orders-db-connections --namespace AWS/RDS --metric-name "
        "DatabaseConnections --dimensions Name=DBInstanceIdentifier,Value=orders-db --statistic Maximum --period 60 "
        "--evaluation-periods 5 --threshold 89 --comparison-operator GreaterThanOrEqualToThreshold"]

    unbounded = found["unbounded-lambda-concurrency"]
    assert unbounded["evidence"]["functions"] == [{"function": "orders-api", "peak_concurrency": 150.0}]
    assert unbounded["evidence"]["peak_connections_from_functions"] == 150
    assert unbounded["evidence"]["suggested_reserved_concurrency"] == 89   # floor(0.8 * 112 / (1 x 1))
    assert unbounded["fix"]["commands"] == [
        "aws lambda put-function-concurrency --function-name orders-api --reserved-concurrent-executions 89"]
    assert "orders-worker" not in json.dumps(unbounded)          # it has reserved concurrency

    proxy = found["no-rds-proxy"]
    assert proxy["evidence"]["functions"] == ["orders-api", "orders-worker"]
    assert proxy["evidence"]["engine_family"] == "POSTGRESQL"
    cmds = proxy["fix"]["commands"]
    assert cmds[0].startswith("aws rds create-db-proxy --db-proxy-name orders-db-proxy --engine-family POSTGRESQL ")
    assert cmds[1] == "aws rds register-db-proxy-targets --db-proxy-name orders-db-proxy --db-instance-identifiers orders-db"


def test_explicit_parameter_group_value_behind_a_proxy(cli):
    code, data = diagnose(cli, "billing-db", "billing-worker")
    found = by_id(data)
    assert list(found) == ["connections-near-max"]
    ev = found["connections-near-max"]["evidence"]
    assert ev["max_connections"] == 120 and ev["peak_connections"] == 100 and ev["percent_of_max"] == 84
    assert ev["max_connections_source"] == "parameter group billing-mysql8"
    assert ev["arithmetic"] == "max_connections = 120 (set explicitly)"


def test_healthy_twin(cli):
    code, data = diagnose(cli, "analytics-db", "analytics-ingest")
    assert code == 0 and data["findings"] == [] and data["unchecked"] == []
    assert {"rds.DescribeDBProxyTargets", "lambda.GetFunctionConcurrency", "ec2.DescribeInstanceTypes"} <= {
        c["call"] for c in data["calls"]}


def test_pool_size_multiplies_the_connections_of_unbounded_functions(cli):
    r = cli("rds-connections", "--db", "orders-db", "--function", "orders-api", "--pool-size", "5", "--output", "json")
    ev = by_id(json.loads(r.out))["unbounded-lambda-concurrency"]["evidence"]
    assert ev["pool_size"] == 5 and ev["peak_connections_from_functions"] == 750
    assert ev["suggested_reserved_concurrency"] == 17                     # floor(0.8 * 112 / 5)


def test_without_functions_only_the_database_is_judged(cli):
    code, data = diagnose(cli, "orders-db")
    assert [f["check"] for f in data["findings"]] == ["connections-near-max"]


def test_unknown_db_is_one_finding_not_a_crash(cli):
    code, data = diagnose(cli, "no-such-db", "orders-api")
    assert code == 1 and data["outcome"] == "findings"
    assert [f["check"] for f in data["findings"]] == ["subject-not-found"]
    f = data["findings"][0]
    assert f["title"] == "DB instance no-such-db does not exist in us-east-1"
    assert f["evidence"]["error"] in ("DBInstanceNotFound", "DBInstanceNotFoundFault")
    assert "connections-near-max" not in {u["check"] for u in data["unchecked"]}


@pytest.mark.parametrize("value,engine,mib,expected", [
    (None, "postgres", 1024, 112),                       # LEAST(1073741824/9531392, 5000)
    (None, "postgres", 524288, 5000),                    # capped by LEAST at 5000
    (None, "mysql", 4096, 341),                          # 4294967296/12582880
    (None, "mariadb", 16384, 1365),
    (None, "aurora-mysql", 15616, 1000),                 # GREATEST(log2(...)*45, log2(...)*1000): AWS's r3.large figure
    ("{DBInstanceClassMemory/12582880}", "mysql", 8192, 682),
    ("150", "postgres", None, 150),
])
def test_max_connections_formulas(value, engine, mib, expected):
    assert rds_max_connections(value, engine, mib)["max_connections"] == expected


@pytest.mark.parametrize("value,engine,mib", [
    (None, "oracle-ee", 1024),                           # no documented default formula
    (None, "postgres", None),                            # memory unknown
    ("{DBInstanceClassMemory/0}", "mysql", 1024),        # a broken formula
    ("__import__('os').system('id')", "mysql", 1024),    # never evaluated as Python
])
def test_max_connections_unknown(value, engine, mib):
    assert rds_max_connections(value, engine, mib) is None


def test_max_connections_from_a_playbook_expression():
    assert search("rds_max_connections(`null`, 'postgres', `2048`).max_connections", {}) == 225
