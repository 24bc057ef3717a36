"""Text from AWS (log lines, names, tags, policies) is attacker-influenced:
before it reaches a terminal or a ticket, terminal control sequences are
removed. rich markup is never parsed from such text (renderers build
rich.Text objects), and markdown renders it inside code spans/blocks."""
from __future__ import annotations

import re
from typing import Any

_ANSI = re.compile(r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC ... BEL/ST (hyperlinks, titles, clipboard)
  | \x1b[P^_X][^\x1b]*(?:\x1b\\)?        # DCS / PM / APC / SOS strings
  | \x1b\[[0-?]*[ -/]*[@-~]              # CSI (colours, cursor movement, erase)
  | \x9b[0-?]*[ -/]*[@-~]                # 8-bit CSI
  | \x1b[@-Z\\-_]                        # other two-byte escapes
  | \x1b                                 # a lone ESC
""", re.X)
# C0/C1 controls except tab and newline; bidi overrides (Trojan Source).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(s: str) -> str:
    s = _ANSI.sub("", s)
    return _CONTROL.sub("", s.replace("\r\n", "\n").replace("\r", "\n"))


def deep_clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): deep_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [deep_clean(v) for v in value]
    return value
