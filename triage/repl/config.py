"""REPL configuration and where its files live (XDG). The commented
defaults ship as triage/repl/triagerc; the user's file is merged over them
key by key, and a bad value is a clear error naming file and key."""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..render import FORMATS

OUTPUTS = FORMATS
EDIT_MODES = ("emacs", "vi")


def config_path() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "triage" / "config"


def history_path() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "triage" / "history"


def default_text() -> str:
    return resources.files("triage.repl").joinpath("triagerc").read_text(encoding="utf-8")


@dataclass
class Config:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    output: str = "text"
    deadline: float | None = 60.0
    cache_ttl: float = 10.0
    completion_ttl: float = 300.0
    complete_while_typing: bool = True
    prefetch: bool = True
    show_toolbar: bool = True
    edit_mode: str = "emacs"
    syntax_style: str = "monokai"
    drilldown_max_lines: int = 60


def load(path: Path | None = None) -> Config:
    """Defaults, then the user's file if it exists."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(default_text(), source="triagerc (defaults)")
    path = path or config_path()
    if path.is_file():
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: not a valid config file: {' '.join(str(exc).split())}",
                             "it is INI: a [main] section with `key = value` lines") from None
    main = parser["main"]
    known = set(Config.__dataclass_fields__)
    unknown = sorted(set(main) - known)
    if unknown:
        from ..suggest import suggest
        guess = suggest(unknown[0], sorted(known))
        raise UsageError(f"{path}: unknown setting '{unknown[0]}' in [main]",
                         f"did you mean '{guess}'?" if guess else f"settings: {', '.join(sorted(known))}")

    def value(key: str, convert):
        raw = main.get(key, "").strip()
        try:
            return convert(raw)
        except ValueError as exc:
            raise UsageError(f"{path}: [main] {key} = {raw!r}: {exc}") from None

    def optional(raw: str) -> str | None:
        return raw or None

    def boolean(raw: str) -> bool:
        if raw.lower() in ("1", "yes", "true", "on"):
            return True
        if raw.lower() in ("0", "no", "false", "off"):
            return False
        raise ValueError("write True or False")

    def one_of(choices):
        def convert(raw: str) -> str:
            if raw not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}")
            return raw
        return convert

    def non_negative(kind):
        def convert(raw: str):
            number = kind(raw)
            if number < 0:
                raise ValueError("must not be negative")
            return number
        return convert

    return Config(
        profile=value("profile", optional), region=value("region", optional),
        endpoint_url=value("endpoint_url", optional), output=value("output", one_of(OUTPUTS)),
        deadline=value("deadline", lambda raw: non_negative(float)(raw) if raw else None),
        cache_ttl=value("cache_ttl", non_negative(float)),
        completion_ttl=value("completion_ttl", non_negative(float)),
        complete_while_typing=value("complete_while_typing", boolean), prefetch=value("prefetch", boolean),
        show_toolbar=value("show_toolbar", boolean), edit_mode=value("edit_mode", one_of(EDIT_MODES)),
        syntax_style=value("syntax_style", lambda raw: raw or "monokai"),
        drilldown_max_lines=value("drilldown_max_lines", non_negative(int)))
