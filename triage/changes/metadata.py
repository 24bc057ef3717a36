"""The third source: what resources say about themselves. Lambda keeps
LastModified and its published versions (each with the configuration it was
published with), IAM keeps every version of a managed policy with its
CreateDate. They say *that* something changed and when, never who; they
also give the "before" of a field or a policy document when CloudTrail's
record only has the "after".

Calls go through the run's Aws (cached: GetFunctionConfiguration is usually
the playbook's own call), on the change collector's thread."""
from __future__ import annotations

import re
import threading
from typing import Any, Callable

from ..aws import CallFailed
from .describe import short
from .events import Change, epoch, policy_document, statement_diff
from .kinds import Resource


class Metadata:
    """Metadata entries for resources, and the baselines describe() asks for."""

    def __init__(self, call: Callable, region: str, since: float, until: float):
        self._call = call                 # (service, operation, params, region, paginate=False) -> result
        self.region, self.since, self.until = region, since, until
        self._versions: dict[tuple, list] = {}
        self._policy_versions: dict[str, list] = {}
        self._docs: dict[tuple, dict | None] = {}
        self._lock = threading.Lock()
        self.read: list[str] = []        # what could be read ("Lambda versions of billing-export")
        self.failed: list[str] = []      # what could not, and why

    # --- entries -------------------------------------------------------------------
    def entries(self, resources: list[Resource]) -> list[Change]:
        out: list[Change] = []
        for r in resources:
            try:
                if r.kind == "lambda-function":
                    out += self._lambda(r)
                elif r.kind == "iam-policy":
                    out += self._policy(r)
                elif r.kind in ("iam-role", "iam-user"):
                    out += self._created(r)
            except CallFailed as exc:
                self.failed.append(f"{r.label} {r.name}: {exc.error.reason(_CALLS.get(r.kind, 'metadata'))}")
        return out

    def _lambda(self, r: Resource) -> list[Change]:
        out = []
        config = self._call("lambda", "GetFunctionConfiguration", {"FunctionName": r.given or r.name},
                            r.region or self.region)
        self.read.append(f"LastModified of {r.name}")
        when = epoch((config or {}).get("LastModified"))
        if when is not None and self.since <= when <= self.until:
            out.append(Change(when, "LastModified", r, "metadata", summary=(
                "configuration or code last changed (Lambda's LastModified; who and what changed are only in "
                "CloudTrail)")))
        for version in self.lambda_versions(r):
            vt = epoch(version.get("LastModified"))
            if version.get("Version") != "$LATEST" and vt is not None and self.since <= vt <= self.until:
                out.append(Change(vt, "PublishVersion", r, "metadata",
                                  summary=f"version {version.get('Version')} published "
                                          f"(Timeout {short(version.get('Timeout'))} s, "
                                          f"MemorySize {short(version.get('MemorySize'))} MB)"))
        return out

    def _policy(self, r: Resource) -> list[Change]:
        out = []
        versions = self.policy_versions(r)
        ordered = sorted(versions, key=lambda v: epoch(v.get("CreateDate")) or 0)
        for i, v in enumerate(ordered):
            when = epoch(v.get("CreateDate"))
            if when is None or not (self.since <= when <= self.until):
                continue
            text = f"version {v.get('VersionId')} created" + (" (the default now)" if v.get("IsDefaultVersion") else "")
            if i > 0:
                before = self.policy_document(r, ordered[i - 1].get("VersionId"))
                after = self.policy_document(r, v.get("VersionId"))
                if before is not None and after is not None:
                    removed, added = statement_diff(before, after)
                    parts = [f"removed {'; '.join(removed)}"] if removed else []
                    parts += [f"added {'; '.join(added)}"] if added else []
                    text += ": " + (", ".join(parts) or "no statement changed")
            out.append(Change(when, "CreatePolicyVersion", r, "metadata", summary=text))
        return out

    def _created(self, r: Resource) -> list[Change]:
        op, param, key = (("GetRole", "RoleName", "Role") if r.kind == "iam-role" else ("GetUser", "UserName", "User"))
        answer = self._call("iam", op, {param: r.name}, "us-east-1")
        when = epoch(((answer or {}).get(key) or {}).get("CreateDate"))
        self.read.append(f"CreateDate of {r.name}")
        if when is not None and self.since <= when <= self.until:
            return [Change(when, f"Create{key}", r, "metadata", summary=f"{r.label} {r.name} created")]
        return []

    # --- what the resource looked like before ------------------------------------------
    def lambda_versions(self, r: Resource) -> list[dict]:
        key = (r.name, r.region)
        with self._lock:
            if key in self._versions:
                return self._versions[key]
        try:
            answer = self._call("lambda", "ListVersionsByFunction", {"FunctionName": r.name}, r.region or self.region,
                                paginate=True)
            versions = (answer or {}).get("Versions") or []
            self.read.append(f"versions of {r.name}")
        except CallFailed as exc:
            self.failed.append(f"versions of {r.name}: {exc.error.reason('lambda.ListVersionsByFunction')}")
            versions = []
        with self._lock:
            self._versions[key] = versions
        return versions

    def policy_versions(self, r: Resource) -> list[dict]:
        arn = r.arn or r.name
        with self._lock:
            if arn in self._policy_versions:
                return self._policy_versions[arn]
        answer = self._call("iam", "ListPolicyVersions", {"PolicyArn": arn}, "us-east-1", paginate=True)
        versions = (answer or {}).get("Versions") or []
        self.read.append(f"versions of {r.name}")
        with self._lock:
            self._policy_versions[arn] = versions
        return versions

    def policy_document(self, r: Resource, version: Any) -> dict | None:
        arn = r.arn or r.name
        key = (arn, version)
        with self._lock:
            if key in self._docs:
                return self._docs[key]
        try:
            answer = self._call("iam", "GetPolicyVersion", {"PolicyArn": arn, "VersionId": version}, "us-east-1")
            doc = policy_document(((answer or {}).get("PolicyVersion") or {}).get("Document"))
        except CallFailed as exc:
            self.failed.append(f"policy version {version} of {r.name}: {exc.error.reason('iam.GetPolicyVersion')}")
            doc = None
        with self._lock:
            self._docs[key] = doc
        return doc

    # the Baselines protocol (describe.py)
    def field_before(self, change: Change, field: str) -> tuple[bool, Any]:
        if change.resource.kind != "lambda-function" or change.source == "metadata":
            return False, None
        older = [v for v in self.lambda_versions(change.resource)
                 if v.get("Version") != "$LATEST" and (epoch(v.get("LastModified")) or 0) < change.time]
        if not older:
            return False, None
        value: Any = max(older, key=lambda v: epoch(v.get("LastModified")) or 0)
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                return False, None
            value = value[part]
        return True, value

    def policy_before(self, change: Change) -> dict | None:
        if change.resource.kind != "iam-policy":
            return None
        try:
            versions = self.policy_versions(change.resource)
        except CallFailed:
            return None
        # the version this call created (responseElements) says which came before it: v3 follows v2
        created = str(((change.response or {}).get("policyVersion") or {}).get("versionId") or "")
        if re.fullmatch(r"v\d+", created):
            older = [v for v in versions if re.fullmatch(r"v\d+", str(v.get("VersionId")))
                     and int(v["VersionId"][1:]) < int(created[1:])]
            order = lambda v: int(v["VersionId"][1:])   # noqa: E731
        else:
            older = [v for v in versions if (epoch(v.get("CreateDate")) or 0) < change.time - 1]
            order = lambda v: epoch(v.get("CreateDate")) or 0   # noqa: E731
        if not older:
            return None
        return self.policy_document(change.resource, max(older, key=order).get("VersionId"))


_CALLS = {"lambda-function": "lambda.GetFunctionConfiguration", "iam-policy": "iam.ListPolicyVersions",
          "iam-role": "iam.GetRole", "iam-user": "iam.GetUser"}
