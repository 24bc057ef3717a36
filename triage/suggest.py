""""Did you mean": one place that guesses the intended name."""
from __future__ import annotations

import difflib
from typing import Iterable


def suggest(name: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    if not name or not choices:
        return None
    lowered = {c.lower(): c for c in choices}
    low = name.lower()
    if low in lowered:                                   # case only: functionname -> FunctionName
        return lowered[low]
    completions = [c for c in choices if c.lower().startswith(low)]
    if len(completions) == 1 or (completions and len(name) >= 4):  # GetFunctionConfig -> GetFunctionConfiguration
        return min(completions, key=len)
    close = difflib.get_close_matches(low, list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    truncations = [c for c in choices if low.startswith(c.lower()) and len(c) >= 4]
    if truncations:
        return max(truncations, key=len)
    subsequence = [c for c in choices if _is_subsequence(low, c.lower())]
    return subsequence[0] if len(subsequence) == 1 else None   # fn -> function


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)
