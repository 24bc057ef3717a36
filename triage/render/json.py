from __future__ import annotations

import json as _json
from typing import TextIO


def render_json(data: dict, out: TextIO) -> None:
    out.write(_json.dumps(data, indent=2, ensure_ascii=False, default=str))
    out.write("\n")
