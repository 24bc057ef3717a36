"""rds-connections against seeded moto incidents (Lambda + RDS without a
pool), and the max_connections formulas it relies on."""
from __future__ import annotations

import json

import pytest

from triage.expr import rds_concurrency_budget, rds_max_connections, search


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
        "aws cloudwatch put-metric-alarm --alarm-name triage-orders-db-connections --namespace AWS/RDS --metric-name "
        "DatabaseConnections --dimensions Name=DBInstanceIdentifier,Value=orders-db --statistic Maximum --period 60 "
        "--evaluation-periods 5 --threshold 89 --comparison-operator GreaterThanOrEqualToThreshold "
        '--alarm-actions "$ALARM_TOPIC_ARN"']                                # an alarm that notifies someone

    unbounded = found["unbounded-lambda-concurrency"]
    assert unbounded["evidence"]["functions"] == [{"function": "orders-api", "peak_concurrency": 150.0}]
    assert unbounded["evidence"]["peak_connections_from_functions"] == 150
    # orders-worker already reserves 10 of the 80% budget: floor((89 - 10) / (1 x 1)) = 79, not 89
    assert unbounded["evidence"]["connection_budget"] == 89
    assert unbounded["evidence"]["already_reserved"] == [{"function": "orders-worker", "reserved_concurrency": 10}]
    assert unbounded["evidence"]["already_reserved_connections"] == 10
    assert unbounded["evidence"]["suggested_reserved_concurrency"] == 79
    assert unbounded["fix"]["commands"] == [
        "aws lambda put-function-concurrency --function-name orders-api --reserved-concurrent-executions 79"]
    assert "orders-worker" not in json.dumps(unbounded["fix"]["commands"])  # it has reserved concurrency

    proxy = found["no-rds-proxy"]
    assert proxy["evidence"]["functions"] == ["orders-api", "orders-worker"]
    assert proxy["evidence"]["engine_family"] == "POSTGRESQL"
    cmds = proxy["fix"]["commands"]
    assert cmds[0].startswith("aws rds create-db-proxy --db-proxy-name orders-db-proxy --engine-family POSTGRESQL ")
    assert cmds[1] == "aws rds register-db-proxy-targets --db-proxy-name orders-db-proxy --db-instance-identifiers orders-db"
    subnets = proxy["evidence"]["subnets"]                                   # the DB subnet group's
    assert len(subnets) == 2 and f"--vpc-subnet-ids '{json.dumps(subnets, separators=(',', ':'))}' " in cmds[0]
    assert cmds[2] == "aws rds describe-db-proxies --db-proxy-name orders-db-proxy --query 'DBProxies[0].Endpoint'"


INVENTORY = ["inventory-reports", "inventory-api", "inventory-sync", "inventory-export", "inventory-audit"]


def test_every_unbounded_function_gets_its_share_of_what_is_left_after_reservations(cli):
    """Four unbounded functions beside one that already reserves 20: each gets
    a command, and the arithmetic says what it counted."""
    code, data = diagnose(cli, "inventory-db", *INVENTORY)
    assert code == 1
    found = by_id(data)
    assert list(found) == ["unbounded-lambda-concurrency", "no-rds-proxy"]     # 150 of 225: not near max
    f = found["unbounded-lambda-concurrency"]
    ev = f["evidence"]
    assert ev["max_connections"] == 225 and ev["connection_budget"] == 180
    assert ev["already_reserved"] == [{"function": "inventory-reports", "reserved_concurrency": 20}]
    assert ev["already_reserved_connections"] == 20 and ev["unbounded_functions"] == 4
    assert ev["suggested_reserved_concurrency"] == 40
    assert ev["peak_connections_from_functions"] == 225
    assert ev["arithmetic"] == ("80% of max_connections 225 = 180 connections; already reserved: inventory-reports 20 "
                                "x pool size 1 = 20 connections; 180 - 20 = 160 left; "
                                "floor(160 / (4 unbounded functions x pool size 1)) = 40 each")
    assert ev["arithmetic"] in f["fix"]["text"]
    assert f["fix"]["commands"] == [
        f"aws lambda put-function-concurrency --function-name {name} --reserved-concurrent-executions 40"
        for name in ("inventory-api", "inventory-sync", "inventory-export", "inventory-audit")]


def test_pool_size_shares_the_budget_left_after_reservations(cli):
    r = cli("rds-connections", "--db", "inventory-db", *[w for f in INVENTORY for w in ("--function", f)],
            "--pool-size", "2", "--output", "json")
    ev = by_id(json.loads(r.out))["unbounded-lambda-concurrency"]["evidence"]
    # 180 - 20 reserved x 2 connections = 140; floor(140 / (4 x 2)) = 17
    assert ev["already_reserved_connections"] == 40 and ev["suggested_reserved_concurrency"] == 17
    assert ev["peak_connections_from_functions"] == 450


