"""Read an error message an on-call engineer pasted: the generic engine.

``triage explain "<text>"`` (triage.explain) routes a paste on the playbooks'
`signals:` and reads their inputs with their `extract:` rules; this module
does what is the same for every playbook:

1. :func:`_normalise` turns the paste back into the text AWS produced:
   JSON escapes undone, ANSI escapes dropped, log prefixes removed and lines
   that a terminal wrapped in the middle of a word (or an ARN) glued back.
   Where a line break cannot be decided, both readings are kept
   (:attr:`ParsedError.alternative`) and triage.explain keeps the one its
   playbook's rules read more from.
2. Generic facts: the error code, API operation, service and request id the
   SDK wrapper shows, Lambda function ARNs, regions, principals whose
   account was redacted; and, after a playbook's rules ran, :func:`derive`
   adds what follows from them (the role behind a session, the account and
   resource type of an ARN, the IAM action of an operation).

Markers of other clouds and tools, the SDK-name and S3-action tables and the
vocabulary used to glue wrapped words are data: ``errortext.yaml``, checked
with file:line by ``triage validate``.  Stdlib and PyYAML only; never raises.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DATA", "ParsedError", "check_data", "derive", "parse_error", "role_from_assumed_role_arn"]

DATA = Path(__file__).with_name("errortext.yaml")

# Pastes are short; a whole log file is not.  Bounding the input bounds the
# time every regular expression below can take (they are written to be
# linear, see the possessive "++" quantifiers and bounded repeats).
_MAX_INPUT_CHARS = 100_000


@dataclass
class ParsedError:
    """What :func:`parse_error` understood.  ``facts`` only holds keys that
    were found: error_code, operation, request_id, function, function_arn,
    account, region, principal (a name, when the ARN's account was redacted);
    :func:`derive` adds principal_role, session_name, resource_type, action.
    ``notes`` are hints for a human."""

    facts: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    text: str = ""   # the paste as normalised (what playbooks' `extract:` rules read)
    operation: str | None = None
    service: str | None = None     # IAM prefix, when the SDK or a record named it
    error_code: str | None = None
    alternative: ParsedError | None = None   # the other reading of an undecidable line break
    prefer_alternative: bool = False        # ... which wins a tie (the paste looks hard-wrapped)


# ---------------------------------------------------------------------------
# Shared building blocks
# ---------------------------------------------------------------------------

# Characters that can appear in an ARN as printed in an error message.  S3
# keys may hold almost anything, so exclude only what ends a token in running
# text: whitespace, quotes, angle brackets (XML) and backslashes (escapes).
_ARN_CHARS = r"[^\s\"'<>`\\]"
# The longest real ARNs are S3 object ARNs: a 63-character bucket plus a
# 1024-byte key.  Bounding the tail, and making it possessive, keeps a long
# run of junk from being rescanned from every "arn:" in it.
_ARN_TAIL = rf"{_ARN_CHARS}{{1,1500}}+"
_ARN = rf"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9*]*:{_ARN_TAIL}"
_ACTION = r"[A-Za-z0-9-]+:[A-Za-z0-9*]+"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

# Punctuation that ends up glued to an ARN when it closes a sentence, a
# parenthesis or a Java "(Service: ...; ...)" list.
_ARN_TRAILING_JUNK = ".,;:)]}>'\"\\"



def _clean_arn(arn: str) -> str:
    """Drop sentence punctuation and quotes that cling to an ARN's end."""
    return arn.rstrip(_ARN_TRAILING_JUNK)


def _arn_fields(arn: str) -> tuple[str, str, str, str, str] | None:
    """Split an ARN into (partition, service, region, account, resource)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts[1], parts[2], parts[3], parts[4], parts[5]


def _resource_type_from_arn(arn: str) -> str | None:
    """``arn:aws:lambda:...:function:x`` -> ``lambda:function`` and so on."""
    fields = _arn_fields(arn)
    if fields is None:
        return None
    _, service, _, _, resource = fields
    if not service:
        return None
    if service == "s3":
        # S3 ARNs carry no type word: bucket, or bucket/key.
        if resource.startswith(("accesspoint/", "job/")):
            return "s3:" + resource.split("/", 1)[0]
        return "s3:object" if "/" in resource else "s3:bucket"
    if service in ("sqs", "sns"):
        # Queue and topic ARNs end in a bare name: the type is the service's only one.
        return "sqs:queue" if service == "sqs" else "sns:topic"
    # Most ARNs read "<type>/<id>" or "<type>:<id>".  Accept the head only if
    # it is a word: API Gateway and others start with an id instead.
    m = re.match(r"([A-Za-z][A-Za-z-]*)[:/]", resource)
    if not m or service == "execute-api":
        return None  # e.g. arn:aws:iam::123456789012:root
    return f"{service}:{m.group(1)}"


def _account_from_arn(arn: str) -> str | None:
    fields = _arn_fields(arn)
    if fields and fields[3].isdigit():
        return fields[3]
    return None


_ASSUMED_ROLE_ARN = re.compile(
    r"^arn:(?P<partition>[a-z0-9-]+):sts::(?P<account>\d+):assumed-role/"
    r"(?P<role>[^/\s]+)/(?P<session>[^/\s]+)$"
)


def role_from_assumed_role_arn(arn: str) -> str | None:
    """The IAM role behind an STS assumed-role session ARN, or None.

    ``arn:aws:sts::123:assumed-role/App/i-0abc`` -> ``arn:aws:iam::123:role/App``.

    Session ARNs do not carry the role's path, so for a role created with one
    (``/service-role/``, ``/aws-reserved/sso.amazonaws.com/``, ...) the real
    ARN has the path between ``role/`` and the name; the result is then only
    right up to the path.  :func:`derive` adds a note saying so.
    """
    if not isinstance(arn, str):
        return None
    m = _ASSUMED_ROLE_ARN.match(_clean_arn(arn.strip()))
    if not m:
        return None
    return f"arn:{m['partition']}:iam::{m['account']}:role/{m['role']}"


def _principal_facts(principal: str, facts: dict[str, object], notes: list[str]) -> None:
    """Account, role and session facts for a principal ARN, plus path caveats."""
    account = _account_from_arn(principal)
    if account:
        facts.setdefault("account", account)
    if principal == "anonymous":
        notes.append("The request was anonymous (unsigned): the caller sent no AWS credentials at all.")
        return
    m = _ASSUMED_ROLE_ARN.match(principal)
    if not m:
        return
    role_arn = role_from_assumed_role_arn(principal)
    facts.setdefault("principal_role", role_arn)
    facts.setdefault("session_name", m["session"])
    role = m["role"]
    if role.startswith("AWSReservedSSO_"):
        notes.append(
            f"{role} is an IAM Identity Center role: its real ARN has the path "
            "/aws-reserved/sso.amazonaws.com/ (possibly followed by a region), which session ARNs omit; "
            "change its permissions through the permission set, not the role."
        )
    elif role.startswith("AWSServiceRoleFor"):
        notes.append(
            f"{role} is a service-linked role: its real ARN has the path /aws-service-role/<service>/, "
            "which session ARNs omit; its policy is managed by AWS."
        )
    else:
        notes.append(
            f"principal_role {role_arn} was rebuilt from the session ARN, which omits role paths; "
            f"if the role has a path its ARN differs: aws iam get-role --role-name {shlex.quote(role)}"
        )


# ---------------------------------------------------------------------------
# Stage 1: normalising the paste
# ---------------------------------------------------------------------------

# Strings copied out of JSON logs or API responses keep their escapes:
# \" around ARNs, \n between lines, \u001b in front of colour codes.
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[\"\\/bfnrt])")
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "", "f": "", "n": "\n", "r": "\n", "t": "\t"}

_ANSI = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]              # CSI: colours, cursor movement
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC: hyperlinks and window titles
    | \x1b[@-Z\\-_]                        # the other two-byte escapes
    | \x1b                                 # a stray ESC on its own
    | \^\[\[[0-9;]*[A-Za-z]                # caret notation from `cat -v` or less: ^[[31m
    | \[\d{1,3}(?:;\d{1,3})*m              # the ESC got lost in the paste: [31m ... [0m
    """,
    re.X,
)

