"""Every fix proven (issue 16, item 1): for every finding id of every shipped
playbook, the fix triage prints is applied with the real AWS CLI to a seeded
moto world and the finding goes away with nothing new in its place; where
moto cannot apply it, the command is checked against the AWS CLI's model and
the test's name says so. `triage/demo/proven_fixes.yaml` says which is which."""
from __future__ import annotations

import pytest

from triage.demo.scenarios import seed_all
from .harness import (Proof, ServerProcess, apply, diagnose, finding_ids, fix_commands, load_table, model_problems, replay,
                      shipped_finding_ids)

TABLE = load_table()
APPLIED = [p for p in TABLE.values() if p.method == "applied"]
MODELLED = [p for p in TABLE.values() if p.method == "model"]


@pytest.fixture(scope="module")
def fix_server():
    """A moto server in a process of its own: applying fixes changes the world,
    and moto's state is per process, so an in-process server would share (and
    its reset would wipe) the seeded world the other tests read."""
    with ServerProcess() as server:
        yield server


def fresh_world(server: ServerProcess, proof: Proof) -> dict[str, str]:
    """Reset the server, seed the proof's scenario; the fix variables of its case."""
    server.reset()
    cases = seed_all(server.url, [proof.scenario])
    case = next((c for c in cases if c.playbook == proof.playbook and c.inputs == proof.inputs), None)
    assert case is not None, f"{proof.id}: scenario {proof.scenario} has no case {proof.playbook} {proof.inputs}"
    return case.fix_vars


def test_the_table_names_every_finding_of_every_shipped_playbook_once():
    shipped = shipped_finding_ids()
    assert sorted(shipped - TABLE.keys()) == [], "findings with no proof: add them to triage/demo/proven_fixes.yaml"
    assert sorted(TABLE.keys() - shipped) == [], "table entries for findings no playbook has"
    for proof in MODELLED:
        assert proof.reason.strip(), f"{proof.id}: say why moto cannot apply the fix"
        assert proof.scenario or proof.case, f"{proof.id}: name a scenario or recorded case that shows the finding"


@pytest.mark.parametrize("proof", APPLIED, ids=lambda p: p.id)
def test_fix_applied_with_the_aws_cli_makes_the_finding_go_away(proof: Proof, fix_server):
    fix_vars = fresh_world(fix_server, proof)
    before = diagnose(fix_server.url, proof.playbook, proof.inputs)
    assert proof.finding in finding_ids(before), (proof.id, before.get("outcome"), finding_ids(before))
    commands = fix_commands(before, proof.finding)
    assert commands, f"{proof.id} prints no fix command"
    # pasted in order into one shell, as the engineer would: a variable one sets, the next may use
    done = apply(fix_server.url, "\n".join(commands), fix_vars)
    assert done.returncode == 0, "\n".join(commands) + f"\nexit {done.returncode}\n{done.stderr}"

    after = diagnose(fix_server.url, proof.playbook, proof.inputs)
    assert proof.finding not in finding_ids(after), f"{proof.id} still found after:\n" + "\n".join(commands)
    new = set(finding_ids(after)) - set(finding_ids(before))
    assert not new, f"{proof.id}: the fix brought new findings {sorted(new)}"
    # Gone because the check ran and passed, not because it could not run.
    assert proof.finding not in [u["check"] for u in after.get("unchecked") or []], after["unchecked"]
    assert after["outcome"] in ("healthy", "findings"), after["outcome"]


@pytest.mark.parametrize("proof", MODELLED, ids=lambda p: p.id)
def test_moto_cannot_apply_this_fix_so_its_commands_are_checked_against_the_cli_model(proof: Proof, fix_server):
    if proof.case:
        diagnosis = replay(proof)
    else:
        fresh_world(fix_server, proof)
        diagnosis = diagnose(fix_server.url, proof.playbook, proof.inputs)
    commands = fix_commands(diagnosis, proof.finding)
    for command in commands:
        assert model_problems(command) == [], command
    if not commands:
        assert "no command" in proof.reason, f"{proof.id} prints no command; the table should say so"


# --- the model check itself -------------------------------------------------
@pytest.mark.parametrize("command, problem", [
    ("aws lambda update-function-configuration --function-name f --timeout 10", None),
    ("aws lambda update-function-configuration --timeout 10", "requires --function-name"),
    ("aws lambda update-function-configration --function-name f", "has no operation"),
    ("aws lambda update-function-configuration --function-name f --time-out 10", "has no --time-out"),
    ("aws lambda create-event-source-mapping --function-name f --event-source-arn a --starting-position OLDEST",
     "is not one of"),
    ("aws rds modify-db-instance --db-instance-identifier d --no-publicly-accessible --apply-immediately", None),
    ("aws rds modify-db-instance --db-instance-identifier d --publicly-accessible false", "is a switch"),
    ("aws lambda get-function --function-name f --region eu-west-1 --query Configuration.Timeout", None),
    ("aws lamda get-function --function-name f", "no AWS CLI service"),
    ("aws rds wait db-snapshot-available --db-snapshot-identifier s", None),
    ("aws rds wait db-snapshot-availabel --db-snapshot-identifier s", "has no waiter"),
    ("aws rds wait db-snapshot-available --snapshot-id s", "has no --snapshot-id"),
])
def test_the_model_check_catches_what_the_cli_would_refuse(command, problem):
    problems = model_problems(command)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_the_readme_counts_are_the_tables():
    from .harness import ROOT
    readme = " ".join((ROOT / "README.md").read_text().split())
    total = len(TABLE)
    assert (f"**{len(APPLIED)} of {total} finding ids proven by applying the fix, {len(MODELLED)} model-checked**"
            in readme), "update the counts in README.md's 'Fix commands, proven by applying them'"
