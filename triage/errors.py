"""One exception hierarchy. The CLI edge (cli.main) is the only place that
turns these into a message and an exit code."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0               # healthy: every check ran, nothing found
    FINDINGS = 1         # at least one finding
    USAGE = 2            # bad flags, bad playbook
    AWS_UNAVAILABLE = 3  # no credentials, endpoint unreachable, deadline hit
    INCONCLUSIVE = 4     # nothing found, but some checks could not run
    INTERRUPTED = 130    # Ctrl-C

    @classmethod
    def for_outcome(cls, outcome: str) -> "ExitStatus":
        return {"healthy": cls.OK, "findings": cls.FINDINGS, "inconclusive": cls.INCONCLUSIVE,
                "unavailable": cls.AWS_UNAVAILABLE}[outcome]


class TriageError(Exception):
    """Base of every error triage reports on purpose."""

    exit_status = ExitStatus.USAGE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(TriageError):
    exit_status = ExitStatus.USAGE


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a playbook, located to file:line."""

    file: str
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.message}"
        return f"{text}\n    {self.hint}" if self.hint else text


class PlaybookError(TriageError):
    """A playbook failed to load or validate; carries every problem found."""

    exit_status = ExitStatus.USAGE

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


class ReadOnlyViolation(TriageError):
    """An attempt to make an AWS call that is not a read."""

    exit_status = ExitStatus.USAGE


class AwsUnavailable(TriageError):
    """No credentials, endpoint unreachable, or the deadline passed."""

    exit_status = ExitStatus.AWS_UNAVAILABLE
