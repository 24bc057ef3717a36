"""The interactive session: `triage` on a terminal. One loop reads a line,
`handle` runs it and is the only place inside the REPL that turns errors
into messages: a failing command never ends the session, Ctrl-C cancels the
running playbook (or the current line), Ctrl-D says goodbye.

Nothing here imports boto3 before the first prompt: the session's Aws is
created on first use, and the account id and completion values are fetched
in the background once the prompt is on screen."""
from __future__ import annotations

import io
import shlex
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, TextIO

from ..errors import ExitStatus, PlaybookError, TriageError, UsageError
from .config import Config


class Quit(Exception):
    """`quit`: leave the loop."""


@dataclass
class Entry:
    """One command of the transcript (`export`)."""
    line: str
    text: str = ""                  # what it printed (no colour)
    diagnosis: dict | None = None   # a playbook run: the redacted JSON API dict
    note: str | None = None         # e.g. where a pasted error was routed and why
    error: str | None = None


class Tee(io.TextIOBase):
    """The terminal, plus a copy of this command's output for the transcript."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.copy = io.StringIO()

    def write(self, s: str) -> int:
        self.out.write(s)
        self.copy.write(s)
        return len(s)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.out, "isatty", lambda: False)())

    def fileno(self) -> int:  # rich asks for the terminal size through it
        return self.out.fileno()


@dataclass
class Settings:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


class Repl:
    prompt_message = "triage> "

    def __init__(self, config: Config | None = None, *, out: TextIO | None = None, input=None, output=None,
                 profile: str | None = None, region: str | None = None, endpoint_url: str | None = None,
                 playbook_dirs: list[str] | None = None, history: str | None = "default",
                 color: bool | None = None, width: int | None = None, debug: bool = False) -> None:
        import sys

        from ..redact import shared
        from .resource_names import ResourceNames

        self.config = config or Config()
        self.out = out or sys.stdout
        self.input, self.output = input, output
        self.settings = Settings(profile or self.config.profile, region or self.config.region,
                                 endpoint_url or self.config.endpoint_url)
        self.playbook_dirs = playbook_dirs
        self.history = history
        self.color, self.width, self.debug = color, width, debug
        self.redactor = shared()                    # the process's: secrets seen once stay masked everywhere
        self.names = ResourceNames(self._fresh_aws, self.config.completion_ttl)
        self.transcript: list[Entry] = []
        self.last = None                            # the last engine.Diagnosis
        self.last_note: str | None = None           # the toolbar's word when the last run has none ("cancelled")
        self.account: str | None = None
        self.account_error: str | None = None
        self.started = time.time()
        self._aws = None
        self._old_calls: list = []                  # call logs of Aws objects replaced by `use`
        self._entries: dict | None = None
        self._parser = None
        self._tee = Tee(self.out)
        self.current = Entry("")                    # the command being handled
        self.prompt_session = None

    # --- state built on first use --------------------------------------------
    def aws_settings(self):
        from ..aws import AwsSettings
        return AwsSettings(profile=self.settings.profile, region=self.settings.region,
                           endpoint_url=self.settings.endpoint_url, cache_ttl=self.config.cache_ttl)

    def _fresh_aws(self):
        from ..aws import Aws
        return Aws(self.aws_settings(), redactor=self.redactor)

    @property
    def aws(self):
        """The session's Aws: identical read calls are reused until `refresh`."""
        if self._aws is None:
            self._aws = self._fresh_aws()
        return self._aws

    def reset_aws(self) -> None:
        """Settings changed (`use`): new clients, new cache; the log is kept."""
        if self._aws is not None:
            self._old_calls += self._aws.log
        self._aws = None
        self.names.clear()
        self.account = self.account_error = None

    def refresh(self) -> None:
        """`refresh`: identical calls are made again, completions refetched, playbooks re-read."""
        if self._aws is not None:
            self._aws.clear_cache()
        self.names.clear()
        self.reload_playbooks()
        self.account = self.account_error = None

    @property
    def calls(self) -> list:
        return self._old_calls + (list(self._aws.log) if self._aws is not None else [])

    @property
    def entries(self) -> dict:
        if self._entries is None:
            from .. import catalog
            self._entries = catalog.discover(self.playbook_dirs)
        return self._entries

    @property
    def parser(self):
        if self._parser is None:
            from ..cli import build_parser
            from ..commands import registry
            self._parser = build_parser(self.entries, registry())
        return self._parser

    def reload_playbooks(self) -> None:
        self._entries = self._parser = None

    def env(self):
        from ..cli import Env
        return Env(stdout=self._tee, stderr=self._tee, stdin_isatty=False, stdout_isatty=False)

    def console(self):
        from ..render.text import console_for
        return console_for(self._tee, self.color, self.width)

    def print(self, *renderables: Any, style: str | None = None) -> None:
        """Print rich renderables or plain strings (always inert: never markup)."""
        from rich.text import Text
        console = self.console()
        for r in renderables:
            console.print(Text(r, style=style or "") if isinstance(r, str) else r, soft_wrap=isinstance(r, str))

    # --- the loop ------------------------------------------------------------
    def loop(self) -> int:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.completion import DynamicCompleter, ThreadedCompleter
        from prompt_toolkit.enums import EditingMode

        from .. import __version__
        from .completer import TriageCompleter
        from .keys import key_bindings
        from .toolbar import STYLE, toolbar

        completer = TriageCompleter(self)
        self.prompt_session = PromptSession(
            history=self._history(), completer=ThreadedCompleter(DynamicCompleter(lambda: completer)),
            complete_while_typing=self.config.complete_while_typing, auto_suggest=AutoSuggestFromHistory(),
            bottom_toolbar=(lambda: toolbar(self)) if self.config.show_toolbar else None,
            key_bindings=key_bindings(self), style=STYLE, input=self.input, output=self.output,
            editing_mode=EditingMode.VI if self.config.edit_mode == "vi" else EditingMode.EMACS,
            enable_history_search=True)
        # plain text: rich is not needed before the first command (start-up time)
        self.out.write(f"triage {__version__}: type a playbook, paste an AWS error, or `help`. Ctrl-D quits.\n")
        first = True
        while True:
            try:
                line = self.prompt_session.prompt(self.prompt_message,
                                                  pre_run=self._on_first_prompt if first else None)
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            first = False
            try:
                self.handle(line)
            except Quit:
                break
        self.print("Goodbye.", style="muted")
        return ExitStatus.OK

    def _history(self):
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        from ..redact import shared
        from .config import history_path

        if self.history is None:
            return InMemoryHistory()
        path = history_path() if self.history == "default" else Path(self.history)
        redactor = shared()

        class RedactedFileHistory(FileHistory):
            # pasted errors can carry tokens; the history file must not keep them
            def store_string(self, string: str) -> None:
                super().store_string(redactor.text(string))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return RedactedFileHistory(str(path))
        except OSError:
            return InMemoryHistory()

    def _on_first_prompt(self) -> None:
        if self.config.prefetch:
            threading.Thread(target=self.prefetch, daemon=True, name="triage-prefetch").start()

    def prefetch(self) -> None:
        """Account id for the toolbar and every declared completion source."""
        self.fetch_account()
        for source in self.completion_sources():
            self.names.fetch(source)

    def fetch_account(self) -> None:
        settings = (self.settings.profile, self.settings.region, self.settings.endpoint_url)
        try:
            who = self._fresh_aws().whoami()   # a throwaway Aws: the user's call log stays theirs
            account, error = who.get("Account"), None
        except Exception as exc:  # no credentials, unreachable: the toolbar says so
            account, error = None, getattr(getattr(exc, "error", None), "code", None) or type(exc).__name__
        if settings == (self.settings.profile, self.settings.region, self.settings.endpoint_url):
            self.account, self.account_error = account, error
        self.invalidate()

    def invalidate(self) -> None:
        app = getattr(self.prompt_session, "app", None)
        if app is not None and app.is_running:
            app.invalidate()

    def completion_sources(self) -> list:
        from .completer import source_of
        sources = {}
        for entry in self.entries.values():
            for spec in entry.inputs.values():
                source = source_of(spec)
                if source is not None:
                    sources[self.names.key(source)] = source
        return list(sources.values())

    # --- one command -----------------------------------------------------------
    def handle(self, line: str) -> None:
        """Run one line; the only place in the REPL that reports errors."""
        if not line.strip():
            return
        self._tee = Tee(self.out)
        entry = self.current = Entry(line.strip())
        try:
            self.execute(line)
        except Quit:
            raise
        except KeyboardInterrupt:
            entry.error = "cancelled"
            self.print("cancelled", style="unchecked")
        except PlaybookError as exc:
            entry.error = exc.message
            self.print(f"playbook error{'s' if len(exc.problems) > 1 else ''}:\n{exc.message}", style="high")
        except TriageError as exc:
            entry.error = exc.message
            self.print(f"error: {self.redactor.text(exc.message)}", style="high")
            if exc.hint:
                self.print(f"  hint: {exc.hint}", style="muted")
        except Exception as exc:  # a bug: one line, the session goes on
            entry.error = f"internal error: {type(exc).__name__}: {exc}"
            self.print(f"internal error: {type(exc).__name__}: {self.redactor.text(str(exc))}", style="high")
            if self.debug:
                import traceback
                self.print(traceback.format_exc(), style="muted")
        finally:
            entry.text = self._tee.copy.getvalue()
            self._tee = Tee(self.out)
            if entry.line.split()[0] != "export":
                self.transcript.append(entry)

    def execute(self, line: str) -> None:
        from .commands import resolve

        text = line.strip()
        word = text.split(None, 1)[0]
        if "\n" in text:                     # a multi-line paste: an error message, not a command
            from .explain_paste import explain
            return explain(self, text)
        command = resolve(word)
        if command is not None:
            rest = text[len(word):].strip()
            return command.handler(self, rest)
        if word in self.parser_commands():
            return self.run_parsed(text)
        if word in self._cli_only():
            raise UsageError(f"`{word}` is not available inside the REPL", f"run `triage {word}` from your shell")
        from .explain_paste import explain
        return explain(self, text, unknown_word=word)

    def parser_commands(self) -> set[str]:
        from ..commands import registry
        ids = {e.id for e in self.entries.values() if not e.error}
        return ids | {c.name for c in registry().values() if c.repl}

    def _cli_only(self) -> set[str]:
        from ..commands import registry
        return {c.name for c in registry().values() if not c.repl}

    def run_parsed(self, text: str) -> None:
        """A CLI command line, parsed by the CLI's own argparse definitions."""
        from .. import catalog, playbook
        from ..cli import parse_args
        from ..commands.run import cmd_run, flag_inputs, parse_inputs, run_playbook_command

        try:
            argv = shlex.split(text)
        except ValueError as exc:
            raise UsageError(f"cannot read that line: {exc}", "quote values that contain spaces") from None
        args = parse_args(self.parser, argv, self.env())
        if isinstance(args, int):
            return
        if getattr(args, "region", None):   # as on the command line (cli.check_region)
            from ..regions import check
            warning = check(args.region)
            if warning:
                self.print(f"warning: {warning}", style="unchecked")
        if args.handler is run_playbook_command:
            pb = catalog.load(self.entries[args.playbook_id])
            return self.run_playbook(pb, flag_inputs(pb, args), args)
        if args.handler is cmd_run:
            pb = playbook.load(args.file, origin="file")
            return self.run_playbook(pb, parse_inputs(pb, args.input), args)
        args.handler(args, self.env())

    def run_playbook(self, pb, given: dict, args=None) -> None:
        from .. import engine
        from ..commands.run import aws_settings, option
        from ..render import render
        from .progress import Progress, run_cancellable

        for name, spec in pb.inputs.items():  # `ask: true` inputs the line did not give (access-denied's --resource)
            if spec.ask and given.get(name) in (None, "", []):
                from .explain_paste import ask
                answer = ask(self, pb, name, {}, optional=True)
                if answer:
                    given = {**given, name: [answer] if spec.type == "list" else answer}
        notes: list[str] = []
        engine.coerce_inputs(pb, given, notes)  # usage errors before any AWS work
        for note in notes:
            self.print(f"warning: {self.redactor.text(note)}", style="unchecked")
        overrides = args is not None and any(option(args, k) is not None for k in (
            "profile", "region", "endpoint_url", "connect_timeout", "read_timeout", "max_attempts"))
        if overrides:                        # a one-off target or transport: its own Aws, the session's stays as it is
            from ..aws import Aws
            base = self.aws_settings()
            one = aws_settings(args)
            for k in ("profile", "region", "endpoint_url"):
                if getattr(one, k) is None:
                    setattr(one, k, getattr(base, k))
            aws = Aws(one, redactor=self.redactor)
        else:
            aws = self.aws
        aws.session                           # an unknown profile is reported now, once
        deadline = option(args, "deadline", self.config.deadline) if args is not None else self.config.deadline
        cancel = threading.Event()
        progress = Progress(pb.id, len(pb.steps))
        from ..changes import Request, request_from_args
        changes = request_from_args(args) if args is not None else Request()
        diagnosis = run_cancellable(
            lambda p: engine.run(pb, given, aws, deadline=deadline, progress=p, cancel=cancel, changes=changes),
            progress, cancel, input=self.input, output=self.output)
        if overrides:
            self._old_calls += aws.log
        if diagnosis.interrupted:
            finished = sum(1 for o in diagnosis.steps.values() if o.status != "failed")
            self.print(f"cancelled after {diagnosis.seconds:.1f} s: {finished} of {len(pb.steps)} steps had "
                       "finished; nothing was changed. `calls` shows what was made.", style="unchecked")
            self.last, self.last_note = None, "cancelled"   # the earlier run's findings are not this one's
            return
        data = diagnosis.to_dict()
        if getattr(args, "file", None):   # `run FILE`: its header names the file
            data["file"] = args.file
        self.last, self.last_note = diagnosis, None
        self.current.diagnosis = data
        fmt = option(args, "output", self.config.output) if args is not None else self.config.output
        render(data, fmt, self._tee, color=self.color, width=self.width)
        if diagnosis.findings and fmt == "text":
            self.print("`show N` drills into finding N: its evidence, the raw call results, the JMESPath that fired.",
                       style="muted")
        if diagnosis.unavailable:   # text and markdown said it already: once on one screen
            if fmt == "json":
                self.print(f"AWS unavailable: {diagnosis.unavailable}", style="high")
            self.print("  hint: check credentials (`whoami`), `use profile|region|endpoint`", style="muted")


def start(args, env) -> int:
    """Entry from the CLI (no command on a terminal) and from `triage demo`."""
    from . import config as repl_config
    from ..commands.run import option

    cfg = repl_config.load()
    repl = Repl(cfg, out=env.stdout, profile=option(args, "profile"), region=option(args, "region"),
                endpoint_url=option(args, "endpoint_url"), playbook_dirs=option(args, "playbooks"),
                color=False if option(args, "no_color", False) else None, debug=bool(option(args, "debug", False)))
    return repl.loop()