# Prefixes that log shippers put in front of every line: Lambda's
# "2024-05-01T10:00:00.000Z <request id> ERROR", the Python runtime's
# "[ERROR] <timestamp> <request id>", RDS's "2024-05-01 10:00:00 UTC:",
# syslog's "May  1 10:00:00 host prog[123]:".
_LEVEL = r"\[?(?:ERROR|WARN(?:ING)?|INFO|DEBUG|TRACE|CRITICAL)\]?"
_LOG_PREFIX = re.compile(
    rf"""
    ^[ \t]*
    (?:{_LEVEL}[ \t]+)?
    (?:
        \[?\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}:\d{{2}}(?:[.,]\d{{1,9}})?
            (?:Z|[+-]\d{{2}}:?\d{{2}}|[ ]?UTC)?\]?
      | [A-Z][a-z]{{2}}[ ]+\d{{1,2}}[ ]\d{{2}}:\d{{2}}:\d{{2}}[ ]\S+[ ][\w./-]+(?:\[\d+\])?:
    )
    (?:[ \t]+{_UUID})?
    (?:[ \t]+{_LEVEL})?
    [ \t:|-]*
    """,
    re.X,
)

# Phrases that follow an ARN in AWS messages.  If the line after one that
# ends in an ARN reads "<fragment> is not authorized ...", the fragment is the
# tail of the ARN that the terminal wrapped.
_ARN_FOLLOWERS = r"(?:is\s+not\b|on\s+(?:the\s+)?resource\b|because\b|with\s+an?\s+explicit\b|\(Service\b)"
_AFTER_ARN = re.compile(r"^\S++\s+" + _ARN_FOLLOWERS)   # "<ARN tail> is not ...": the ARN was cut
_LEADS_AFTER_ARN = re.compile(r"^" + _ARN_FOLLOWERS)      # "is not ..." itself: the ARN ended there
_ARN_FRAGMENT = re.compile(r"[\w\-./:@+=,*$#?!~%&;\"')]+")  # used with fullmatch
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+/=]+")  # used with fullmatch
_ENCODED_LEAD = re.compile(r"[Ee]ncoded (?:authorization failure )?message:\s*\S*$")

