"""Where playbooks come from: the ones shipped in the wheel, then user
folders (--playbooks DIR, TRIAGE_PLAYBOOK_PATH, $XDG_CONFIG_HOME/triage/playbooks).
A later source overrides an earlier one with the same id. Listing reads only
the YAML headers (fast, no botocore), and remembers them in a small cache
keyed by file size and mtime, so `triage --help` does not even import PyYAML;
a full load validates."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import PlaybookError, Problem, UsageError

_CACHE_VERSION = 3  # 2: headers are bounded and type-checked; 3: an id that is a command's name is an error


@dataclass
class Entry:
    id: str
    title: str
    summary: str
    path: Path
    origin: str                    # "built-in" or the folder it came from (a label, never trusted)
    inputs: dict
    overrides: str | None = None   # path of the playbook this one replaces
    error: str | None = None       # header could not be read
    triggers: tuple = ()           # regexes over pasted error text (see explain.py)


def flag(name: str) -> str:
    """The command-line flag of an input: since_hours -> --since-hours."""
    return "--" + name.replace("_", "-")


def flag_clash(name: str) -> str | None:
    """Why an input cannot be called `name` on the command line (its flag
    would be triage's own option, e.g. --output or --help), or None."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        return f"input name {name!r} is not allowed: use lowercase letters, digits and '_'"
    if flag(name) in _own_flags():
        return f"input '{name}' would be the flag {flag(name)}, which is triage's own option"
    return None


def id_clash(playbook_id: str) -> str | None:
    """Why a playbook cannot be called `playbook_id`: a triage command (or a
    REPL command) of that name would run instead of it. A command that
    fronts the built-in playbook of the same id (network-path) runs a
    user's override of it, so that id is free."""
    from .commands import registry
    from .repl.commands import resolve

    if playbook_id in registry() and not (builtin_dir() / f"{playbook_id}.yaml").is_file():
        return f"id '{playbook_id}' is the name of the command `triage {playbook_id}`, which would run instead"
    if resolve(playbook_id) is not None:
        name = resolve(playbook_id).name
        return (f"id '{playbook_id}' is the REPL command `{playbook_id}`"
                + (f" (`{name}`)" if name != playbook_id else "") + ", which would run instead inside `triage`")
    return None


@lru_cache(maxsize=1)
def _own_flags() -> frozenset:
    import argparse

    from .cli import common_options  # deferred: cli imports this module

    parser = argparse.ArgumentParser()  # -h/--help, as every playbook's subcommand has
    common_options(parser, suppress=True)
    return frozenset(s for action in parser._actions for s in action.option_strings)


def builtin_dir() -> Path:
    # The wheel puts them in triage/playbooks; a source or editable checkout
    # has them at the top of the repo. Both without importlib.resources (~25 ms).
    here = Path(__file__).resolve().parent
    for path in (here / "playbooks", here.parent / "playbooks"):
        if any(path.glob("*.yaml")):
            return path
    try:
        from importlib import resources
        return Path(str(resources.files("triage.playbooks")))
    except ModuleNotFoundError:
        return here.parent / "playbooks"


def is_builtin(path: str | Path) -> bool:
    """True only for a file that really lies in the installed package's playbook
    folder (links resolved). Decided by location, never by a folder or origin
    name: a user folder called `built-in` is a user folder."""
    try:
        return Path(path).resolve().parent == builtin_dir().resolve()
    except (OSError, RuntimeError):  # unreadable or a symlink loop: not ours
        return False


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


def _header(path: Path, origin: str, cache: dict | None = None) -> Entry:
    fields = _read_header(path, cache if cache is not None else {})
    if "error" in fields:
        return Entry(path.stem, "", "", path, origin, {}, error=fields["error"])
    return Entry(fields["id"], fields["title"], fields["summary"], path, origin, fields["inputs"],
                 triggers=tuple(fields["triggers"]))


def _read_header(path: Path, cache: dict) -> dict:
    """The header fields of one file, from the cache when its size and mtime match."""
    try:
        st = path.stat()
        stamp = [st.st_mtime_ns, st.st_size]
    except OSError:
        stamp = None
    key = str(path.absolute())  # a relative path names different files from different folders
    hit = cache.get(key)
    if stamp is not None and isinstance(hit, dict) and hit.get("stamp") == stamp and isinstance(hit.get("fields"), dict):
        return hit["fields"]
    fields = _parse_header(path)
    if stamp is not None and json.loads(json.dumps(fields, default=str)) == fields:  # only what JSON keeps exactly
        cache[key] = {"stamp": stamp, "fields": fields}
        cache["_dirty"] = True
    return fields


def _parse_header(path: Path) -> dict:
    """The fields `--help`, `playbooks` and `explain` need, or {"error": ...}.
    Bounded for any file: its size (yamlsrc.MAX_PLAYBOOK_BYTES), the YAML's
    nesting and alias expansion (yamlsrc.load); and only plain values pass, so
    no header can break the command line's parser or the JSON cache."""
    from . import yamlsrc

    try:
        if path.stat().st_size > yamlsrc.MAX_PLAYBOOK_BYTES:
            raise PlaybookError([Problem(str(path), None, f"larger than {yamlsrc.MAX_PLAYBOOK_BYTES >> 10} KB; "
                                         "not read as a playbook")])
        data = yamlsrc.load(path.read_text(encoding="utf-8"), str(path))
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise PlaybookError([])
        inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
        triggers = data.get("triggers") if isinstance(data.get("triggers"), list) else []
        fields = {"id": data["id"], "title": data.get("title", ""), "summary": data.get("summary", ""),
                  "inputs": {str(k): (dict(v) if isinstance(v, dict) else {}) for k, v in inputs.items()},
                  "triggers": [str(t) for t in triggers]}
        bad = _header_problem(data, fields, str(path))
        if bad:
            raise PlaybookError([bad])
        return fields
    except (PlaybookError, OSError, UnicodeDecodeError) as exc:
        return {"error": str(exc).splitlines()[0] if str(exc) else "not a playbook (no id)"}


def _is_text(value) -> bool:
    return isinstance(value, str)


def _is_list(value) -> bool:
    return isinstance(value, list) and _plain(value)


def _plain(value, depth: int = 0) -> bool:
    """JSON's types only (what the header cache keeps exactly)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list) and depth < 8:
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 8:
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


_WANTED = {_is_text: "a string", _is_list: "a list of plain values", _plain: "a plain value (string, number, true/false, list)"}
_INPUT_FIELDS = {"help": _is_text, "type": _is_text, "choices": _is_list}


def _header_problem(data: dict, fields: dict, filename: str) -> Problem | None:
    """The first header value the command line cannot show as it is (a date
    where text belongs, a value JSON cannot keep), located to file:line.
    `validate` says the same through the schema; the header must not wait for it."""
    from . import yamlsrc

    clash = id_clash(fields["id"])
    if clash:
        return Problem(filename, yamlsrc.line_of(data, ["id"]), clash,
                       "choose another id (a playbook's id is its command name)")
    for name in fields["inputs"]:
        clash = flag_clash(name)
        if clash:
            return Problem(filename, yamlsrc.line_of(data, ["inputs", name]), clash, "rename the input")
    wanted = [(["title"], fields["title"], _is_text), (["summary"], fields["summary"], _is_text)]
    for name, spec in fields["inputs"].items():
        wanted += [(["inputs", name, key], value, _INPUT_FIELDS.get(key, _plain)) for key, value in spec.items()]
    for where, value, ok in wanted:
        if not ok(value):
            got = _KIND_NAMES.get(type(value).__name__, "a " + type(value).__name__)
            return Problem(filename, yamlsrc.line_of(data, where),
                           f"{'.'.join(where)} must be {_WANTED[ok]}, not {got}",
                           'quote the value, e.g. title: "2026-01-01"' if "date" in got else None)
    return None


_KIND_NAMES = {"date": "a date", "datetime": "a date and time", "dict": "a mapping", "LocatedDict": "a mapping",
               "list": "a list", "LocatedList": "a list", "int": "a number", "float": "a number",
               "bool": "true/false", "NoneType": "an empty value", "bytes": "binary data"}


def _cache_file() -> Path:
    base = os.environ.get("TRIAGE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "triage")
    return Path(base) / f"playbook-headers-v{_CACHE_VERSION}.json"


_CACHE_MAX_BYTES = 8 << 20  # headers are bounded (see _parse_header); a bigger file is not ours to trust


def _load_cache() -> dict:
    try:
        path = _cache_file()
        if path.stat().st_size > _CACHE_MAX_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(cache: dict) -> None:
    if not cache.pop("_dirty", False):
        return
    for key in [k for k in cache if not os.path.exists(k)]:  # forget deleted files (temporary folders)
        del cache[key]
    path = _cache_file()
    try:  # best effort: a read-only home only costs the YAML parse next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, path)  # atomic: concurrent runs never read half a file
    except OSError:
        pass


def discover(extra_dirs: list[str] | None = None) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    cache = _load_cache()
    # A user folder is labelled with its absolute path, so no folder name can read as "built-in".
    sources = [(builtin_dir(), "built-in")] + [(d, str(d.absolute())) for d in user_dirs(extra_dirs)]
    for folder, origin in sources:
        for path in sorted(folder.glob("*.y*ml")):
            entry = _header(path, origin, cache)
            if entry.id in entries:
                entry.overrides = str(entries[entry.id].path)
            entries[entry.id] = entry
    _save_cache(cache)
    return entries


def load(entry: Entry):
    from . import playbook
    # Shipped playbooks are validated against botocore in CI; skipping that
    # here saves ~0.4 s of model loading per run. User playbooks get it all:
    # what is shipped is decided by the file's real location, not by its origin label.
    return playbook.load(entry.path, origin=entry.origin, deep=not is_builtin(entry.path))
