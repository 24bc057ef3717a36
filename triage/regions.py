"""Region names given on the command line (--region, scan's --regions) and
in the REPL (`use region`): a name that cannot be an AWS region is a usage
error before any call; a well-formed name that this botocore does not know
(a region newer than the installed botocore) is tried, with a warning.

The known regions come from botocore's small partitions.json, read as a
file: nothing here imports botocore."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from .errors import UsageError

# The shape of every AWS region name (us-east-1, us-gov-west-1, eusc-de-east-1),
# used with the partitions' own patterns when botocore has them.
SHAPE = re.compile(r"[a-z]{2,4}(-[a-z]+)+-\d+")


@lru_cache(maxsize=1)
def _partitions() -> tuple[frozenset, tuple]:
    """(known region names, the partitions' region patterns) from botocore's data, or empty."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("botocore")
        folder = Path(next(iter(spec.submodule_search_locations)))  # type: ignore[union-attr]
        data = json.loads((folder / "data" / "partitions.json").read_text(encoding="utf-8"))
        names, patterns = set(), []
        for partition in data.get("partitions", []):
            names |= {r for r in partition.get("regions", {}) if SHAPE.fullmatch(r)}   # not aws-global
            if partition.get("regionRegex"):
                patterns.append(re.compile(partition["regionRegex"]))
        return frozenset(names), tuple(patterns)
    except (AttributeError, TypeError, StopIteration, OSError, ValueError, re.error):
        return frozenset(), ()


def known() -> frozenset:
    return _partitions()[0]


def check(region: str, what: str = "--region") -> str | None:
    """Raise UsageError for a name that is not a region; return a warning
    for a well-formed one botocore does not list (None when it is known)."""
    names, patterns = _partitions()
    if region in names:
        return None
    guess = _closest(region, names)
    name = f"{what} {region!r}" if what else repr(region)
    well_formed = SHAPE.fullmatch(region) and (not patterns or any(p.match(region) for p in patterns))
    if not well_formed:
        raise UsageError(f"{name} is not an AWS region name",
                         f"did you mean {guess}?" if guess else "for example us-east-1 or eu-west-1")
    if not names:   # no list to compare with: the shape is all that can be checked
        return None
    if guess and re.sub(r"\d+$", "", guess) == re.sub(r"\d+$", "", region):
        guess = None    # ap-southeast-9 is no typo of ap-southeast-7: a region newer than botocore
    return (f"{name} is not a region this botocore knows"
            + (f" (did you mean {guess}?)" if guess else "")
            + "; trying it anyway, in case it is newer than botocore (pip install -U botocore)")


def _closest(region: str, names: frozenset) -> str | None:
    """The known region one or two edits away (a swap of two letters is one), if any."""
    low = region.strip().lower()
    scored = sorted((_distance(low, n), n) for n in names)
    return scored[0][1] if scored and scored[0][0] <= 2 else None


def _distance(a: str, b: str) -> int:
    """Edit distance counting a transposition as one edit (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]