# Words of the messages parsed below (lower case, no punctuation).  When a
# wrap splits one of them ("authori" / "zed"), the halves are not words of
# their own but glued together they are.  When both sides of a break are
# such words ("authorized" / "to"), the break is where a word-wrapping
# editor put it, even if the line happens to be as long as a terminal.
_VOCABULARY: frozenset[str] = frozenset()  # filled from errortext.yaml's `vocabulary` by _load
_WORD_TRAILING_PUNCTUATION = ".,;:\"')"

# An action cut by a wrap: "... perform: s3:GetOb" / "ject on resource: ..."
# or "... allows the s3:GetO" / "bject action".
_BEFORE_ACTION = re.compile(r"(?:perform\s*:?|allows?\s+the)\s+[A-Za-z0-9:*-]+$")
_AFTER_ACTION = re.compile(r"^\S++\s+(?:action\b|on\s+(?:the\s+)?resource\b|because\b|with\s+an?\s+explicit\b)")

# Common terminal widths: a line exactly this long probably ended because the
# terminal ran out of columns, not because the program printed a newline.
_TERMINAL_WIDTHS = frozenset({80, 100, 120, 132, 140, 150, 160, 180, 200, 220, 240})


def _coerce(text: object) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        return bytes(text).decode("utf-8", errors="replace")
    return text if isinstance(text, str) else str(text)


def _unescape(text: str) -> str:
    def replace(m: re.Match[str]) -> str:
        token = m.group(1)
        if token[0] == "u":
            code = int(token[1:], 16)
            # A lone surrogate would make the result unprintable later on.
            return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)
        return _JSON_SIMPLE[token]

    # Twice, for JSON logs that embed a JSON string (\\\" becomes \" becomes ").
    for _ in range(2):
        if "\\" not in text:
            break
        text = _JSON_ESCAPE.sub(replace, text)
    return text


def _wrap_width(lines: list[str]) -> int | None:
    """The terminal width the paste was hard-wrapped at, if it looks wrapped."""
    lengths = [len(line) for line in lines[:-1] if line]
    if not lengths:
        return None
    width = max(lengths)
    if width < 40:
        return None
    if lengths.count(width) >= 2 or width in _TERMINAL_WIDTHS:
        return width
    return None


def _arn_looks_cut(arn: str) -> bool:
    """True if ``arn`` cannot be a whole ARN: too few fields, a dangling
    separator, or a resource with no "type/name" or "type:name" where the
    service's ARNs always have one ("arn:aws:lambda:...:fu", "...:p")."""
    # Not "." or ",": those more often end the sentence than split the ARN.
    if arn.count(":") < 5 or arn[-1] in ":/-_=@+":
        return True
    fields = _arn_fields(arn)
    if fields is None:
        return True
    service, resource = fields[1], fields[4]
    bare_name_services = {"s3", "sqs", "sns", "execute-api", "states", "events"}
    return service not in bare_name_services and resource != "root" and not re.search(r"[:/]", resource)


def _word(token: str) -> str:
    return token.strip(_WORD_TRAILING_PUNCTUATION + "(").lower()


