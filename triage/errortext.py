"""Read an error message an on-call engineer pasted and pull structured facts out of it.

``triage explain "<text>"`` routes on :attr:`ParsedError.kind` and pre-fills
playbook inputs from :attr:`ParsedError.facts`.  The text arrives in whatever
shape the engineer had it: a boto3 traceback, an AWS CLI error, a CloudWatch
log line with a timestamp and request id in front, a JSON or XML response
body, a terminal copy with colour codes and hard line wraps.  So parsing is
done in two stages:

1. :func:`_normalise` turns the paste back into the text AWS produced:
   JSON escapes undone, ANSI escapes dropped, log prefixes removed and lines
   that a terminal wrapped in the middle of a word (or an ARN) glued back.
   Where a line break cannot be decided, :func:`_parse` reads the paste both
   ways and keeps the reading that understood more.
2. One small function per family of messages (access denied, resource not
   found, database out of connections, Lambda timeout) looks for its
   signals and extracts facts.  Each regular expression lives in a named
   table with a comment saying which real message it is for.

The parser is stdlib only and never raises: the console has to print
*something* for any paste, including binary junk.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

__all__ = [
    "ACCESS_DENIED",
    "DB_TOO_MANY_CONNECTIONS",
    "LAMBDA_TIMEOUT",
    "RESOURCE_NOT_FOUND",
    "ParsedError",
    "parse_error",
    "role_from_assumed_role_arn",
]

ACCESS_DENIED = "access-denied"
LAMBDA_TIMEOUT = "lambda-timeout"
RESOURCE_NOT_FOUND = "resource-not-found"
DB_TOO_MANY_CONNECTIONS = "db-too-many-connections"

# When one paste shows several problems, the first kind in this order wins:
# a permission or a missing resource is usually the cause, and running out
# of database connections is more often the cause of a Lambda timeout than
# its consequence.
_KIND_PRIORITY = (ACCESS_DENIED, RESOURCE_NOT_FOUND, DB_TOO_MANY_CONNECTIONS, LAMBDA_TIMEOUT)

# Pastes are short; a whole log file is not.  Bounding the input bounds the
# time every regular expression below can take (they are written to be
# linear, see the possessive "++" quantifiers and bounded repeats).
_MAX_INPUT_CHARS = 100_000


@dataclass
class ParsedError:
    """What :func:`parse_error` understood.

    ``kind`` is one of the module constants, or None for text that is not an
    AWS error we recognise.  ``notes`` are hints for a human, e.g. how to
    decode an encoded authorization message.  ``facts`` only holds keys that
    were found:

    principal, principal_role, session_name, account
        who was denied: the ARN as written, the IAM role behind an
        assumed-role session (path not known), the session name, the account
    action, operation
        the IAM action ("s3:GetObject"), and the API operation from the SDK
        wrapper ("GetObject"); action is derived from operation when the
        message does not name it and the service is evident
    resource, resource_type
        the resource ARN (or name) and its "service:type" ("s3:object",
        "lambda:function", "lambda:event-source-mapping", ...)
    policy_type, deny_kind, policy_arn
        which policy type denied ("identity-based policy", "resource-based
        policy", "permissions boundary", "session policy", "service control
        policy", "resource control policy", "VPC endpoint policy"),
        "implicit" or "explicit", and the denying policy's ARN if named
    error_code, request_id, encoded_message
        the AWS error code (AccessDenied, ResourceNotFoundException, ...;
        for databases the error number: 1040, 53300), the request id, and
        EC2's encoded authorization failure message
    function, function_arn, timeout_s
        the Lambda function (from its ARN or /aws/lambda/NAME log group) and
        the timeout it hit, in seconds (float)
    db_engine
        "postgres" or "mysql", when evident
    """

    kind: str | None = None
    facts: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    text: str = ""   # the paste as normalised (what playbooks' `extract:` rules read)


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

# The policy types IAM names in "because no X allows" and "with an explicit
# deny in X", mapped to the spelling used in facts["policy_type"].
_POLICY_TYPES = (
    (r"identity[- ]based\s+polic(?:y|ies)", "identity-based policy"),
    (r"resource[- ]based\s+polic(?:y|ies)", "resource-based policy"),
    (r"permissions?\s+boundar(?:y|ies)", "permissions boundary"),
    (r"session\s+polic(?:y|ies)", "session policy"),
    (r"service\s+control\s+polic(?:y|ies)", "service control policy"),
    (r"resource\s+control\s+polic(?:y|ies)", "resource control policy"),
    (r"VPC\s+endpoint\s+polic(?:y|ies)", "VPC endpoint policy"),
)
_POLICY_TYPE_ALT = "|".join(pattern for pattern, _ in _POLICY_TYPES)

# What to look at for each policy type once we know it denied the request.
_POLICY_TYPE_HINTS = {
    "identity-based policy": "the policies attached to the principal (or its role)",
    "resource-based policy": "the policy on the resource itself (bucket policy, key policy, queue policy, ...); "
    "cross-account access needs an Allow on both sides",
    "permissions boundary": "the permissions boundary set on the principal's role or user",
    "session policy": "the session policy passed when the role was assumed (AssumeRole Policy/PolicyArns, "
    "or an IAM Identity Center permission set)",
    "service control policy": "the service control policies on the account's OU path in AWS Organizations "
    "(visible from the management account)",
    "resource control policy": "the resource control policies in AWS Organizations that apply to the "
    "resource's account",
    "VPC endpoint policy": "the policy of the VPC endpoint the request went through",
}


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


# ---------------------------------------------------------------------------
# Public helper
# ---------------------------------------------------------------------------

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
    right up to the path.  :func:`parse_error` adds a note saying so.
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
_AFTER_ARN = re.compile(
    r"^\S++\s+(?:is\s+not\b|on\s+(?:the\s+)?resource\b|because\b|with\s+an?\s+explicit\b|\(Service\b)"
)
_ARN_FRAGMENT = re.compile(r"[\w\-./:@+=,*$#?!~%&;\"')]+")  # used with fullmatch
_OPAQUE = re.compile(r"[A-Za-z0-9_\-+/=]+")  # used with fullmatch
_ENCODED_LEAD = re.compile(r"[Ee]ncoded (?:authorization failure )?message:\s*\S*$")

# Words of the messages parsed below (lower case, no punctuation).  When a
# wrap splits one of them ("authori" / "zed"), the halves are not words of
# their own but glued together they are.  When both sides of a break are
# such words ("authorized" / "to"), the break is where a word-wrapping
# editor put it, even if the line happens to be as long as a terminal.
_VOCABULARY = frozenset(
    """
    authorized authorised perform resource because identity-based resource-based policy allows
    action explicit permissions boundary session service control endpoint operation calling
    occurred encoded authorization failure message timed seconds minutes connections connection
    remaining reserved superuser non-replication clients already function found requested exist
    denied accessdenied accessdeniedexception unauthorizedoperation resourcenotfoundexception user
    principal anonymous sorry attribute no the with an in is not to deny after when for of at by
    from server database
    """.split()
)
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
# Context shared by the families: the SDK wrapper, error code, request id
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
    ("aws", re.compile(
        r"An error occurred \((?P<code>[^)\s]{1,100})\) when calling the (?P<operation>[A-Za-z0-9]+) operation"
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
_SERVICE_PREFIXES = {
    "s3": "s3", "dynamodb": "dynamodb", "dynamodbv2": "dynamodb", "lambda": "lambda", "ec2": "ec2",
    "sts": "sts", "securitytokenservice": "sts", "sqs": "sqs", "sns": "sns", "kms": "kms",
    "logs": "logs", "cloudwatchlogs": "logs", "secretsmanager": "secretsmanager", "ssm": "ssm",
    "simplesystemsmanagement": "ssm", "iam": "iam", "identitymanagement": "iam", "sfn": "states",
    "stepfunctions": "states", "states": "states", "kinesis": "kinesis", "ecr": "ecr", "ecs": "ecs",
    "rds": "rds", "cloudwatch": "cloudwatch", "monitoring": "cloudwatch", "eventbridge": "events",
    "events": "events", "firehose": "firehose", "glue": "glue", "athena": "athena",
}

# Operation -> IAM action for S3, whose action names often differ from the API's.
# Operations missing here get no derived action rather than a wrong one.
_S3_OPERATION_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",  # HEAD is authorised as GET
    "SelectObjectContent": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListBuckets": "s3:ListAllMyBuckets",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "RestoreObject": "s3:RestoreObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketCors": "s3:GetBucketCORS",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
}

# Operation names that belong to exactly one service, for when nothing else
# in the text says which service answered.
_OPERATION_SERVICES = {
    **{op: "sts" for op in (
        "AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetSessionToken",
        "GetFederationToken", "DecodeAuthorizationMessage", "GetCallerIdentity", "GetAccessKeyInfo",
    )},
    **{op: "lambda" for op in (
        "Invoke", "InvokeAsync", "InvokeWithResponseStream", "GetFunctionConfiguration",
        "UpdateFunctionConfiguration", "UpdateFunctionCode", "GetEventSourceMapping",
        "CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping",
        "ListEventSourceMappings", "GetFunctionUrlConfig", "PublishVersion",
    )},
}

# (service, operation) pairs whose IAM action is not "service:Operation";
# None means there is no single action to name.
_ACTION_OVERRIDES: dict[tuple[str, str], str | None] = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
    ("dynamodb", "TransactWriteItems"): None,
    ("dynamodb", "TransactGetItems"): None,
    ("dynamodb", "ExecuteStatement"): None,
    ("sts", "GetCallerIdentity"): None,  # needs no permission at all
}

# Lambda-only wording, for "ResourceNotFoundException ... The resource you
# requested does not exist." with no ARN to name the service.
_LAMBDA_WORDING = re.compile(r"The resource you requested does not exist|Function not found:")


def _service_prefix(name: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for candidate in (key, key.removeprefix("amazon"), key.removeprefix("aws")):
        if candidate in _SERVICE_PREFIXES:
            return _SERVICE_PREFIXES[candidate]
    return None


def _action_for(operation: str, service: str | None) -> str | None:
    """The IAM action an API operation is authorised as, when we can tell."""
    if service == "s3" or (service is None and operation in _S3_OPERATION_ACTIONS):
        return _S3_OPERATION_ACTIONS.get(operation)
    service = service or _OPERATION_SERVICES.get(operation)
    if service is None:
        return None
    if (service, operation) in _ACTION_OVERRIDES:
        return _ACTION_OVERRIDES[(service, operation)]
    return f"{service}:{operation}"


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
# Stage 2: one function per family
# ---------------------------------------------------------------------------


@dataclass
class _Finding:
    kind: str
    facts: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- access denied ----------------------------------------------------------

_ACCESS_DENIED_RX = {
    # The IAM message most services now return:
    #   User: arn:... is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because ...
    # The "on resource" part is missing for actions without a resource
    # (logs:CreateLogStream on some paths, sts:GetCallerIdentity, ...).
    # The match starts at the phrase; the principal is the word before it
    # (see "principal"), which keeps the search linear on junk full of "arn:".
    "not_authorized": re.compile(
        rf"""
        (?<!\s)\s+is\s+not\s+authori[sz]ed\s+to\s+perform\s*:?\s*(?P<action>{_ACTION})   # (?<!\s): one try per run of blanks
        (?:\s+on\s+resource\s*:?\s*(?:"(?P<qresource>[^"\n]{{1,2048}})"|(?P<resource>arn:{_ARN_TAIL}|\*)))?
        """,
        re.X,
    ),
    # Applied to the single word before "is not authorized": "arn:..." or
    # "anonymous", possibly glued to a quote or "User:".
    "principal": re.compile(r"(?:^|[^\w:/-])(?P<principal>arn:\S+|anonymous)$"),
    # ... because no identity-based policy allows the s3:GetObject action
    "implicit_deny": re.compile(
        rf"because\s+no\s+(?P<ptype>{_POLICY_TYPE_ALT})\s+allows?\s+the\s+(?P<action>{_ACTION})\s+action",
        re.I,
    ),
    # ... with an explicit deny in a service control policy
    # ... with an explicit deny in an identity-based policy: arn:aws:iam::123:policy/DenyS3
    "explicit_deny": re.compile(
        rf"with\s+an?\s+explicit\s+deny(?:\s+in\s+(?:an?\s+|the\s+)?(?P<ptype>{_POLICY_TYPE_ALT})"
        rf"(?:\s*:?\s*(?P<policy_arn>{_ARN}))?)?",
        re.I,
    ),
    # S3's body and the CLI's rendering of it: "Access Denied" (exactly so;
    # MySQL's "Access denied for user" is a database login failure).
    "s3_access_denied": re.compile(r"\bAccess Denied\b(?!\s+for\s+user)"),
    # EC2 and other query-protocol services.
    "not_authorized_operation": re.compile(r"You are not authorized to perform this operation"),
    # EC2's opaque blob; decode with sts:DecodeAuthorizationMessage.
    "encoded_message": re.compile(r"Encoded authorization failure message:\s*(?P<msg>[A-Za-z0-9_\-+/=]{8,})"),
    # KMS cannot even say which key: the ciphertext names it.
    "kms_ciphertext": re.compile(r"on the resource associated with this ciphertext"),
    # API Gateway authorizers (Lambda or IAM) denying the caller.
    "api_gateway": re.compile(r"User is not authorized to access this resource"),
}

_ACCESS_DENIED_CODES = re.compile(
    r"^(?:\w*AccessDenied(?:Exception)?|(?:Client\.)?UnauthorizedOperation|AuthorizationError(?:Exception)?"
    r"|AllAccessDisabled|AccessDeniedFault)$"
)


def _normalise_policy_type(raw: str) -> str:
    for pattern, name in _POLICY_TYPES:
        if re.fullmatch(pattern, raw, re.I):
            return name
    return raw


def _access_denied(text: str, ctx: _Context) -> _Finding | None:
    rx = _ACCESS_DENIED_RX
    found = _Finding(ACCESS_DENIED)
    facts, notes = found.facts, found.notes
    signal = False

    m = rx["not_authorized"].search(text)
    if m:
        signal = True
        facts["action"] = m["action"]
        resource = m["qresource"] or m["resource"]
        if resource:
            facts["resource"] = _clean_arn(resource)
        words = text[max(0, m.start() - 1600) : m.start()].split()
        who = rx["principal"].search(words[-1]) if words else None
        if who:
            principal = _clean_arn(who["principal"])
            facts["principal"] = principal
            _principal_facts(principal, facts, notes)

    # The reason: the first of the two phrasings that occurs.
    implicit, explicit = rx["implicit_deny"].search(text), rx["explicit_deny"].search(text)
    if explicit and (implicit is None or explicit.start() < implicit.start()):
        facts["deny_kind"] = "explicit"
        if explicit["ptype"]:
            signal = True
            facts["policy_type"] = _normalise_policy_type(explicit["ptype"])
        if explicit["policy_arn"]:
            facts["policy_arn"] = _clean_arn(explicit["policy_arn"])
    elif implicit:
        signal = True
        facts["deny_kind"] = "implicit"
        facts["policy_type"] = _normalise_policy_type(implicit["ptype"])
        # The action is named twice; if a wrap cut the first one short
        # ("s3:GetOb" / "ject"), the second is the whole name.
        first_action = str(facts.get("action", ""))
        if implicit["action"].startswith(first_action):
            facts["action"] = implicit["action"]

    if ctx.error_code and ctx.code_source == "aws" and _ACCESS_DENIED_CODES.match(ctx.error_code):
        signal = True
    if rx["s3_access_denied"].search(text) or rx["not_authorized_operation"].search(text):
        signal = True
    if rx["api_gateway"].search(text):
        signal = True
        notes.append(
            "API Gateway's authorizer (Lambda authorizer or IAM auth) denied the caller: check the "
            "policy document the authorizer returned, or the caller's execute-api:Invoke permission."
        )
    # "An error occurred (403) when calling the HeadObject operation: Forbidden":
    # HEAD responses have no body, so S3 cannot say why.
    if ctx.error_code == "403" or (ctx.status == "403" and ctx.operation and ctx.operation.startswith("Head")):
        signal = True
        if ctx.operation and ctx.operation.startswith("Head"):
            notes.append(
                f"{ctx.operation} got a bare 403: HEAD responses carry no error body, so treat it as "
                "AccessDenied (or a missing key when the caller lacks s3:ListBucket)."
            )

    enc = rx["encoded_message"].search(text)
    if enc:
        signal = True
        facts["encoded_message"] = enc["msg"]
        notes.append(
            "EC2 returned an encoded authorization message: decode it with "
            f"aws sts decode-authorization-message --encoded-message {shlex.quote(enc['msg'])} "
            "--query DecodedMessage --output text  (needs sts:DecodeAuthorizationMessage; "
            "the result names the principal, action, resource and the matched statements)."
        )
    if not signal:
        return None

    if ctx.error_code == "KMSAccessDeniedException":
        # Lambda's wording for its own failure to decrypt environment variables.
        facts.setdefault("action", "kms:Decrypt")
        notes.append(
            "Lambda could not decrypt the function's environment variables: the function's KMS key "
            "policy (or its execution role) must allow kms:Decrypt; check the key is enabled."
        )
    if rx["kms_ciphertext"].search(text):
        notes.append(
            "KMS could not name the key: it is the one that encrypted this ciphertext. Look for the key "
            "ARN in CloudTrail (kms Decrypt event) or the object's/secret's metadata; the key policy must "
            "allow the caller, and the key must exist in this region."
        )
    if ctx.error_code and "error_code" not in facts:
        facts["error_code"] = ctx.error_code
    _deny_notes(facts, notes, ctx)
    return found


def _deny_notes(facts: dict[str, object], notes: list[str], ctx: _Context) -> None:
    action = facts.get("action") or "the action"
    ptype = facts.get("policy_type")
    if facts.get("deny_kind") == "explicit":
        where = _POLICY_TYPE_HINTS.get(str(ptype), "the applicable policies")
        arn = f" ({facts['policy_arn']})" if "policy_arn" in facts else ""
        notes.append(
            f"An explicit Deny always wins over any Allow: find the Deny statement for {action} in {where}{arn}."
        )
    elif facts.get("deny_kind") == "implicit" and ptype:
        where = _POLICY_TYPE_HINTS.get(str(ptype), str(ptype))
        notes.append(f"Nothing allowed {action} in {where}: add an Allow there.")
    elif "principal" not in facts and "encoded_message" not in facts:
        notes.append(
            "The message does not say who was denied or by which policy: look the request up in CloudTrail "
            "(errorCode AccessDenied) or re-run the command with --debug to see who called what."
        )
    s3_read = facts.get("action") in ("s3:GetObject",) or ctx.operation in ("GetObject", "HeadObject")
    if s3_read and "deny_kind" not in facts:
        notes.append(
            "For S3 reads a missing key also shows up as 403 AccessDenied when the caller lacks "
            "s3:ListBucket on the bucket; SSE-KMS objects additionally need kms:Decrypt on the key."
        )


# --- resource not found -----------------------------------------------------

_NOT_FOUND_CODE = re.compile(
    r"^(?:\w*NotFound(?:Exception|Fault)?|NoSuch\w+|\w*DoesNotExist(?:Exception)?|Invalid\w+\.NotFound"
    r"|AWS\.SimpleQueueService\.NonExistentQueue)$"
)

# Service wording for a missing resource -> the resource type it names.
_NOT_FOUND_WORDING = (
    (re.compile(rf"Function not found:\s*(?P<arn>{_ARN})"), "lambda:function"),
    (re.compile(r"Requested resource not found|Cannot do operations on a non-existent table"), "dynamodb:table"),
    (re.compile(r"The specified log group does not exist"), "logs:log-group"),
    (re.compile(r"The specified log stream does not exist"), "logs:log-stream"),
    (re.compile(r"Secrets Manager can't find the specified secret"), "secretsmanager:secret"),
    (re.compile(r"The specified queue does not exist"), "sqs:queue"),
    (re.compile(r"The specified bucket does not exist"), "s3:bucket"),
    (re.compile(r"The specified key does not exist"), "s3:object"),
    (re.compile(r"State Machine Does Not Exist"), "states:stateMachine"),
    (re.compile(r"The (?P<what>role|user|policy|group) with name (?P<name>[\w+=,.@-]+) cannot be found"), "iam:{what}"),
    (re.compile(r"The resource you requested does not exist"), None),  # Lambda; type from the operation
)

_NOT_FOUND_CODE_TYPES = {
    "InvalidInstanceID.NotFound": "ec2:instance",
    "InvalidVpcID.NotFound": "ec2:vpc",
    "InvalidSubnetID.NotFound": "ec2:subnet",
    "InvalidGroup.NotFound": "ec2:security-group",
    "InvalidAMIID.NotFound": "ec2:image",
    "InvalidVolume.NotFound": "ec2:volume",
    "InvalidKeyPair.NotFound": "ec2:key-pair",
    "NoSuchBucket": "s3:bucket",
    "NoSuchKey": "s3:object",
    "QueueDoesNotExist": "sqs:queue",
    "AWS.SimpleQueueService.NonExistentQueue": "sqs:queue",
    "ParameterNotFound": "ssm:parameter",
    "StateMachineDoesNotExist": "states:stateMachine",
}

# Operation name fragments -> resource type, for messages that name neither.
_OPERATION_RESOURCE_TYPES = (
    ("EventSourceMapping", "lambda:event-source-mapping"),
    ("FunctionUrlConfig", "lambda:function-url"),
    ("Function", "lambda:function"),
    ("Invoke", "lambda:function"),
    ("Item", "dynamodb:table"),
    ("Table", "dynamodb:table"),
    ("SecretValue", "secretsmanager:secret"),
    ("Parameter", "ssm:parameter"),
    ("LogEvents", "logs:log-group"),
)

_DDB_TABLE_NAME = re.compile(r"Table: (?P<name>[\w.-]+) not found")


def _resource_not_found(text: str, ctx: _Context) -> _Finding | None:
    found = _Finding(RESOURCE_NOT_FOUND)
    facts, notes = found.facts, found.notes
    signal = bool(ctx.error_code and ctx.code_source == "aws" and _NOT_FOUND_CODE.match(ctx.error_code))
    if signal:
        facts["error_code"] = ctx.error_code
        if ctx.error_code in _NOT_FOUND_CODE_TYPES:
            facts["resource_type"] = _NOT_FOUND_CODE_TYPES[ctx.error_code]
    # "An error occurred (404) when calling the HeadObject operation: Not Found":
    # HEAD responses have no body to carry NoSuchKey.
    if ctx.error_code == "404" or (ctx.status == "404" and (ctx.operation or "").startswith("Head")):
        signal = True
        facts["error_code"] = ctx.error_code or "404"
        if ctx.operation in ("HeadObject", "HeadBucket"):
            facts["resource_type"] = "s3:object" if ctx.operation == "HeadObject" else "s3:bucket"

    for rx, rtype in _NOT_FOUND_WORDING:
        m = rx.search(text)
        if not m:
            continue
        signal = True
        groups = m.groupdict()
        if groups.get("arn"):
            facts.setdefault("resource", _clean_arn(groups["arn"]))
        if groups.get("name"):
            facts.setdefault("resource", groups["name"])
        if rtype and "{" in rtype:
            rtype = rtype.format(**groups)
        if rtype:
            facts.setdefault("resource_type", rtype)
    if not signal:
        return None

    if facts.get("resource_type") == "dynamodb:table" and (m := _DDB_TABLE_NAME.search(text)):
        facts.setdefault("resource", m["name"])
    if "resource_type" not in facts and ctx.operation:
        for fragment, rtype in _OPERATION_RESOURCE_TYPES:
            if fragment in ctx.operation:
                facts["resource_type"] = rtype
                break
    notes.append(
        "Most 'not found' errors on a resource that does exist come from looking in the wrong place: "
        "check the region and account the caller used (aws sts get-caller-identity, AWS_REGION), "
        "and any alias or version qualifier."
    )
    if str(facts.get("resource_type", "")).startswith("lambda:function"):
        notes.append("Lambda functions are regional: aws lambda get-function --function-name NAME --region REGION.")
    return found


# --- database out of connections --------------------------------------------

# (engine, pattern, note).  Engine None: only the surrounding text can tell.
_DB_CONNECTION_RX = (
    ("postgres", re.compile(r"sorry,\s+too\s+many\s+clients\s+already", re.I), None),
    # PostgreSQL up to 15 / 16+ / the PG16 pg_use_reserved_connections variant.
    ("postgres", re.compile(r"remaining\s+connection\s+slots\s+are\s+reserved\s+for", re.I), None),
    ("postgres", re.compile(r"too\s+many\s+connections\s+for\s+(?:role|database)\b", re.I),
     "A per-role or per-database CONNECTION LIMIT was reached (ALTER ROLE ... CONNECTION LIMIT), not max_connections."),
    ("postgres", re.compile(r"SQLSTATE\s*[\[(]?53300"), None),
    ("postgres", re.compile(r"no more connections allowed \(max_client_conn\)"),
     "PgBouncer's own max_client_conn was reached, before the database."),
    # RDS Proxy, PostgreSQL side (rds-proxy.troubleshooting).
    ("postgres", re.compile(r"The maximum number of client connections to the proxy exceeded"),
     "RDS Proxy rejected the client: its client connection limit was reached."),
    ("postgres", re.compile(r"Rate of connection to proxy exceeded"),
     "RDS Proxy rejected the client: connection rate limit exceeded."),
    # MySQL: "ERROR 1040 (HY000): Too many connections", "(1040, 'Too many connections')",
    # "Error 1040: Too many connections" (Go), "ER_CON_COUNT_ERROR" (Node).
    ("mysql", re.compile(r"\b1040\b[^\n]{0,40}?Too many connections|ER_CON_COUNT_ERROR", re.I), None),
    # RDS Proxy, MySQL side: the proxy reuses error 1040 for its own limits.
    ("mysql", re.compile(r"\b1040\b[^\n]{0,20}?(?:Connections rate limit exceeded|Number simultaneous connections exceeded)"),
     "RDS Proxy rejected the client: its own connection limit or rate was exceeded."),
    ("mysql", re.compile(r"max_user_connections"),
     "The MySQL account's max_user_connections limit was reached, not the server's max_connections."),
    # RDS Proxy could not borrow a database connection within ConnectionBorrowTimeout
    # (MySQL side prefixes "ERROR 9501 (HY000):").
    (None, re.compile(r"Timed-out waiting to acquire database connection"),
     "RDS Proxy timed out borrowing a database connection: the pool (max_connections x MaxConnectionsPercent) "
     "is exhausted, often by pinned sessions; see DatabaseConnectionsBorrowLatency and "
     "DatabaseConnectionsCurrentlySessionPinned."),
    (None, re.compile(r"\bToo many connections\b"), None),
)

_ENGINE_EVIDENCE = (
    ("postgres", re.compile(r"postgres|psycopg|asyncpg|\bpgx?\b|libpq|:5432\b|port 5432|\bFATAL:|SQLSTATE\s*[\[(]?53300", re.I)),
    ("mysql", re.compile(r"mysql|mariadb|pymysql|\b1040\b|\bHY000\b|:3306\b|port 3306|ERROR 9501", re.I)),
)

# The error number or SQLSTATE as the client printed it: "ERROR 1040 (HY000)",
# "(1040, 'Too many connections')", "[1040]", "(SQLSTATE 53300)".
_DB_ERROR_NUMBER = re.compile(
    r"(?:\bERROR\s+|\bError\s+|\(|\[)(?P<code>1040|1203|1226|9501)\b|SQLSTATE\s*[\[(=]?(?P<sqlstate>53300)\b"
)


def _db_too_many_connections(text: str, ctx: _Context) -> _Finding | None:
    engine = None
    notes: list[str] = []
    matched = False
    for rx_engine, rx, note in _DB_CONNECTION_RX:
        if rx.search(text):
            matched = True
            engine = engine or rx_engine
            if note and note not in notes:
                notes.append(note)
    if not matched:
        return None
    found = _Finding(DB_TOO_MANY_CONNECTIONS, notes=notes)
    if engine is None:
        engine = next((name for name, rx in _ENGINE_EVIDENCE if rx.search(text)), None)
    if engine:
        found.facts["db_engine"] = engine
    if m := _DB_ERROR_NUMBER.search(text):
        found.facts["error_code"] = m["code"] or m["sqlstate"]
    default = {
        "postgres": "LEAST({DBInstanceClassMemory/9531392},5000)",
        "mysql": "{DBInstanceClassMemory/12582880}",
    }.get(engine or "")
    notes.append(
        "The database ran out of connection slots. Compare the DatabaseConnections metric with "
        "max_connections" + (f" (RDS default {default})" if default else "") + "; bursts of Lambda "
        "concurrency without RDS Proxy, or connections leaked by a pool, are the usual causes."
    )
    return found


# --- Lambda timeout -----------------------------------------------------------

_LAMBDA_TIMEOUT_RX = {
    # "Task timed out after 3.00 seconds" (log line and errorMessage)
    "seconds": re.compile(r"Task timed out after (?P<seconds>\d+(?:\.\d+)?) seconds"),
    # The console's post-mortem wording: "Task timed out after 15:00 minutes"
    "minutes": re.compile(r"Task timed out after (?P<minutes>\d+):(?P<seconds>\d{2}(?:\.\d+)?) minutes"),
    # {"errorType": "Sandbox.Timedout", ...} from the 2023+ runtimes
    "sandbox": re.compile(r"Sandbox\.Timedout"),
    # A line ending a timed-out invocation (checked for REPORT / INIT_REPORT):
    #   REPORT RequestId: ... Duration: 3000.00 ms ... Status: timeout
    #   INIT_REPORT Init Duration: 10000.00 ms Phase: init Status: timeout
    "status_line": re.compile(r"^[^\n]*Status:\s*timeout\b[^\n]*", re.M | re.I),
}
# Applied to the REPORT line only; not "Billed Duration" or "Init Duration".
_REPORT_DURATION = re.compile(r"(?<!Billed )(?<!Init )\bDuration:\s*(?P<ms>\d+(?:\.\d+)?)\s*ms")


def _lambda_timeout(text: str, ctx: _Context) -> _Finding | None:
    rx = _LAMBDA_TIMEOUT_RX
    found = _Finding(LAMBDA_TIMEOUT)
    facts, notes = found.facts, found.notes
    if m := rx["seconds"].search(text):
        facts["timeout_s"] = float(m["seconds"])
    elif m := rx["minutes"].search(text):
        facts["timeout_s"] = int(m["minutes"]) * 60 + float(m["seconds"])
    status_lines = [m.group(0) for m in rx["status_line"].finditer(ctx.lines)]
    init = any("INIT_REPORT" in line for line in status_lines)
    report = any("REPORT" in line for line in status_lines)
    if "timeout_s" not in facts and not (rx["sandbox"].search(text) or report):
        return None
    if ctx.error_code == "Sandbox.Timedout":
        facts["error_code"] = ctx.error_code

    timeout = facts.get("timeout_s")
    if init:
        notes.append(
            "The function timed out during init (outside the handler): the init phase has its own "
            "10-second limit for on-demand functions; move slow setup into the handler or use "
            "provisioned concurrency / SnapStart."
        )
    report_line = next((line for line in status_lines if "REPORT" in line and "INIT_REPORT" not in line), "")
    if timeout is None and (m := _REPORT_DURATION.search(report_line)):
        notes.append(f"The REPORT line shows it ran {m['ms']} ms before Lambda stopped it (about the configured timeout).")
    if isinstance(timeout, float) and timeout >= 899.0:
        notes.append(
            "15 minutes is Lambda's hard maximum: the work has to get faster or be split "
            "(batches, Step Functions, ECS/Fargate for long jobs)."
        )
    elif timeout == 3.0:
        notes.append("3 seconds is the default timeout for new functions: it may simply never have been raised.")
    notes.append(
        "A function in a VPC whose subnets have no NAT route hangs on any call to an AWS API or the "
        "internet until it times out; check that before raising the timeout."
    )
    return found


# ---------------------------------------------------------------------------
# Facts any family may carry: Lambda function names, request id, account
# ---------------------------------------------------------------------------

_FUNCTION_ARN = re.compile(
    r"arn:[a-z0-9-]+:lambda:[a-z0-9-]+:(?P<account>\d+):function:(?P<name>[A-Za-z0-9_-]+)(?::[A-Za-z0-9_$-]+)?"
)
# /aws/lambda/NAME, or /aws/lambda/us-east-1.NAME for Lambda@Edge replicas.
_LOG_GROUP = re.compile(r"/aws/lambda/(?:[a-z]{2}(?:-[a-z]+)+-\d\.)?(?P<name>[A-Za-z0-9_-]+)")


def _common_facts(text: str, ctx: _Context, facts: dict[str, object]) -> None:
    if m := _FUNCTION_ARN.search(text):
        facts.setdefault("function_arn", _clean_arn(m.group(0)))
        facts.setdefault("function", m["name"])
    elif m := _LOG_GROUP.search(text):
        facts.setdefault("function", m["name"])
    if ctx.request_id:
        facts.setdefault("request_id", ctx.request_id)
    if ctx.operation:
        facts.setdefault("operation", ctx.operation)
    if "account" not in facts:
        for key in ("function_arn", "resource"):
            account = _account_from_arn(str(facts.get(key, "")))
            if account:
                facts["account"] = account
                break
    if "resource_type" not in facts and "resource" in facts:
        rtype = _resource_type_from_arn(str(facts["resource"]))
        if rtype:
            facts["resource_type"] = rtype


def _derive_action(text: str, ctx: _Context, facts: dict[str, object], notes: list[str]) -> None:
    """Name the IAM action from the API operation when the message did not."""
    if "action" in facts or not ctx.operation:
        return
    # Which service answered, from the most to the least direct evidence.
    service = (
        ctx.service  # the SDK said so (Go, Java, CloudTrail)
        or _OPERATION_SERVICES.get(ctx.operation)  # AssumeRole is STS's whatever the resource
        or ("ec2" if (ctx.error_code or "").endswith("UnauthorizedOperation") else None)  # only EC2 says it
        or _service_from_facts(facts)
        or ("lambda" if _LAMBDA_WORDING.search(text) else None)
    )
    action = _action_for(ctx.operation, service)
    if action:
        facts["action"] = action
        notes.append(f"action {action} was inferred from the {ctx.operation} operation; the message did not name it.")


def _service_from_facts(facts: dict[str, object]) -> str | None:
    """The service of the resource or function ARN, or of the resource type
    (types are "service:type" and came from service-specific wording:
    "Requested resource not found" is DynamoDB's, NoSuchKey is S3's)."""
    for key in ("resource", "function_arn"):
        fields = _arn_fields(str(facts.get(key, "")))
        if fields and fields[1]:
            return fields[1]
    rtype = str(facts.get("resource_type", ""))
    return rtype.split(":", 1)[0] if ":" in rtype else None


# ---------------------------------------------------------------------------
# Text that looks like an access problem but is not AWS
# ---------------------------------------------------------------------------

# (pattern, hint).  These make the answer kind None with a hint, and they
# also veto weak AWS signals (a bare "Access Denied", a "...NotFound" code)
# when nothing in the text is AWS-specific.
_NOT_AWS = (
    (re.compile(r"PERMISSION_DENIED|Permission '[\w.]+' denied|googleapis\.com|\bgcloud\b"),
     "This is a Google Cloud IAM error, not AWS."),
    (re.compile(r"\bAuthorizationFailed\b|does not have authorization to perform action"
                r"|Microsoft\.\w+/|/subscriptions/"),
     "This is an Azure RBAC error, not AWS."),
    (re.compile(r"Error from server \(Forbidden\)|system:serviceaccount:"
                r"|\bcannot (?:get|list|watch|create|update|patch|delete) resource\b"),
     "This is a Kubernetes RBAC error: check the Role/ClusterRole bindings (on EKS, also the access entry "
     "or aws-auth mapping of the IAM principal)."),
    (re.compile(r"ERROR 1045 \(28000\)|Access denied for user '"),
     "This is a MySQL login failure (user, password or host), not IAM."),
    (re.compile(r"<title>403 Forbidden</title>|<center>nginx</center>"),
     "This is a web server's 403 page, not an AWS API error."),
    (re.compile(r"[Pp]ermission denied(?: \(publickey[^)]*\))?\.?$|: Permission denied\b|EACCES"
                r"|java\.nio\.file\.AccessDeniedException", re.M),
     "This is an operating-system permission error (file mode, owner or SSH key), not IAM."),
)

_AWS_MARKERS = re.compile(
    r"arn:aws|amazonaws\.com|when calling the \w+ operation|x-amzn?-|\bAWS\b|\(Service: |operation error \w"
    r"|is not authori[sz]ed to perform:|Task timed out after|Sandbox\.Timedout|/aws/lambda/"
)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

_FAMILIES = (
    (ACCESS_DENIED, _access_denied),
    (RESOURCE_NOT_FOUND, _resource_not_found),
    (DB_TOO_MANY_CONNECTIONS, _db_too_many_connections),
    (LAMBDA_TIMEOUT, _lambda_timeout),
)


def parse_error(text: str) -> ParsedError:
    """Understand a pasted error message.  Never raises."""
    try:
        return _parse(_bounded(_coerce(text)))
    except Exception as exc:  # pragma: no cover - last line of defence, the fuzz test keeps it unused
        note = f"internal error while parsing the message ({type(exc).__name__}); please report it"
        return ParsedError(None, {}, [note])


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
    result, unsure, hard_wrapped = _parse_reading(raw, glue_unsure=False)
    if unsure:
        # Some line broke between two non-spaces and no rule could say whether
        # a terminal cut a token there or an editor wrapped at a space the copy
        # trimmed.  Read it both ways and keep the reading that understood
        # more; on a tie, trust the line lengths.
        glued, _, _ = _parse_reading(raw, glue_unsure=True)
        if _score(glued) > _score(result) or (hard_wrapped and _score(glued) == _score(result)):
            result = glued
    return result


def _score(result: ParsedError) -> tuple[bool, int]:
    return result.kind is not None, len(result.facts)


def _parse_reading(raw: str, glue_unsure: bool) -> tuple[ParsedError, int, bool]:
    """One reading of the paste: (result, undecided line breaks, hard-wrapped?)."""
    clean, lines, unsure, hard_wrapped = _normalise(raw, glue_unsure)
    result = _understand(clean, lines)
    result.text = lines
    return result, unsure, hard_wrapped


def _understand(clean: str, lines: str) -> ParsedError:
    # Phrase patterns run on the text with every run of whitespace made one
    # space: a newline (or two spaces, or a tab) can sit anywhere a space was.
    text = " ".join(lines.split())
    ctx = _context(clean, lines, text)

    foreign = [hint for rx, hint in _NOT_AWS if rx.search(lines)]
    if foreign and not _AWS_MARKERS.search(text):
        # Another cloud's or system's error: even a weak AWS-looking signal in
        # it (a "...NotFound" code, "Access Denied") is not ours to explain.
        return ParsedError(None, {}, foreign)

    findings = {kind: f for kind, detect in _FAMILIES if (f := detect(text, ctx)) is not None}

    kind = next((k for k in _KIND_PRIORITY if k in findings), None)
    result = ParsedError(kind)
    facts, notes = result.facts, result.notes
    if kind is None:
        notes.extend(foreign)
        if ctx.error_code and ctx.code_source == "aws":
            facts["error_code"] = ctx.error_code
        if ctx.operation or ctx.error_code:
            _common_facts(text, ctx, facts)
            _derive_action(text, ctx, facts, notes)
        _field_facts(text, facts)
        return result

    # The winning family's facts first; others add what they know
    # (a Lambda timeout next to a database error still gives timeout_s).
    for k in _KIND_PRIORITY:
        if k in findings:
            for key, value in findings[k].facts.items():
                facts.setdefault(key, value)
    notes.extend(findings[kind].notes)
    for k in _KIND_PRIORITY:
        if k in findings and k != kind:
            notes.append(f"The text also shows signs of {k}.")
    if ctx.error_code and ctx.code_source == "aws":
        facts.setdefault("error_code", ctx.error_code)
    _common_facts(text, ctx, facts)
    _derive_action(text, ctx, facts, notes)
    _field_facts(text, facts)
    return result


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
    """Generic fields the family parsers miss in real pastes: a function ARN
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
