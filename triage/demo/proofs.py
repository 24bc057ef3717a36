"""How each finding's fix is proven (proven_fixes.yaml): applied with the AWS
CLI to a seeded moto world by tests/fixes, or, where moto cannot apply it,
checked against the AWS CLI's model. The demo says it under each incident;
the proven-fix suite reads the same table, so the two cannot disagree."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Proof:
    playbook: str
    finding: str
    method: str                    # "applied" or "model"
    scenario: str | None = None    # the seeded scenario that shows the finding
    inputs: dict = field(default_factory=dict, hash=False)
    case: str | None = None        # or: the recorded case whose replay shows it
    reason: str = ""               # model: why moto cannot apply the fix

    @property
    def id(self) -> str:
        return f"{self.playbook}/{self.finding}"

    def sentence(self) -> str:
        if self.method == "applied":
            where = f"{self.scenario} incident" + (f" ({_flags(self.inputs)})" if self.inputs else "")
            return (f"fix proven: tests/fixes applies it with the AWS CLI to the seeded {where} "
                    "and the finding goes away")
        return f"fix not applied in the tests ({self.reason}); the commands it prints are checked against the AWS CLI's model"


def _flags(inputs: dict) -> str:
    return " ".join(f"--{k} {v}" for k, vs in inputs.items() for v in (vs if isinstance(vs, list) else [vs]))


@lru_cache(maxsize=1)
def load() -> dict[str, Proof]:
    import yaml

    text = resources.files(__package__).joinpath("proven_fixes.yaml").read_text(encoding="utf-8")
    proofs: dict[str, Proof] = {}
    for pid, findings in (yaml.safe_load(text) or {}).items():
        for finding, spec in (findings or {}).items():
            method = "applied" if "applied" in spec else "model"
            where = spec.get("applied") or spec.get("from") or {}
            proof = Proof(pid, finding, method, where.get("scenario"), dict(where.get("inputs") or {}),
                          where.get("case"), " ".join(str(spec.get("model", "")).split()))
            proofs[proof.id] = proof
    return proofs


def sentence(playbook: str, finding: str) -> str:
    proof = load().get(f"{playbook}/{finding}")
    return proof.sentence() if proof else "fix not proven yet"