def _glue(tail: str, prev_raw: str, line: str, width: int | None) -> bool | None:
    """Did a terminal put the newline between ``tail`` and ``line`` in the
    middle of a token, so they must be joined with no space?

    False leaves the newline, which the patterns treat as whitespace (it was
    a real line end, or an editor's wrap at a space).  None means "cannot
    tell" (a break between two non-spaces with no rule to decide it):
    :func:`_parse` then reads the paste both ways.
    """
    if not tail or not line or tail[-1].isspace() or line[0].isspace():
        return False
    last_raw = tail.split()[-1]
    last = last_raw.lstrip("\"'(")
    first = line.split(None, 1)[0]

    # A cut ARN: "a" / "rn:aws:...", or an ARN that cannot end there, or whose
    # tail is followed by the words that follow ARNs, or is all the line holds.
    if 0 < len(last) < 4 and (last + first).startswith("arn:"):
        return True
    # ... unless the next line itself begins with those words: then the ARN ended at the break.
    if last.startswith("arn:") and _LEADS_AFTER_ARN.match(line):
        return False
    if last.startswith("arn:") and _ARN_FRAGMENT.fullmatch(first):
        if _arn_looks_cut(last) or _AFTER_ARN.match(line) or line.strip() == first:
            return True
    # A cut action: "perform: s3:GetOb" / "ject on resource".
    if _BEFORE_ACTION.search(tail) and _AFTER_ACTION.match(line) and re.fullmatch(_ACTION, last + first):
        return True
    # A cut word of the messages: "authori" / "zed".
    if _word(last_raw + first) in _VOCABULARY and not {_word(last_raw), _word(first)} & _VOCABULARY:
        return True
    # The blob after "Encoded authorization failure message:" is hundreds of
    # characters long and always wraps; continuation lines hold nothing else.
    if _OPAQUE.fullmatch(last) and _OPAQUE.fullmatch(line.strip()):
        if len(last) >= 40 or _ENCODED_LEAD.search(tail):
            return True
    # Two whole words ("authorized" / "to"): a word-wrapping editor's break
    # at a space the copy trimmed, even if the line is the longest.
    if {_word(last_raw), _word(first)} <= _VOCABULARY:
        return False
    # A line as long as the terminal (or a long line, when no width repeats)
    # ending mid-token: a terminal's wrap, or an editor's at a trimmed space.
    if len(prev_raw) == width or (width is None and len(prev_raw) >= 40):
        return None
    return False


def _normalise(text: str, glue_unsure: bool = False) -> tuple[str, str, int, bool]:
    """Return (with_prefixes, joined, unsure, hard_wrapped).

    Both texts have escapes and colour codes removed and wrapped lines glued
    back; ``joined`` also has log prefixes stripped (see :func:`_parse` for
    what is done with it), while ``with_prefixes`` keeps them for the request
    id they hold.  ``unsure`` counts the line breaks :func:`_glue` could not
    decide; they are glued if ``glue_unsure``.  ``hard_wrapped`` says the
    line lengths look like a terminal's fixed width.
    """
    text = _unescape(text)
    text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Web consoles paste non-breaking and zero-width spaces.
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")

    raw_lines = text.split("\n")
    width = _wrap_width(raw_lines)
    logical: list[list[str]] = []
    logical_raw: list[list[str]] = []  # the same, with log prefixes kept
    prev_raw = ""
    unsure = 0
    for raw in raw_lines:
        m = _LOG_PREFIX.match(raw)
        line = raw[m.end():] if m else raw
        # A line that starts with its own log prefix is a new log record, never
        # the wrapped tail of the previous one.
        glue = bool(logical) and not m and _glue("".join(logical[-1][-3:])[-600:], prev_raw, line, width)
        if glue is None:
            unsure += 1
            glue = glue_unsure
        if glue:
            logical[-1].append(line)
            logical_raw[-1].append(raw)
        else:
            logical.append([line])
            logical_raw.append([raw])
        prev_raw = raw
    with_prefixes = "\n".join("".join(parts) for parts in logical_raw)
    return with_prefixes, "\n".join("".join(parts) for parts in logical), unsure, width is not None


# ---------------------------------------------------------------------------
# Generic facts: the SDK wrapper, error code, request id, who, which ARN
# ---------------------------------------------------------------------------

