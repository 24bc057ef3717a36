"""YAML loading that remembers where every key and item came from, so that
playbook errors can name file:line. Duplicate keys are errors, not silent
overwrites."""
from __future__ import annotations

from typing import Any, Iterable

import yaml

from .errors import PlaybookError, Problem

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocatedDict(dict):
    line: int = 0
    key_lines: dict


class LocatedList(list):
    line: int = 0
    item_lines: list


class _Loader(_Base):  # type: ignore[misc, valid-type]
    problems: list[Problem]
    filename: str


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    out = LocatedDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, (str, int, float, bool)) or key is None:
            loader.problems.append(Problem(loader.filename, line, "a mapping key must be a plain string"))
            continue
        if key in out:
            loader.problems.append(Problem(
                loader.filename, line,
                f"duplicate key {key!r} (first defined on line {out.key_lines[key]})",
                "YAML would silently keep only the last one; merge or rename them"))
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    out = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# Bounds that keep a hostile file (a "billion laughs" alias bomb, 50,000
# nested brackets) from taking a gigabyte, minutes or a segfault: checked on
# the parser's event stream before anything is composed or constructed.
MAX_DEPTH = 100                # nesting of mappings and lists; real playbooks stay under 20
MAX_PLAYBOOK_BYTES = 256 << 10  # a playbook file: 10x the largest shipped one (~22 KB)


def max_expanded(text: str) -> int:
    """How big the document may grow with its aliases expanded, in values plus
    characters: about the text itself (a document without aliases), plus a
    margin for ordinary anchors."""
    return 2 * len(text) + 100_000


def _check_bounds(text: str, filename: str) -> None:
    """Raise PlaybookError (file:line) when the document nests deeper than
    MAX_DEPTH or its aliases expand it beyond max_expanded(text). One pass over
    libyaml's events, without building anything: linear in the text."""
    limit = max_expanded(text)
    sizes: dict[str, int] = {}           # anchor -> expanded size of what it names
    stack: list[list] = []               # open collections: [expanded size, anchor]
    expanded = 0                         # the whole document's expanded size so far
    probe = _Base(text)
    try:
        while probe.check_event():
            event = probe.get_event()
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                stack.append([1, event.anchor])
                expanded += 1
                if len(stack) > MAX_DEPTH:
                    raise PlaybookError([Problem(filename, line, f"YAML nests deeper than {MAX_DEPTH} levels",
                                                 "a playbook is a few levels of mappings and lists; "
                                                 "flatten this structure")])
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                size, anchor = stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                size, anchor = 1 + len(event.value), event.anchor
                expanded += size
            elif isinstance(event, yaml.AliasEvent):
                size, anchor = sizes.get(event.anchor, 1), None
                expanded += size
                if expanded > limit:
                    raise PlaybookError([Problem(
                        filename, line,
                        f"YAML alias *{event.anchor} makes the document expand beyond {limit:,} values and "
                        f"characters (an alias bomb?)",
                        "write the values out, or use fewer aliases of large anchors")])
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            if stack:
                stack[-1][0] += size
    except yaml.YAMLError as exc:
        # PyYAML >= 6.0.4 has a nesting limit of its own, met while it reads
        # ahead: the same problem, said the same way.
        if "maximum nesting depth" in str(exc):
            mark = getattr(exc, "problem_mark", None)
            raise PlaybookError([Problem(filename, mark.line + 1 if mark else None,
                                         f"YAML nests deeper than {MAX_DEPTH} levels",
                                         "a playbook is a few levels of mappings and lists; "
                                         "flatten this structure")]) from None
        return  # the real load reports syntax errors with their line and hint
    finally:
        probe.dispose()


def load(text: str, filename: str) -> Any:
    """Parse YAML text; raise PlaybookError (with line) on syntax or duplicate-key problems."""
    _check_bounds(text, filename)
    loader = _Loader(text)
    loader.problems = []
    loader.filename = filename
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        hint = "check indentation and quoting on this line"
        if "\t" in text:
            hint = "YAML forbids tab characters for indentation; use spaces"
        elif "mapping values are not allowed" in msg:
            hint = "a value that contains ': ' must be quoted: wrap the whole expression in double quotes"
        elif "could not determine a constructor for the tag '!" in msg:
            hint = "a value that starts with ! is read as a YAML tag: quote it, e.g. when: \"!(a.b)\""
        elif "found character '`'" in msg or "found character '@'" in msg:
            hint = "a value that starts with ` or @ must be quoted: wrap the whole expression in quotes"
        elif "found undefined alias" in msg or "expected alphabetic or numeric character" in msg:
            hint = "'*' and '&' start YAML aliases/anchors; quote the value"
        raise PlaybookError([Problem(filename, line, f"YAML syntax error: {msg}", hint)]) from None
    except yaml.YAMLError as exc:
        raise PlaybookError([Problem(filename, None, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise PlaybookError(loader.problems)
    return data


def line_of(root: Any, path: Iterable[Any]) -> int | None:
    """The line of the deepest node along `path` that exists (keys and indexes)."""
    node, line = root, getattr(root, "line", None)
    for part in path:
        if isinstance(node, LocatedDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LocatedList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line
