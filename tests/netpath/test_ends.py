"""Both ends of a path: what --from/--to name, the database a function's
environment points at, the DB endpoint resolved to its subnets and security
groups, the VPC taken from the subnets. Each test cites the documented rule
it checks (docs.py)."""
from __future__ import annotations

import pytest

from triage.netpath import env_db, env_dbs, net_ids, net_ref

from .docs import cites
from .world import World, perm, two_tier


@cites("rds-vpc")
@pytest.mark.parametrize("text,kind,name", [
    ("orders-db", "db", "orders-db"),
    ("orders-db.abc123xyz.us-east-1.rds.amazonaws.com", "rds-instance", "orders-db"),
    ("orders.cluster-abc123xyz.us-east-1.rds.amazonaws.com:5432", "rds-cluster", "orders"),
    ("orders.cluster-ro-abc123xyz.us-east-1.rds.amazonaws.com", "rds-cluster", "orders"),
    ("orders-proxy.proxy-abc123xyz.us-east-1.rds.amazonaws.com", "rds-proxy", "orders-proxy"),
    ("arn:aws:rds:us-east-1:123456789012:db:orders-db", "rds-instance", "orders-db"),
])
def test_a_database_reference_names_an_instance_cluster_or_proxy(text, kind, name):
    ref = net_ref(text, "to")
    assert (ref["kind"], ref["name"]) == (kind, name)


@cites("rds-vpc")
def test_a_url_keeps_the_endpoint_and_drops_the_password():
    ref = net_ref("postgres://app:s3cr3t-pw@orders-db.abc123xyz.us-east-1.rds.amazonaws.com:6432/orders", "to")
    assert ref["kind"] == "rds-instance" and ref["port"] == 6432
    assert "s3cr3t" not in repr(ref)


@cites("if-endpoint")
@pytest.mark.parametrize("text,service", [
    ("sqs", "com.amazonaws.us-east-1.sqs"),
    ("com.amazonaws.eu-west-1.secretsmanager", "com.amazonaws.eu-west-1.secretsmanager"),
    ("https://sqs.eu-west-1.amazonaws.com/123456789012/orders", "com.amazonaws.eu-west-1.sqs"),
    ("my-bucket.s3.us-east-1.amazonaws.com", "com.amazonaws.us-east-1.s3"),
    ("api.ecr.us-east-1.amazonaws.com", "com.amazonaws.us-east-1.ecr.api"),
])
def test_an_aws_service_endpoint_names_its_endpoint_service(text, service):
    assert net_ref(text, "to")["service"] == service


@cites("sg-ipv4-ipv6")
@pytest.mark.parametrize("text,kind,private", [("10.0.2.40:6379", "address", True), ("203.0.113.9:443", "address", False),
                                               ("api.stripe.com:443", "host", None)])
def test_an_address_is_private_or_public(text, kind, private):
    ref = net_ref(text, "to")
    assert ref["kind"] == kind and ref.get("private") == private


@cites("lambda-vpc")
@pytest.mark.parametrize("text,kind", [("orders-api", "function"), ("i-0123456789abcdef0", "instance"),
                                       ("eni-0123456789abcdef0", "eni"), ("subnet-0123456789abcdef0", "subnet"),
                                       ("arn:aws:lambda:us-east-1:123456789012:function:orders-api", "function"),
                                       ("", None)])
def test_a_source_is_a_function_instance_interface_or_subnet(text, kind):
    assert net_ref(text, "from")["kind"] == kind


@cites("rds-vpc")
def test_the_environment_names_the_database_by_variable_and_endpoint_never_by_value():
    found = env_db({"STAGE": "prod", "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
                    "DATABASE_URL": "postgresql://app:pw-123456@orders-db.abc123xyz.us-east-1.rds.amazonaws.com:5432/app"})
    assert found == {"variable": "DATABASE_URL", "endpoint": "orders-db.abc123xyz.us-east-1.rds.amazonaws.com:5432",
                     "kind": "rds-instance", "name": "orders-db"}
    assert env_db({"STAGE": "prod"}) is None and env_db(None) is None


@cites("rds-vpc")
def test_a_db_instance_is_placed_in_the_subnet_of_its_availability_zone():
    w, raw = two_tier()
    net = w.facts(**raw)
    assert [s["id"] for s in net["destination"]["subnets"]] == ["subnet-db"]
    assert net["destination"]["groups"] == ["sg-db"] and net["port"] == 5432


