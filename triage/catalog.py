"""Where playbooks come from: the ones shipped in the wheel, then user
folders (--playbooks DIR, TRIAGE_PLAYBOOK_PATH, $XDG_CONFIG_HOME/triage/playbooks).
A later source overrides an earlier one with the same id. Listing reads only
the YAML headers (fast, no botocore); a full load validates."""
from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import yamlsrc
from .errors import PlaybookError, UsageError


@dataclass
class Entry:
    id: str
    title: str
    summary: str
    path: Path
    origin: str                    # "built-in" or the folder it came from
    inputs: dict
    overrides: str | None = None   # path of the playbook this one replaces
    error: str | None = None       # header could not be read
    triggers: tuple = ()           # regexes over pasted error text (see explain.py)


def builtin_dir() -> Path:
    try:
        path = Path(str(resources.files("triage.playbooks")))
        if any(path.glob("*.yaml")):
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "playbooks"


def user_dirs(extra: list[str] | None = None) -> list[Path]:
    dirs: list[Path] = []
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "triage" / "playbooks"
    if config.is_dir():
        dirs.append(config)
    for item in os.environ.get("TRIAGE_PLAYBOOK_PATH", "").split(os.pathsep):
        if item:
            dirs.append(Path(item).expanduser())
    for item in extra or []:
        path = Path(item).expanduser()
        if not path.is_dir():
            raise UsageError(f"--playbooks {item}: not a directory")
        dirs.append(path)
    return dirs


def _header(path: Path, origin: str) -> Entry:
    try:
        data = yamlsrc.load(path.read_text(encoding="utf-8"), str(path))
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise PlaybookError([])
        inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
        triggers = data.get("triggers") if isinstance(data.get("triggers"), list) else []
        return Entry(data["id"], str(data.get("title", "")), str(data.get("summary", "")), path, origin,
                     {k: (v if isinstance(v, dict) else {}) for k, v in inputs.items()},
                     triggers=tuple(str(t) for t in triggers))
    except (PlaybookError, OSError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "not a playbook (no id)"
        return Entry(path.stem, "", "", path, origin, {}, error=msg)


def discover(extra_dirs: list[str] | None = None) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    sources = [(builtin_dir(), "built-in")] + [(d, str(d)) for d in user_dirs(extra_dirs)]
    for folder, origin in sources:
        for path in sorted(folder.glob("*.y*ml")):
            entry = _header(path, origin)
            if entry.id in entries:
                entry.overrides = str(entries[entry.id].path)
            entries[entry.id] = entry
    return entries


def load(entry: Entry):
    from . import playbook
    # Shipped playbooks are validated against botocore in CI; skipping that
    # here saves ~0.4 s of model loading per run. User playbooks get it all.
    return playbook.load(entry.path, origin=entry.origin, deep=entry.origin != "built-in")