# Where an error code can be read, most reliable first.  The first element
# says how far to trust the code: "aws" for codes an AWS SDK or API put
# there; "lambda" for Lambda's "errorType", which is as often a Python
# exception name (FileNotFoundError) as an AWS one, so it never counts as a
# generic "...NotFound" or "...AccessDenied" code.
_ERROR_CODE_SOURCES = (
    # boto3 / AWS CLI:
    #   An error occurred (AccessDenied) when calling the GetObject operation: Access Denied
    #   ... when calling the PutItem operation (reached max retries: 9): ...
    #   A client error (403) occurred when calling the HeadObject operation: Forbidden   (AWS CLI v1, old botocore)
    ("aws", re.compile(
        r"(?:An error occurred|A client error) \((?P<code>[^)\s]{1,100})\) (?:occurred )?when calling the (?P<operation>[A-Za-z0-9]+) operation"
        r"(?:\s*\(reached max retries: \d+\))?"
    )),
    # AWS SDK for Go v2:
    #   operation error S3: GetObject, https response error StatusCode: 403, RequestID: ..., api error AccessDenied: Access Denied
    ("aws", re.compile(
        r"operation error (?P<service>[A-Za-z0-9 ]{1,40}?): (?P<operation>[A-Za-z0-9]+),"
        r"(?:[^\n]{0,300}?\bapi error (?P<code>[A-Za-z0-9.]+):)?"
    )),
    # AWS SDK for Java v1 and v2:
    #   (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: ...)
    #   (Service: Lambda, Status Code: 404, Request ID: ...)
    ("aws", re.compile(
        r"\(Service: (?P<service>[^;,)\n]{1,60})[;,]\s*Status Code: (?P<status>\d{3})[;,]"
        r"(?:\s*Error Code: (?P<code>[A-Za-z0-9.]+)[;,)])?"
    )),
    # AWS SDK for Go v1: "AccessDenied: Access Denied\n\tstatus code: 403, request id: ..."
    # Matched a line at a time (the code is read from "line" by _GO_V1_CODE)
    # so that a long line is scanned once, not once per capitalised word.
    ("aws", re.compile(r"^(?P<line>[^\n]*+)\n[ \t]*status code: (?P<status>\d{3}), request id:", re.M)),
    # XML bodies (S3, EC2, query-protocol services): <Code>AccessDenied</Code>
    ("aws", re.compile(r"<Code>\s*(?P<code>[A-Za-z][A-Za-z0-9.]{1,80})\s*</Code>")),
    # JSON-protocol services: {"__type":"com.amazon.coral.service#AccessDeniedException", ...}
    ("aws", re.compile(r"[\"']__type[\"']\s*:\s*[\"'](?:[^\"'#\n]{0,200}#)?(?P<code>[A-Za-z][A-Za-z0-9.]{1,80})[\"']")),
    # CloudTrail records: "errorCode": "AccessDenied", "eventName": "GetObject"
    ("aws", re.compile(r"[\"']errorCode[\"']\s*:\s*[\"'](?P<code>[A-Za-z][A-Za-z0-9.]{1,80})[\"']")),
    # Lambda's own error document: {"errorType": "Sandbox.Timedout", ...}
    ("lambda", re.compile(r"[\"']errorType[\"']\s*:\s*[\"'](?P<code>[A-Za-z][A-Za-z0-9.]{1,80})[\"']")),
    # Anywhere else, only codes that cannot be mistaken for something else
    # (JS SDK v3 prints "AccessDeniedException: User: ..."; people paste bare codes).
    ("aws", re.compile(
        r"\b(?P<code>(?:[A-Z][A-Za-z0-9]*)?AccessDenied(?:Exception)?|(?:Client\.)?UnauthorizedOperation"
        r"|AuthorizationError(?:Exception)?|ResourceNotFoundException|NoSuchKey|NoSuchBucket|NoSuchEntity"
        r"|QueueDoesNotExist|ParameterNotFound|StateMachineDoesNotExist)\b"
    )),
)

# Request ids as SDKs, CLIs and logs label them.  "Extended Request ID" and
# "HostId" (S3's second id) are not the request id.
_REQUEST_ID_SOURCES = (
    re.compile(
        r"(?<!extended )(?<!extended-)\b(?:x-amzn?-|aws_)?request[ _-]?id\b[\"']?\s*[:=]\s*[\"']?"
        r"(?P<id>[A-Za-z0-9][A-Za-z0-9-]{5,127})",
        re.I,
    ),
    re.compile(r"<RequestI[dD]>\s*(?P<id>[A-Za-z0-9-]{6,128})\s*</RequestI[dD]>"),
    # A Lambda log line: "2024-05-01T10:00:00.000Z <uuid> Task timed out ..."
    re.compile(rf"^[ \t]*(?:{_LEVEL}[ \t]+)?\[?\d{{4}}-\d{{2}}-\d{{2}}T[\d:.]+Z?\]?\s+(?P<id>{_UUID})\b", re.M),
)

# SDK service names (Go, Java, CloudTrail eventSource) to IAM action prefixes.