@cites("rds-vpc")
def test_a_multi_az_instance_is_checked_in_the_standbys_subnet_too():
    w, raw = two_tier()
    raw["db_instance"] = World.db("orders-db", [("subnet-db", "us-east-1b"), ("subnet-app", "us-east-1a")],
                                  "us-east-1b", ["sg-db"], vpc="vpc-a", secondary="us-east-1a")
    net = w.facts(**raw)
    assert sorted(s["id"] for s in net["destination"]["subnets"]) == ["subnet-app", "subnet-db"]
    assert any("Multi-AZ" in n for n in net["notes"])


@cites("rds-vpc")
def test_a_proxy_is_reached_in_every_one_of_its_subnets_on_its_engines_port():
    w, raw = two_tier()
    raw.update({"to": "orders-proxy", "db_instance": None, "db_cluster": {"error": {"code": "DBClusterNotFoundFault"}},
                "db_proxy": {"DBProxies": [{"DBProxyName": "orders-proxy", "EngineFamily": "MYSQL", "VpcId": "vpc-a",
                                            "VpcSubnetIds": ["subnet-db", "subnet-app"],
                                            "VpcSecurityGroupIds": ["sg-db"]}]}})
    net = w.facts(**raw)
    assert net["destination"]["kind"] == "db-proxy" and net["port"] == 3306
    assert len(net["destination"]["subnets"]) == 2


@cites("rds-vpc")
def test_the_port_given_wins_over_the_databases():
    w, raw = two_tier()
    assert w.facts(**raw, port=6432)["port"] == 6432


@cites("rds-vpc")
def test_a_database_that_does_not_exist_is_said_so():
    w, raw = two_tier()
    raw.update({"to": "no-such-db", "db_instance": {"error": {"code": "DBInstanceNotFound"}},
                "db_proxy": {"error": {"code": "DBProxyNotFoundFault"}}, "db_cluster": {"error": {"code": "DBClusterNotFoundFault"}}})
    net = w.facts(**raw)
    assert not net["resolved"]
    assert net["not_found"][0]["message"] == "no DB instance, cluster or proxy named no-such-db in us-east-1"


@cites("rt-association")
def test_the_vpc_comes_from_the_subnets_not_from_lambdas_vpcconfig():
    """moto reports a fixed VpcConfig.VpcId (vpc-123abc); the subnet answer is the truth."""
    w, raw = two_tier()
    net = w.facts(**raw)
    assert raw["function"]["VpcConfig"]["VpcId"] == "vpc-123abc"
    assert net["sources"][0]["subnets"][0]["vpc"] == "vpc-a"
    assert net_ids("vpcs", [{"Subnets": w.subnets}]) == ["vpc-a"]


@cites("sg-reference")
def test_ids_for_later_calls_come_from_any_answer_shape():
    fn = World.function("f", ["subnet-a"], ["sg-a"])
    db = World.db("db", [("subnet-b", "us-east-1a")], "us-east-1a", ["sg-b"])
    fanned = [{"item": "g", "result": World.function("g", ["subnet-c"], ["sg-c"])}, {"item": "h", "error": {"code": "x"}}]
    assert net_ids("subnets", [fn, db, fanned, "subnet-0123456789abcdef0", "orders-api", None]) == [
        "subnet-0123456789abcdef0", "subnet-a", "subnet-b", "subnet-c"]
    assert net_ids("security-groups", [fn, db, fanned]) == ["sg-a", "sg-b", "sg-c"]
    with pytest.raises(ValueError):
        net_ids("routes", [])


@cites("lambda-vpc")
def test_in_the_database_mode_a_function_outside_a_vpc_is_not_evaluated():
    w, raw = two_tier()
    raw["function"] = {"FunctionName": "orders-api"}
    net = w.facts(**raw, mode="db")
    assert not net["applicable"] and net["sources"] == []
    assert w.evaluate(net)["blocks"] == []


