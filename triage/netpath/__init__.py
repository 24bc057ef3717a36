"""Can it reach? A local, read-only evaluator of the network path from a
Lambda function, an EC2 instance, a network interface or a subnet to a
database, an AWS service endpoint or an address, hop by hop: security
groups (stateful), network ACLs (stateless, first match wins), route tables
(explicit association else main, longest prefix), peering, gateway and
interface VPC endpoints and their policies, public versus private
addressing. It decides from what Describe* calls answered; it never calls
AWS itself and never creates anything (AWS's Reachability Analyzer
creates paid analyses).

The playbooks use it through the JMESPath functions registered in
triage/expr.py: net_ref, net_ids, net_facts, net_eval, env_db, env_dbs.

    addr.py             IPv4 ranges and (address x port) boxes
    refs.py             what --from/--to name; a function's database from its environment; ids for later calls
    facts.py            both ends resolved from the answers (subnets, groups, addresses, principal)
    pairs.py            the source-subnet -> destination-subnet paths
    security_groups.py  egress of the source, ingress of the destination
    acls.py             network ACLs, both directions, return traffic on ephemeral ports
    routes.py           route tables, peering, NAT/internet gateways, gateway endpoints
    endpoints.py        VPC endpoint policies
    path.py             one hop kind at a time (net_eval) and the path a healthy run prints
"""
from .facts import net_facts
from .path import net_eval
from .refs import env_db, env_dbs, net_ids, net_ref

__all__ = ["env_db", "env_dbs", "net_eval", "net_facts", "net_ids", "net_ref"]
