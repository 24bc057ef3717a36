"""The bottom toolbar: where the session's calls go (account, profile,
region, endpoint), without ever waiting on AWS or importing boto3: the
account arrives from a background fetch and shows "…" until then."""
from __future__ import annotations

import os

from prompt_toolkit.styles import Style

STYLE = Style.from_dict({
    "bottom-toolbar": "noreverse bg:#1c1c1c #bcbcbc",
    "bottom-toolbar.key": "bg:#1c1c1c #5fafd7",
    "bottom-toolbar.bad": "bg:#1c1c1c #ff5f5f",
    "spinner": "#5fafd7",
})


def toolbar(repl) -> list[tuple[str, str]]:
    s = repl.settings
    region = s.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "(profile default)"
    profile = s.profile or os.environ.get("AWS_PROFILE") or "default"
    endpoint = s.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
    if repl.account:
        account = ("class:bottom-toolbar", repl.account)
    elif repl.account_error:
        account = ("class:bottom-toolbar.bad", f"unknown ({repl.account_error})")
    else:
        account = ("class:bottom-toolbar", "…")
    parts: list[tuple[str, str]] = [("class:bottom-toolbar.key", " account "), account]
    for key, value in (("profile", profile), ("region", region), ("endpoint", endpoint)):
        parts += [("class:bottom-toolbar", "  "), ("class:bottom-toolbar.key", key + " "),
                  ("class:bottom-toolbar", value)]
    if repl.last is not None:
        n = len(repl.last.findings)
        parts += [("class:bottom-toolbar", f"  │ last run: {n} finding{'s' if n != 1 else ''}")]
    elif getattr(repl, "last_note", None):
        parts += [("class:bottom-toolbar", f"  │ last run: {repl.last_note}")]
    parts.append(("class:bottom-toolbar", "  │ help · Ctrl-D quits "))
    return parts
