"""Commands that exist only inside the REPL, registered with name, syntax
and help (`help` is generated from this registry plus the CLI's).
Playbooks, `run`, `playbooks`, `validate` and `schema` come from the CLI's
command registry and are parsed by its argparse definitions."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..errors import UsageError


@dataclass(frozen=True)
class ReplCommand:
    name: str
    syntax: str
    help: str
    handler: Callable            # (repl, rest of the line) -> None
    aliases: tuple = ()


REPL_COMMANDS: dict[str, ReplCommand] = {}
_ALIASES: dict[str, str] = {}


def repl_command(name: str, syntax: str, help: str, aliases: tuple = ()):
    def register(fn: Callable) -> Callable:
        REPL_COMMANDS[name] = ReplCommand(name, syntax, help, fn, aliases)
        for alias in aliases:
            _ALIASES[alias] = name
        return fn
    return register


def resolve(word: str) -> ReplCommand | None:
    return REPL_COMMANDS.get(_ALIASES.get(word, word))


@repl_command("explain", "explain TEXT", "route an AWS error message to the playbook that diagnoses it "
              "(or just paste the error)")
def cmd_explain(repl, rest: str) -> None:
    from .explain_paste import explain
    if not rest:
        raise UsageError("explain needs the error text", "paste the AWS error message after `explain`, or on its own")
    explain(repl, rest)


@repl_command("show", "show [N]", "drill into finding N of the last run: evidence, the raw call results it "
              "used, the JMESPath that fired")
def cmd_show(repl, rest: str) -> None:
    from .drilldown import show
    show(repl, rest)


@repl_command("calls", "calls [N]", "the session's call log (last N): milliseconds, cache hits, errors")
def cmd_calls(repl, rest: str) -> None:
    from rich.table import Table
    from rich.text import Text

    calls = repl.calls
    if rest:
        if not rest.isdigit():
            raise UsageError(f"calls {rest}: write a number", "calls 20 shows the last 20 calls")
        calls = calls[-int(rest):]
    if not calls:
        repl.print("No API calls yet in this session.", style="muted")
        return
    first = len(repl.calls) - len(calls) + 1
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
    for col, justify in (("#", "right"), ("call", "left"), ("step", "left"), ("region", "left"),
                         ("ms", "right"), ("cache", "left"), ("error", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for i, c in enumerate(calls, first):
        table.add_row(str(i), Text(c.call), Text(c.step or ""), Text(c.region or ""), f"{c.ms:.1f}",
                      Text(f"cached, {c.age:.0f} s old" if c.cached and c.age and c.age >= 1 else "cached", style="ok")
                      if c.cached else Text("fetched", style="muted"),
                      Text(repl.redactor.text(c.error or ""), style="high"))
    repl.print(table)
    cached = sum(1 for c in repl.calls if c.cached)
    failed = sum(1 for c in repl.calls if c.error)
    repl.print(f"{len(repl.calls)} calls in this session: {cached} answered from the session cache, "
               f"{failed} failed, {sum(c.ms for c in repl.calls):.0f} ms in total. Answers are reused for "
               f"{repl.config.cache_ttl:g} s (cache_ttl); `refresh` clears the cache.",
               style="muted")


@repl_command("use", "use profile|region|endpoint VALUE", "switch the AWS profile, region or endpoint "
              "(`use endpoint default` clears it); `use` alone shows them")
def cmd_use(repl, rest: str) -> None:
    parts = rest.split()
    if not parts:
        s = repl.settings
        repl.print(f"profile {s.profile or '(default chain)'} · region {s.region or '(default chain)'} · "
                   f"endpoint {s.endpoint_url or '(AWS)'}")
        return
    what = {"endpoint-url": "endpoint", "endpoint_url": "endpoint"}.get(parts[0], parts[0])
    if what not in ("profile", "region", "endpoint") or len(parts) != 2:
        raise UsageError(f"use {rest}: write `use profile NAME`, `use region NAME` or `use endpoint URL`",
                         "`default` as the value goes back to boto3's standard chain")
    value: str | None = parts[1]
    if value in ("default", "none", "-"):
        value = None
    warning = None
    if what == "region" and value:
        from ..regions import check
        warning = check(value, "")   # the command line's --region check
    if what == "endpoint" and value and not re.match(r"https?://[^\s/]+", value):
        raise UsageError(f"{value!r} is not an endpoint URL", "for example http://127.0.0.1:5000")
    if what == "profile" and value:
        from ..aws import Aws, AwsSettings
        Aws(AwsSettings(profile=value)).session   # AwsUnavailable names a missing profile; nothing changes then
    attr = {"profile": "profile", "region": "region", "endpoint": "endpoint_url"}[what]
    setattr(repl.settings, attr, value)
    repl.reset_aws()
    if warning:
        repl.print(f"warning: {warning}", style="unchecked")
    repl.print(f"{what} is now {value or 'the default'}; cached results and completions cleared.", style="muted")
    if repl.config.prefetch:
        import threading
        threading.Thread(target=repl.prefetch, daemon=True, name="triage-prefetch").start()


@repl_command("whoami", "whoami", "the identity and account the session's calls run as")
def cmd_whoami(repl, rest: str) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..aws import CallFailed
    from ..errors import AwsUnavailable

    try:
        who = repl.aws.whoami()
    except CallFailed as exc:   # unreachable, no credentials, denied: say which, and what to try
        err = exc.error
        repl.account, repl.account_error = None, err.code
        where = repl.settings.endpoint_url or "AWS"
        raise AwsUnavailable(f"cannot tell who you are: sts.GetCallerIdentity at {where} failed: "
                             f"{err.reason('sts.GetCallerIdentity') if err.kind == 'denied' else err.message}",
                             "check the endpoint (`use endpoint URL|default`), the profile (`use profile NAME`) "
                             "and your credentials") from None
    repl.account, repl.account_error = who.get("Account"), None
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="muted")
    table.add_column()
    s = repl.settings
    for name, value in (("account", who.get("Account")), ("arn", who.get("Arn")), ("user id", who.get("UserId")),
                        ("profile", s.profile or "(default chain)"), ("region", repl.aws.region),
                        ("endpoint", repl.aws.endpoint_url or "(AWS)")):
        table.add_row(name, Text(str(value)))
    repl.print(table)


@repl_command("export", "export [FILE.md]", "write a Markdown transcript of the session for the incident "
              "ticket (secrets redacted); default incident.md")
def cmd_export(repl, rest: str) -> None:
    from .transcript import export
    export(repl, rest or "incident.md")


@repl_command("refresh", "refresh", "forget cached call results and completion values; re-read playbooks")
def cmd_refresh(repl, rest: str) -> None:
    repl.refresh()
    repl.print("Cleared cached call results and completion values; playbooks re-read.", style="muted")
    if repl.config.prefetch:
        import threading
        threading.Thread(target=repl.prefetch, daemon=True, name="triage-prefetch").start()


@repl_command("clear", "clear", "clear the screen (Ctrl-L does too)")
def cmd_clear(repl, rest: str) -> None:
    output = getattr(repl.prompt_session, "output", None)
    if output is not None:   # prompt-toolkit's terminal: the same screen the prompt draws on
        output.erase_screen()
        output.cursor_goto(0, 0)
        output.flush()
    elif getattr(repl.out, "isatty", lambda: False)():
        repl.out.write("\x1b[2J\x1b[H")
        repl.out.flush()


@repl_command("help", "help [COMMAND]", "this list, or one command's flags", aliases=("?",))
def cmd_help(repl, rest: str) -> None:
    from .help import show_help
    show_help(repl, rest.strip())


@repl_command("quit", "quit", "leave (Ctrl-D does too)", aliases=("exit", r"\q"))
def cmd_quit(repl, rest: str) -> None:
    from .session import Quit
    raise Quit()
