"""Completion: commands, playbook ids, flags, choices, and live resource
names from each input's declared source, fetched from the seeded moto world
in the background and kept for a time limit."""
from __future__ import annotations

import io

import pytest
from prompt_toolkit.document import Document

from .conftest import CTRL_D, ENTER, TAB, Live, make_repl


@pytest.fixture
def completer(world):
    from prompt_toolkit.input import create_pipe_input

    from triage.repl.completer import TriageCompleter

    with create_pipe_input() as inp:
        repl = make_repl(world.url, inp, io.StringIO())
        yield TriageCompleter(repl)


def complete(completer, text: str) -> list[str]:
    return [c.text for c in completer.get_completions(Document(text, len(text)), None)]


def test_first_word_offers_playbooks_cli_and_session_commands(completer):
    words = complete(completer, "")
    for name in ("lambda-timeout", "access-denied", "run", "playbooks", "show", "calls", "export", "use", "quit"):
        assert name in words
    assert "demo" not in words
    assert complete(completer, "sh") == ["show", "refresh"]   # prefix matches first, then substrings


def test_flags_of_the_chosen_playbook(completer):
    assert complete(completer, "lambda-timeout --f") == ["--function"]
    flags = complete(completer, "lambda-timeout --function orders-etl ")
    assert "--since" in flags and "--output" in flags and "--function" not in flags
    assert complete(completer, "lambda-timeout --output ") == ["text", "json", "markdown"]


def test_live_function_and_role_names_from_the_declared_sources(completer):
    functions = complete(completer, "lambda-timeout --function ")
    assert {"orders-etl", "migrate-db", "report-builder", "payments-sync", "thumbnailer"} <= set(functions)
    ord_ = complete(completer, "lambda-timeout --function ord")
    assert "orders-etl" in ord_ and all(n.startswith("ord") for n in ord_)
    sync = complete(completer, "lambda-timeout --function sync")   # substring match
    assert "payments-sync" in sync and all("sync" in n for n in sync)
    roles = complete(completer, "access-denied --principal reports-")
    assert {"reports-reader", "reports-ok"} <= set(roles) and all("reports-" in r for r in roles)   # substring


def test_names_are_cached_until_the_time_limit_and_refresh(world):
    from triage.aws import Aws, AwsSettings
    from triage.playbook import Completion
    from triage.repl.resource_names import ResourceNames

    now = [0.0]
    names = ResourceNames(lambda: Aws(AwsSettings(region="us-east-1", endpoint_url=world.url)), ttl=60,
                          clock=lambda: now[0])
    source = Completion("lambda", "ListFunctions", {}, "Functions[].FunctionName", True)
    first = names.get(source, wait=10)
    assert "orders-etl" in first and names.fetches == 1
    now[0] = 59
    assert names.get(source) == first and names.fetches == 1          # fresh: no call
    now[0] = 61
    assert names.get(source, wait=10) == first and names.fetches == 2  # stale: fetched again
    names.clear()                                                      # what `refresh` does
    assert names.get(source, wait=10) == first and names.fetches == 3


def test_a_source_that_fails_offers_nothing_and_says_why(world):
    from triage.aws import Aws, AwsSettings
    from triage.playbook import Completion
    from triage.repl.resource_names import ResourceNames

    names = ResourceNames(lambda: Aws(AwsSettings(region="us-east-1", endpoint_url=world.url)), ttl=60)
    source = Completion("lambda", "ListAliases", {"FunctionName": "no-such-function"}, "Aliases[].Name", False)
    assert names.get(source, wait=10) is None
    assert "ResourceNotFoundException" in names.errors[names.key(source)]


def test_tab_in_a_live_session_completes_a_seeded_function_and_runs_it(world):
    live = Live(world.url)
    buffer = lambda: live.repl.prompt_session.default_buffer.text  # noqa: E731
    live.wait_until(lambda: live.repl.prompt_session is not None and live.repl.prompt_session.app.is_running,
                    what="the first prompt")
    # The names are fetched in the background after the first prompt; Tab waits
    # for them only 2 s, which a loaded CI machine can exceed: let them arrive.
    from triage.playbook import Completion
    functions = Completion("lambda", "ListFunctions", {}, "Functions[].FunctionName", True)
    live.wait_until(lambda: live.repl.names.get(functions, wait=1.0) is not None, what="the function names")
    live.send("lambda-timeout --function payments-s" + TAB)
    live.wait_until(lambda: buffer() == "lambda-timeout --function payments-sync", what="the completion")
    live.send(ENTER)
    live.wait_until(lambda: "[vpc-without-nat]" in live.out.getvalue(), what="the diagnosis")
    live.send(CTRL_D)
    out = live.finish()
    assert "[timeout-too-low]" in out and "Goodbye." in out
