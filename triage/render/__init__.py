"""Renderers of a diagnosis: text (rich), json, markdown. Each takes the
dict from Diagnosis.to_dict(), which is already redacted and stripped of
terminal control sequences, so no renderer can leak or replay them."""
from __future__ import annotations

from typing import TextIO

FORMATS = ("text", "json", "markdown")


def render(data: dict, fmt: str, out: TextIO, *, color: bool | None = None, width: int | None = None) -> None:
    if fmt == "json":
        from .json import render_json
        render_json(data, out)
    elif fmt == "markdown":
        from .markdown import render_markdown
        out.write(render_markdown(data))
    else:
        from .text import render_text
        render_text(data, out, color=color, width=width)
