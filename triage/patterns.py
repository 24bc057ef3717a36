"""Regular expressions that come from playbooks (triggers, the patterns of
regex_match/regex_extract) run on RE2 (the `google-re2` bindings): time
linear in the text whatever the pattern, so no pasted error, log line or
AWS answer can make a backtracking engine run for minutes.

Playbook authors write Python regex syntax; this module translates what
differs (``\\Z``, ``\\uXXXX``, ``{,n}``, Python's ``$`` matching before a
final newline) and turns what RE2 cannot run (backreferences, lookaround,
atomic groups, possessive repeats, conditionals, verbose mode) into a
PatternError with a hint, which `validate` reports as file:line. What stays
different: RE2's \\d, \\w, \\s and \\b are ASCII-only.

re2 is imported on first use: `triage --help` never pays for it."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

HINT = ("playbook patterns run on RE2 (linear time): Python regex syntax without backreferences, "
        "lookahead/lookbehind, atomic groups or possessive repeats")


class PatternError(ValueError):
    """A pattern RE2 cannot run (or that is not a regular expression)."""

    def __init__(self, pattern: str, message: str, hint: str = HINT):
        self.pattern, self.message, self.hint = pattern, message, hint
        super().__init__(f"pattern {_short(pattern)} {message}")


def _short(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 60 else pattern[:57] + "...")


_UNSUPPORTED_GROUPS = (
    ("(?P=", "a named backreference (?P=...)", "RE2 has no backreferences: capture both parts and compare them "
     "in the expression instead"),
    ("(?=", "lookahead (?=...)", "match the following text too, or put it in a (?:...) group"),
    ("(?!", "negative lookahead (?!...)", "RE2 has no lookaround: match what may follow explicitly, "
     "or test it with a second pattern"),
    ("(?<=", "lookbehind (?<=...)", "match the preceding text too and capture the part you want"),
    ("(?<!", "negative lookbehind (?<!...)", "RE2 has no lookaround: test it with a second pattern"),
    ("(?>", "an atomic group (?>...)", "write a plain group (?:...): RE2 never backtracks anyway"),
    ("(?(", "a conditional group (?(...)...)", "split it into two patterns"),
)
_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_FLAGS_GROUP = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")


def _translate(pattern: str) -> str:
    """Python regex syntax -> RE2 syntax; raise PatternError for what RE2 lacks."""
    out: list[str] = []
    flags = set("".join(re.findall(r"\(\?([a-zA-Z]+)[:)-]", pattern)))
    multiline = "m" in flags
    i, n = 0, len(pattern)
    in_class = class_head = False
    quantified = False   # the previous token was a repeat (for possessive `++`)
    while i < n:
        c = pattern[i]
        after_repeat, quantified = quantified, False
        if c == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt == "Z" and not in_class:
                out.append(r"\z")
            elif nxt in ("u", "U"):
                width = 4 if nxt == "u" else 8
                out.append(r"\x{" + pattern[i + 2:i + 2 + width] + "}")
                i += 2 + width
                continue
            elif nxt.isdigit() and nxt != "0" and not in_class \
                    and not re.match(r"[0-7]{3}", pattern[i + 1:i + 4]):
                raise PatternError(pattern, f"uses a backreference \\{nxt}, which RE2 cannot run",
                                   "RE2 has no backreferences: capture both parts and compare them in the "
                                   "expression instead")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]" and not class_head:
                in_class = False
            class_head = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if pattern[j:j + 1] == "^":
                j += 1
            out.append(pattern[i:j])
            class_head = True  # a ']' right after '[' or '[^' is a literal
            i = j
            continue
        if c == "(" and pattern.startswith("(?", i):
            for prefix, what, hint in _UNSUPPORTED_GROUPS:
                if pattern.startswith(prefix, i):
                    raise PatternError(pattern, f"uses {what}, which RE2 cannot run", hint)
            if pattern.startswith("(?#", i):  # a comment: RE2 has none
                end = pattern.find(")", i)
                i = n if end < 0 else end + 1
                continue
            m = _FLAGS_GROUP.match(pattern, i)
            if m and not pattern.startswith("(?P", i):
                on, off, close = m.group(1), m.group(2), m.group(3)
                if "x" in on + (off or ""):
                    raise PatternError(pattern, "uses verbose mode (?x), which RE2 cannot run",
                                       "write the pattern without comments and insignificant spaces")
                # a/u only choose ASCII or Unicode classes; RE2's \d \w \s \b are ASCII
                on = on.replace("a", "").replace("u", "")
                off = None if off is None else off.replace("a", "").replace("u", "")
                i = m.end()
                if on or off or close == ":":
                    out.append("(?" + on + (f"-{off}" if off else "") + close)
                continue
        if c in "*+?" and not (c == "?" and out and out[-1].endswith("(")):
            if c == "+" and after_repeat:
                raise PatternError(pattern, "uses a possessive repeat (*+, ++, ?+, {m,n}+), which RE2 cannot run",
                                   "drop the last '+': RE2 never backtracks, so the plain repeat is just as fast")
            out.append(c)
            # `a+?` is lazy: the `?` belongs to this repeat, not a new one
            quantified = not (c == "?" and after_repeat)
            i += 1
            continue
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m and (m.group(1) or m.group(3)):
                low, comma, high = m.group(1) or "0", m.group(2), m.group(3)
                out.append("{" + low + comma + high + "}")
                quantified = True
                i = m.end()
                continue
        if c == "$" and not multiline:
            out.append(r"(?:\n?\z)")  # Python's `$`: the end, or before a final newline
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _re2():
    import re2  # deferred: only patterns pay for it
    return re2


def compile(pattern: str, ignorecase: bool = False, dotall: bool = False) -> Any:
    """The RE2 regex for a Python-syntax pattern (cached); raise PatternError."""
    if not isinstance(pattern, str):
        raise PatternError(str(pattern), "is not a string")
    return _compile(pattern, bool(ignorecase), bool(dotall))


@lru_cache(maxsize=512)
def _compile(pattern: str, ignorecase: bool, dotall: bool) -> Any:
    try:
        re.compile(pattern)  # Python's syntax errors, with their position
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise PatternError(pattern, f"is not a valid regular expression: {exc.msg}{where}",
                           "escape literal ( ) [ ] { } . * + ? with a backslash") from None
    except (RecursionError, OverflowError, MemoryError):
        raise PatternError(pattern, "nests too deeply", "simplify the pattern") from None
    source = _translate(pattern)
    re2 = _re2()
    options = re2.Options()
    options.log_errors = False       # the error is ours to report, not stderr's
    options.case_sensitive = not ignorecase
    options.dot_nl = dotall
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else "rejected"
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        hint = HINT
        if "repetition size" in str(detail):
            hint = "RE2 allows repeat counts up to 1000 (nested repeats multiply)"
        elif "too large" in str(detail) or "nests too deeply" in str(detail):
            hint = "simplify the pattern: RE2 bounds the size of a compiled pattern"
        raise PatternError(pattern, f"is rejected by RE2: {detail}", hint) from None


def problem(pattern: Any, ignorecase: bool = False, dotall: bool = False) -> PatternError | None:
    """The reason a pattern cannot run, or None (for `validate`)."""
    try:
        compile(pattern, ignorecase, dotall)
    except PatternError as exc:
        return exc
    return None


def searchable(text: str) -> str:
    """`text` as RE2 can take it: the bindings encode to UTF-8, so a lone
    surrogate (JSON "\ud800", a lossy paste) becomes '?' (offsets unchanged)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")  # one '?' per bad char: offsets keep


def search(pattern: str, text: str, ignorecase: bool = False, dotall: bool = False):
    """RE2 search (a match object with group/groups/groupdict/span, or None)."""
    return compile(pattern, ignorecase, dotall).search(searchable(text))