@cites("rds-vpc")
def test_every_database_in_the_environment_is_found_once_and_db_replaces_them():
    env = {"STAGE": "prod", "ARCHIVE_URL": "postgresql://a:pw@archive-db.abc123xyz.us-east-1.rds.amazonaws.com:5432/a",
           "DB_HOST": "orders-db.abc123xyz.us-east-1.rds.amazonaws.com",
           "PG_REPLICA": "orders-db.abc123xyz.us-east-1.rds.amazonaws.com",
           "PROXY": "orders.proxy-abc123xyz.us-east-1.rds.amazonaws.com"}
    found = env_dbs(env)
    assert [(d["variable"], d["kind"], d["name"]) for d in found] == [
        ("DB_HOST", "rds-instance", "orders-db"), ("PROXY", "rds-proxy", "orders"),
        ("ARCHIVE_URL", "rds-instance", "archive-db")]
    assert not any("pw" in str(d) for d in found)
    assert env_dbs(env, "ledger-db") == [{"variable": "--db", "endpoint": "ledger-db", "kind": "db",
                                          "name": "ledger-db", "port": None, "region": None}]
    assert env_dbs(env, "not a db!") == [] and env_dbs(None, None) == []


@cites("rds-vpc")
def test_each_path_prints_its_own_databases_port():
    """A function naming a PostgreSQL (5432) and a MySQL (3306) database: the
    healthy path's destination line used to print the first one's port twice."""
    w, raw = two_tier()
    w.group("sg-mysql", "vpc-a", ingress=[perm(3306, group="sg-fn")])
    mysql = World.db("orders-mysql", [("subnet-db", "us-east-1b")], "us-east-1b", ["sg-mysql"], port=3306, vpc="vpc-a")
    targets = [{"variable": "PG_URL", "endpoint": "orders-db.abc123.us-east-1.rds.amazonaws.com:5432",
                "kind": "rds-instance", "name": "orders-db", "port": 5432},
               {"variable": "MYSQL_URL", "endpoint": "orders-mysql.abc123.us-east-1.rds.amazonaws.com:3306",
                "kind": "rds-instance", "name": "orders-mysql", "port": 3306}]
    net = w.facts(mode="db", function=raw["function"], targets=targets,
                  db_instances=[{"item": "orders-db", "result": raw["db_instance"]},
                                {"item": "orders-mysql", "result": mysql}])
    assert [d["port"] for d in net["destinations"]] == [5432, 3306]
    result = w.evaluate(net)
    assert result["blocks"] == [] and result["path"]["reachable"] is True
    ends = {p["path"].split(" -> ")[1].split(" ")[0]: p["hops"][-1]["text"] for p in result["path"]["paths"]}
    assert ends["orders-db"].endswith(" port 5432") and ends["orders-mysql"].endswith(" port 3306"), ends
    assert result["path"]["summary"].endswith("every hop allows TCP 3306/5432")


@cites("rds-vpc")
@pytest.mark.parametrize("text,name,port", [("orders-db:6432", "orders-db", 6432), ("Orders-DB:5432", "orders-db", 5432)])
def test_an_identifier_with_a_port_is_a_database_not_an_internet_host(text, name, port):
    ref = net_ref(text, "to")
    assert (ref["kind"], ref["name"], ref["port"]) == ("db", name, port)
    assert net_ref("db.example.com:5432", "to")["kind"] == "host"


@cites("rds-vpc")
def test_a_database_every_lookup_answered_not_found_is_named_and_one_in_another_region_is_not_looked_up():
    w, raw = two_tier()
    missing = {"error": {"code": "DBInstanceNotFound", "message": "DBInstance gone-db not found."}}
    targets = [{"variable": "DB_HOST", "endpoint": "gone-db.abc123.us-east-1.rds.amazonaws.com", "kind": "rds-instance",
                "name": "gone-db", "port": None, "region": "us-east-1"},
               {"variable": "EU_DB", "endpoint": "eu-db.abc123.eu-west-1.rds.amazonaws.com", "kind": "rds-instance",
                "name": "eu-db", "port": None, "region": "eu-west-1"}]
    net = w.facts(mode="db", function=raw["function"], targets=targets,
                  db_instances=[{"item": "gone-db", "error": missing["error"]}])
    assert net["resolved"] is False and net["destinations"] == []
    assert [(m["name"], m["variable"], m["kind"]) for m in net["db_not_found"]] == [("gone-db", "DB_HOST", "DB instance")]
    assert net["db_not_found_title"] == "DB_HOST names gone-db, a DB instance that does not exist in us-east-1"
    assert [e["name"] for e in net["db_elsewhere"]] == ["eu-db"]