@pytest.mark.parametrize("reserved, unbounded, pool, per_function, arithmetic_end", [
    ([], ["a"], 5, 17, "floor(89 / (1 unbounded function x pool size 5)) = 17 each"),
    ([{"function": "w", "reserved_concurrency": 100}], ["a"], 1, None,
     "89 - 100 = -11 left; less than 1 each for 1 unbounded function x pool size 1: nothing is left for them"),
    ([{"function": "w", "reserved_concurrency": 80}, {"function": "x", "reserved_concurrency": 9}], ["a", "b"], 1, None,
     "w 80 + x 9 = 89 x pool size 1 = 89 connections; 89 - 89 = 0 left; less than 1 each for 2 unbounded functions "
     "x pool size 1: nothing is left for them"),
])
def test_concurrency_budget_never_suggests_zero(reserved, unbounded, pool, per_function, arithmetic_end):
    """A reservation of 0 stops a function: when nothing is left there is no command, and the arithmetic says why."""
    budget = rds_concurrency_budget(112, pool, reserved, unbounded)
    assert budget["per_function"] == per_function
    assert budget["arithmetic"].endswith(arithmetic_end)
    assert budget["plan"] == ([] if per_function is None else [{"function": f, "reserved_concurrency": per_function}
                                                                for f in unbounded])


@pytest.mark.parametrize("value, message", [
    ("0", "triage: --pool-size must be at least 1, got 0"),
    ("-3", "triage: --pool-size must be at least 1, got -3"),
    ("abc", "triage: --pool-size must be an integer, got 'abc'"),
    ("2.5", "triage: --pool-size must be an integer, got '2.5'"),
])
def test_pool_size_is_a_whole_number_of_at_least_one(cli, value, message):
    """--pool-size 0 used to be accepted and hid unbounded-lambda-concurrency (0 connections per function)."""
    r = cli("rds-connections", "--db", "orders-db", "--function", "orders-api", "--pool-size", value)
    assert r.code == 2, r.out
    assert message in r.err and "a integer" not in r.err
    assert "hint: write a whole number of 1 or more, e.g. --pool-size 1" in r.err
    assert "Traceback" not in r.err and r.out == ""


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
    assert ev["already_reserved"] == []                                   # orders-worker is not among the functions
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


def test_the_proxy_fix_applied_with_the_aws_cli_makes_no_rds_proxy_go_away(tmp_path):
    """no-rds-proxy's commands, pasted into bash as printed, against a moto
    world of this test's own: create-db-proxy (in the DB's subnets, with the
    secret and role the engineer chooses), register-db-proxy-targets,
    describe-db-proxies. The finding goes and nothing new appears.

    Why here and not in tests/fixes: AWS CLI v1 sends `aws rds` in us-east-1
    to https://rds.amazonaws.com unless --endpoint-url is given (its
    overridesslcommonname customization ignores AWS_ENDPOINT_URL, which the
    harness relies on); a wrapper on PATH adds the flag."""
    import os
    import subprocess
    import sys

    from conftest import unpaced
    from fixes.harness import aws_cli_env, diagnose, finding_ids, fix_commands

    from triage.demo.scenarios import seed_all

    wrapper = tmp_path / "bin" / "aws"
    wrapper.parent.mkdir()
    real = os.path.join(os.path.dirname(sys.executable), "aws")
    wrapper.write_text(f'#!/bin/sh\nexec "{real}" --endpoint-url "$AWS_ENDPOINT_URL" "$@"\n')
    wrapper.chmod(0o755)
    inputs = {"db": "orders-db", "function": ["orders-api", "orders-worker"]}
    # moto's state is per process: a server in this process would share (and change) the seeded world the other tests read
    serve = ("import sys\nfrom triage.demo.server import MotoServer\nwith MotoServer() as s:\n"
             "    print(s.url, flush=True)\n    sys.stdin.read()\n")
    with subprocess.Popen([sys.executable, "-c", serve], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), "the moto server process did not start"
            unpaced(url)          # moto, not AWS: no LookupEvents quota to pace for (conftest)
            case = next(c for c in seed_all(url, ["rds-connections"]) if c.inputs == inputs)
            assert set(case.fix_vars) >= {"DB_SECRET_ARN", "PROXY_ROLE_ARN"}
            before = diagnose(url, "rds-connections", inputs)
            commands = fix_commands(before, "no-rds-proxy")
            assert [c.split()[2] for c in commands] == ["create-db-proxy", "register-db-proxy-targets",
                                                        "describe-db-proxies"]
            env = aws_cli_env(url, case.fix_vars)
            env["PATH"] = f"{wrapper.parent}{os.pathsep}{env['PATH']}"
            for command in commands:
                done = subprocess.run(["bash", "-c", "set -eu\n" + command], capture_output=True, text=True,
                                      timeout=120, env=env)
                assert done.returncode == 0, f"{command}\n{done.stderr}"
            assert done.stdout.strip().strip('"').startswith("orders-db-proxy.")   # the endpoint for the functions
            after = diagnose(url, "rds-connections", inputs)
        finally:
            proc.stdin.close()
    assert "no-rds-proxy" not in finding_ids(after)
    assert not set(finding_ids(after)) - set(finding_ids(before))
    assert "no-rds-proxy" not in [u["check"] for u in after["unchecked"]]