def _service_prefix(name: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for candidate in (key, key.removeprefix("amazon"), key.removeprefix("aws")):
        if candidate in _DATA["services"]:
            return _DATA["services"][candidate]
    return None


def _action_for(operation: str, service: str | None) -> str | None:
    """The IAM action an API operation is authorised as, when we can tell."""
    s3 = _DATA["s3_actions"]
    if service == "s3" or (service is None and operation in s3):
        return s3.get(operation)
    service = service or _DATA["operation_services"].get(operation)
    if service is None:
        return None
    overrides = _DATA["action_overrides"]
    key = f"{service}:{operation}"
    return overrides[key] if key in overrides else key


@dataclass
class _Context:
    """Facts every family can use, read once from the whole text."""

    error_code: str | None = None
    code_source: str | None = None  # "aws" or "lambda", see _ERROR_CODE_SOURCES
    operation: str | None = None
    service: str | None = None  # IAM prefix, when the SDK or a record named it
    status: str | None = None
    request_id: str | None = None
    # The normalised text with its line breaks, for the few patterns that
    # are about lines (REPORT lines, Go v1's "status code" line).
    lines: str = ""


_GO_V1_CODE = re.compile(r"\b([A-Z][A-Za-z0-9.]{2,80}): ")
_CLOUDTRAIL_EVENT = re.compile(r"[\"']eventName[\"']\s*:\s*[\"'](?P<operation>[A-Za-z0-9]+)[\"']")
_CLOUDTRAIL_SOURCE = re.compile(r"[\"']eventSource[\"']\s*:\s*[\"'](?P<service>[a-z0-9-]+)\.amazonaws\.com[\"']")


def _context(clean: str, lines: str, text: str) -> _Context:
    ctx = _Context(lines=lines)
    for source, rx in _ERROR_CODE_SOURCES:
        # Go v1's pattern is the only one that needs the line breaks.
        m = rx.search(lines if "line" in rx.groupindex else text)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("line") is not None and (code := _GO_V1_CODE.search(groups["line"])):
            groups["code"] = code.group(1)
        if ctx.operation is None and groups.get("operation"):
            ctx.operation = groups["operation"]
        if ctx.service is None and groups.get("service"):
            ctx.service = _service_prefix(groups["service"])
        if ctx.status is None and groups.get("status"):
            ctx.status = groups["status"]
        if ctx.error_code is None and groups.get("code"):
            ctx.error_code = groups["code"]
            ctx.code_source = source
    if ctx.operation is None and (m := _CLOUDTRAIL_EVENT.search(text)):
        ctx.operation = m["operation"]
    if ctx.service is None and (m := _CLOUDTRAIL_SOURCE.search(text)):
        ctx.service = _service_prefix(m["service"])
    # Java v1 prints the code as "Error Code: AccessDenied" and nothing else
    # says "S3"; S3's "Extended Request ID"/"HostId" does.
    if ctx.service is None and re.search(r"Extended Request ID|<HostId>|HostID:", text):
        ctx.service = "s3"
    for rx in _REQUEST_ID_SOURCES:
        m = rx.search(clean)
        if m:
            ctx.request_id = m["id"]
            break
    return ctx



# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_error(text: str) -> ParsedError:
    """Understand a pasted error message.  Never raises."""
    try:
        return _parse(_bounded(_coerce(text)))
    except Exception as exc:  # pragma: no cover - last line of defence, the fuzz test keeps it unused
        return ParsedError(notes=[f"internal error while parsing the message ({type(exc).__name__}); please report it"])


def _bounded(text: str) -> str:
    """At most _MAX_INPUT_CHARS: the start and the end of a long paste (the
    error is usually the first or the last thing in a pasted log)."""
    if len(text) <= _MAX_INPUT_CHARS:
        return text
    half = _MAX_INPUT_CHARS // 2
    return text[:half] + "\n" + text[-half:]


def _parse(raw: str) -> ParsedError:
    if not raw.strip():
        return ParsedError()
    clean, lines, unsure, hard_wrapped = _normalise(raw, glue_unsure=False)
    result = _understand(clean, lines)
    if unsure:
        # Some line broke between two non-spaces and no rule could say whether
        # a terminal cut a token there or an editor wrapped at a space the copy
        # trimmed: keep both readings; a tie goes to the line lengths.
        result.alternative = _understand(*_normalise(raw, glue_unsure=True)[:2])
        result.prefer_alternative = hard_wrapped
    return result


def _understand(clean: str, lines: str) -> ParsedError:
    # Patterns run on the text with every run of whitespace made one space:
    # a newline (or two spaces, or a tab) can sit anywhere a space was.
    text = " ".join(lines.split())
    foreign = [hint for rx, hint in _DATA["not_aws"] if rx.search(lines)]
    if foreign and not any(rx.search(text) for rx in _DATA["aws_markers"]):
        # Another cloud's or system's error: nothing in it is ours to read.
        return ParsedError(notes=foreign, text=lines)
    ctx = _context(clean, lines, text)
    result = ParsedError(notes=foreign, text=lines, operation=ctx.operation, service=ctx.service,
                         error_code=ctx.error_code)
    facts = result.facts
    if ctx.error_code and ctx.code_source == "aws":
        facts["error_code"] = ctx.error_code
    if m := _FUNCTION_ARN.search(text):
        facts["function_arn"] = _clean_arn(m.group(0))
        facts["function"] = m["name"]
    elif m := _LOG_GROUP.search(text):
        facts["function"] = m["name"]
    if ctx.request_id:
        facts["request_id"] = ctx.request_id
    if ctx.operation:
        facts["operation"] = ctx.operation
    _field_facts(text, facts)
    return result


# ---------------------------------------------------------------------------
# Facts that follow from the others, once a playbook's `extract:` rules ran
# ---------------------------------------------------------------------------


# Words a bare-name principal rule can catch that name nobody ("User is not authorized ...").
_NOT_A_NAME = frozenset({"user", "caller", "principal", "role", "you", "it", "this", "the", "account", "identity",
                         "request", "client", "sender"})


def derive(parsed: ParsedError, facts: dict[str, object], notes: list[str]) -> None:
    """Add to ``facts`` what follows from them: the account, role and session
    of a principal ARN, the account and "service:type" of a resource or
    function ARN, and the IAM action of the API operation when the message did
    not name one (with a note saying it was inferred)."""
    principal = facts.get("principal")
    if isinstance(principal, str) and principal.lower() in _NOT_A_NAME:
        del facts["principal"]      # "AccessDeniedException: User is not authorized to perform ...": nobody named
        principal = None
    if isinstance(principal, str) and (principal.startswith("arn:") or principal == "anonymous"):
        _principal_facts(principal, facts, notes)
    for key in ("function_arn", "resource"):
        account = _account_from_arn(str(facts.get(key, "")))
        if account:
            facts.setdefault("account", account)
            break
    if "resource_type" not in facts and "resource" in facts:
        rtype = _resource_type_from_arn(str(facts["resource"]))
        if rtype:
            facts["resource_type"] = rtype
    if "action" in facts or not parsed.operation:
        return
    # Which service answered, from the most to the least direct evidence.
    service = (
        parsed.service  # the SDK said so (Go, Java, CloudTrail)
        or _DATA["operation_services"].get(parsed.operation)  # AssumeRole is STS's whatever the resource
        or ("ec2" if (parsed.error_code or "").endswith("UnauthorizedOperation") else None)  # only EC2 says it
        or _service_from_facts(facts)
    )
    action = _action_for(parsed.operation, service)
    if action and not parsed.service and not _aws_has(action):
        # the service was guessed (from an ARN in the text): S3's PutBucketNotificationConfiguration
        # naming the Lambda destination is not lambda:PutBucketNotificationConfiguration
        action = _action_for(parsed.operation, None)
        if action and not _aws_has(action):
            action = None
    if action:
        facts["action"] = action
        notes.append(f"action {action} was inferred from the {parsed.operation} operation; the message did not name it.")


def _aws_has(action: str) -> bool:
    """Whether AWS's catalogue of IAM actions has ``action`` (a service it does not
    know is given the benefit of the doubt)."""
    from .iam import catalog as cat

    prefix, _, name = action.partition(":")
    svc = cat.catalog().service(prefix)
    return svc is None or name.lower() in svc.lower


def _service_from_facts(facts: dict[str, object]) -> str | None:
    """The service of the resource or function ARN, or the one a playbook's
    rules named (`service`, `resource_type` "service:type")."""
    for key in ("resource", "function_arn"):
        fields = _arn_fields(str(facts.get(key, "")))
        if fields and fields[1]:
            return fields[1]
    if isinstance(facts.get("service"), str):
        return str(facts["service"])
    rtype = str(facts.get("resource_type", ""))
    return rtype.split(":", 1)[0] if ":" in rtype else None


_FUNCTION_ARN = re.compile(
    r"arn:[a-z0-9-]+:lambda:[a-z0-9-]+:(?P<account>\d+):function:(?P<name>[A-Za-z0-9_-]+)(?::[A-Za-z0-9_$-]+)?"
)
# /aws/lambda/NAME, or /aws/lambda/us-east-1.NAME for Lambda@Edge replicas.
_LOG_GROUP = re.compile(r"/aws/lambda/(?:[a-z]{2}(?:-[a-z]+)+-\d\.)?(?P<name>[A-Za-z0-9_-]+)")


# ---------------------------------------------------------------------------
# Fields that survive real pastes: placeholders, qualifiers, regions, hosts
# ---------------------------------------------------------------------------

_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d"
# A function ARN whose account may be typed as a placeholder (AccountID,
# <account>, xxx): the name and the qualifier are still good.
_ANY_FUNCTION_ARN = re.compile(
    rf"arn:aws[a-z-]*:lambda:(?P<region>{_REGION}|[^:\s]{{0,40}}):[^:\s]{{0,40}}:function:(?P<name>[A-Za-z0-9_-]{{1,140}})"
    r"(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?(?![A-Za-z0-9_<>{}$-])"
)
_ARN_REGION = re.compile(rf"arn:aws[a-z-]*:[a-z0-9-]+:(?P<region>{_REGION}):")
_URL_REGION = re.compile(rf"https?://[a-z0-9-]+\.(?P<region>{_REGION})\.amazonaws\.com")
# "User: arn:aws:sts::<account>:assumed-role/ROLE/session": whatever the account
# was redacted to, the role (or user) name is the part to diagnose.
_PRINCIPAL_ANY = re.compile(
    r"\bUser:\s*arn:aws[a-z-]*:(?:sts|iam)::(?P<account>[^:\s]{0,40}|\"[^\"]{0,40}\"):"
    r"(?P<kind>assumed-role|user|role)/(?:[\w+=,.@-]+/)*?(?P<name>[\w+=,.@-]+)(?:/[\w+=,.@-]+)?\s+is\s+not\s+authori"
)


def _field_facts(text: str, facts: dict[str, object]) -> None:
    """Generic fields that survive real pastes: a function ARN
    with its alias or version (``name:alias``), the region an ARN or endpoint
    names, the role behind a principal whose account was redacted. What is
    specific to one playbook (a bare function name, an RDS hostname's DB
    identifier, CloudWatch Logs' wording, ...) is in that playbook's
    ``extract:`` section, run by triage.explain."""
    if m := _ANY_FUNCTION_ARN.search(text):
        name = m["name"]
        if not name.lower() in ("name", "function", "function-name"):
            facts["function"] = name + (f":{m['qualifier']}" if m["qualifier"] else "")
            if re.fullmatch(_REGION, m["region"]):  # not a placeholder (<region>, REGION, ...)
                facts.setdefault("region", m["region"])
    if "region" not in facts:
        for rx in (_ARN_REGION, _URL_REGION):
            if m := rx.search(text):
                facts["region"] = m["region"]
                break
    if m := _PRINCIPAL_ANY.search(text):
        account = m["account"].strip('"')
        if not account.isdigit():  # a placeholder or redaction, not a (possibly short) account number
            facts["principal"] = m["name"] if m["kind"] != "assumed-role" else _assumed_role_name(m.group(0))


def _assumed_role_name(matched: str) -> str:
    tail = matched.split("assumed-role/", 1)[1]
    return tail.split("/", 1)[0]


# ---------------------------------------------------------------------------
# errortext.yaml: markers of other clouds and tools, SDK and action tables
# ---------------------------------------------------------------------------

_KEYS = {"not_aws": list, "aws_markers": list, "services": dict, "s3_actions": dict,
         "operation_services": dict, "action_overrides": dict, "vocabulary": str}


def check_data(path: str | Path = DATA) -> tuple[dict, list]:
    """The data file read and checked: (data, problems), each problem a
    triage.errors.Problem with the file and line.  What is wrong is left out
    of the data, so a bad entry never stops the parser."""
    from . import yamlsrc
    from .errors import Problem

    name, problems = str(path), []
    out: dict = {"not_aws": [], "aws_markers": [], "services": {}, "s3_actions": {}, "operation_services": {},
                 "action_overrides": {}, "vocabulary": frozenset()}
    try:
        root = yamlsrc.load(Path(path).read_text(encoding="utf-8"), name)
    except Exception as exc:
        return out, [Problem(name, None, f"cannot read it: {exc}", None)]

    def bad(where: list, message: str, hint: str | None = None) -> None:
        problems.append(Problem(name, yamlsrc.line_of(root, where), message, hint))

    if not isinstance(root, dict):
        bad([], "is not a mapping", f"give it the keys {', '.join(_KEYS)}")
        return out, problems
    for key in root:
        if key not in _KEYS:
            bad([key], f"unknown key '{key}'", f"the keys are {', '.join(_KEYS)}")
    for key, kind in _KEYS.items():
        if not isinstance(root.get(key), kind):
            bad([key] if key in root else [], f"'{key}' must be a {kind.__name__}")
            root[key] = kind()

    def rx(where: list, pattern: object, flags: int = 0) -> re.Pattern | None:
        try:
            return re.compile(pattern, flags) if isinstance(pattern, str) else None
        except re.error as exc:
            bad(where, f"pattern {pattern!r} is not a valid regular expression: {exc}")
            return None

    for i, item in enumerate(root["not_aws"]):
        if not isinstance(item, dict) or not isinstance(item.get("hint"), str) or not isinstance(item.get("pattern"), str):
            bad(["not_aws", i], "each entry needs a `pattern` and a `hint`")
        elif compiled := rx(["not_aws", i, "pattern"], item["pattern"], re.M if item.get("multiline") else 0):
            out["not_aws"].append((compiled, item["hint"]))
    out["aws_markers"] = [c for i, p in enumerate(root["aws_markers"]) if (c := rx(["aws_markers", i], p))]
    for key in ("services", "s3_actions", "action_overrides"):
        for k, v in root[key].items():
            if not isinstance(v, str) and not (key == "action_overrides" and v is None):
                bad([key, k], f"{key}.{k} must be a string")
            elif key == "action_overrides" and ":" not in str(k):
                bad([key, k], f"action_overrides key '{k}' must read service:Operation")
            else:
                out[key][str(k)] = v
    for service, ops in root["operation_services"].items():
        if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
            bad(["operation_services", service], f"operation_services.{service} must be a list of operation names")
            continue
        out["operation_services"].update({op: str(service) for op in ops})
    out["vocabulary"] = frozenset(root["vocabulary"].split())
    return out, problems


def _load() -> dict:
    global _VOCABULARY
    data, _ = check_data(DATA)
    _VOCABULARY = data["vocabulary"]
    return data


_DATA = _load()
