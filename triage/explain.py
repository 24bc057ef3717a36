"""`triage explain "<pasted error>"`: understand an AWS error message and
route it to the playbook that diagnoses it, with the inputs the text gives.

Routing is data, scored: each playbook's `signals:` section holds weighted
patterns (error codes, phrases, services, HTTP status) and exclusions
(markers of other clouds and tools, resources that belong elsewhere); its
older `triggers:` still count, as strong signals. A playbook's score is the
sum of the weights of its signals found in the text; an exclusion takes it
out. The best playbook at or above the threshold wins, close runners-up are
named as alternatives, and nothing above it means "not an AWS error triage
knows". User playbooks take part exactly like shipped ones. Every pattern
runs on RE2 (triage.patterns): linear in the paste. Named groups in a
matched signal or trigger fill the input (or fact) of the same name.

The generic facts (principal, action, resource, function, region, ...)
come from triage.errortext; a fact fills the playbook input of the same name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import patterns
from .catalog import flag
from .errortext import derive, parse_error
from .sanitize import clean

THRESHOLD = 3.0          # a playbook's default minimum score
TRIGGER_WEIGHT = 3.0     # a matched `triggers:` pattern
CLOSE = 0.6              # a runner-up within this fraction of the best is shown

# Facts that feed an input of another name.
_FACT_FOR_INPUT = {
    "function": ("function", "function_arn"),
    "principal": ("principal",),
    "action": ("action",),
    "resource": ("resource",),
    "timeout_s": ("timeout_s",),
    "uuid": ("uuid",),
    "db": ("db",),
}


@dataclass
class Routing:
    routed_to: str | None
    extracted: dict
    inputs: dict
    missing: list[str]           # input names still needed
    reason: str
    notes: list[str] = field(default_factory=list)
    confidence: float = 0.0
    alternatives: list[dict] = field(default_factory=list)   # [{"playbook", "score", "confidence"}]

    def missing_flags(self) -> list[str]:
        return [flag(m) for m in self.missing]


@dataclass
class Signals:
    """One playbook's routing data, read from its `signals:` and `extract:` sections."""
    match: list = field(default_factory=list)     # (compiled, weight, label)
    exclude: list = field(default_factory=list)   # (compiled, reason)
    threshold: float = THRESHOLD
    extract: list = field(default_factory=list)   # (name, compiled, value template or None, type), in file order
    notes: list = field(default_factory=list)     # (compiled, note template): said when the playbook routes


_SIGNALS_CACHE: dict = {}


def _compiled(pattern: str):
    """A pattern on RE2 (linear in the text: no paste can make routing slow),
    case-insensitive, `.` matching newlines; None when RE2 cannot run it."""
    try:
        return patterns.compile(pattern, True, True)
    except patterns.PatternError:
        return None  # `triage validate` reports it with file:line; routing just skips it


def parse_signals(data: Any) -> Signals:
    """Signals from a playbook's `signals:` value (already validated, or not:
    anything malformed is skipped here and reported by `triage validate`)."""
    out = Signals()
    if not isinstance(data, dict):
        return out
    if isinstance(data.get("threshold"), (int, float)) and not isinstance(data.get("threshold"), bool):
        out.threshold = float(data["threshold"])
    for item in data.get("match") or []:
        if isinstance(item, str):
            item = {"pattern": item}
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str):
            continue
        rx = _compiled(item["pattern"])
        weight = item.get("weight", 1)
        if rx is not None and isinstance(weight, (int, float)) and not isinstance(weight, bool):
            out.match.append((rx, float(weight), str(item.get("kind") or "phrase")))
    for item in data.get("exclude") or []:
        if isinstance(item, str):
            item = {"pattern": item}
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str):
            continue
        rx = _compiled(item["pattern"])
        if rx is not None:
            out.exclude.append((rx, str(item.get("reason") or "excluded by its signals")))
    for item in data.get("notes") or []:
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str) or not isinstance(item.get("note"), str):
            continue
        rx = _compiled(item["pattern"])
        if rx is not None:
            out.notes.append((rx, item["note"]))
    return out


def parse_extract(data: Any, out: Signals) -> Signals:
    """A playbook's `extract:` section: for each input (or fact) name, rules
    tried in order; the first that matches gives the value: its `value`
    template over the named groups ("logs:{op}"), else the group named like
    the input, else the group `value`, else the whole match."""
    if not isinstance(data, dict):
        return out
    for name, rules in data.items():
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, str):
                rule = {"pattern": rule}
            if not isinstance(rule, dict) or not isinstance(rule.get("pattern"), str):
                continue
            rx = _compiled(rule["pattern"])
            template = rule.get("value")
            kind = rule.get("type") if rule.get("type") in ("number", "seconds") else None
            if rx is not None:
                out.extract.append((str(name), rx, template if isinstance(template, str) else None, kind))
    return out


def _extracted(sig: Signals, text: str) -> dict:
    """The values a playbook's `extract:` rules read from the text (first matching rule per name)."""
    out: dict[str, Any] = {}
    for name, rx, template, kind in sig.extract:
        if name in out:
            continue
        m = rx.search(text)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        if template is not None:
            try:
                value = template.format(**groups)
            except (KeyError, IndexError, ValueError):
                continue
        else:
            value = groups.get(name, groups.get("value", m.group(0)))
        if value not in (None, "") and kind:
            value = _seconds(value) if kind == "seconds" else _number(value)
        if value not in (None, ""):
            out[name] = value
    return out


def _seconds(value: str) -> Any:
    """"3.00" -> 3.0, "15:00" -> 900.0, "1:02:03" -> 3723.0 (a duration written [[h:]m:]s)."""
    try:
        total = 0.0
        for part in str(value).split(":"):
            total = total * 60 + float(part)
        return total
    except ValueError:
        return value


def _notes(sig: Signals, text: str, facts: dict) -> list[str]:
    """The playbook's `signals: notes:` whose pattern occurs, each filled from its named groups and the facts."""
    out = []
    for rx, template in sig.notes:
        m = rx.search(text)
        if not m:
            continue
        values = {**{k: v for k, v in facts.items() if isinstance(v, (str, int, float))},
                  **{k: v for k, v in m.groupdict().items() if v is not None}}
        try:
            note = template.format(**values)
        except (KeyError, IndexError, ValueError):
            continue
        if note not in out:
            out.append(note)
    return out


def signals_of(entry) -> Signals:
    """The signals of a catalog entry (its file read once per size and mtime)."""
    path = getattr(entry, "path", None)
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
    except (OSError, AttributeError):
        return Signals()
    hit = _SIGNALS_CACHE.get(key)
    if hit is None:
        from . import yamlsrc
        try:
            data = yamlsrc.load(path.read_text(encoding="utf-8"), str(path))
            hit = parse_signals(data.get("signals") if isinstance(data, dict) else None)
            hit = parse_extract(data.get("extract") if isinstance(data, dict) else None, hit)
        except Exception:  # an unreadable playbook routes on its triggers only
            hit = Signals()
        _SIGNALS_CACHE[key] = hit
    return hit


def _score(entry, text: str) -> tuple[float, list, list[str], str | None]:
    """(score, matches, labels, excluded-reason) of one playbook on the text."""
    sig = signals_of(entry)
    for rx, reason in sig.exclude:
        if rx.search(text):
            return 0.0, [], [], reason
    score, found, labels = 0.0, [], []
    for pattern in entry.triggers:
        rx = _compiled(pattern)
        m = rx.search(text) if rx else None
        if m:
            score += TRIGGER_WEIGHT
            found.append(m)
            labels.append("trigger")
    for rx, weight, label in sig.match:
        m = rx.search(text)
        if m:
            score += weight
            found.append(m)
            labels.append(label)
    return score, found, labels, None


def route(text: str, entries: dict) -> Routing:
    text = clean(text if isinstance(text, str) else str(text or ""))
    parsed = parse_error(text)
    facts = dict(parsed.facts)
    # Signals read the paste as pasted and as normalised (a wrap can cut a phrase in two).
    readings = [text] + [p.text for p in (parsed, parsed.alternative) if p is not None and p.text and p.text != text]
    text = patterns.searchable("\n".join(readings))
    scored, excluded = [], []
    for entry in entries.values():
        if entry.error:
            continue
        score, found, labels, why = _score(entry, text)
        if why:
            excluded.append(f"{entry.id}: {why}")
            continue
        if score > 0:
            scored.append((score, signals_of(entry).threshold, entry, found, labels))
    scored.sort(key=lambda s: s[0], reverse=True)
    above = [s for s in scored if s[0] >= s[1]]
    if not above:
        if excluded:
            reason = "not an AWS error triage knows (" + "; ".join(excluded) + ")"
        elif scored:
            best = scored[0]
            reason = (f"not an AWS error triage knows: the best match, {best[2].id}, scores {best[0]:g} "
                      f"of the {best[1]:g} it needs")
        else:
            reason = "not an AWS error triage knows: no playbook's signals occur in the text"
        notes = list(parsed.notes)
        if not excluded:
            derive(parsed, facts, notes)
        return Routing(None, facts if not excluded else {}, {}, [], reason, notes)
    score, _, entry, found, labels = above[0]
    second = above[1][0] if len(above) > 1 else 0.0
    confidence = round(score / (score + second + 1.0), 2)
    alternatives = [{"playbook": s[2].id, "score": s[0], "confidence": round(s[0] / (score + s[0] + 1.0), 2)}
                    for s in above[1:] if s[0] >= CLOSE * score]
    if parsed.alternative is not None:
        # A line break errortext could not decide: keep the reading this
        # playbook's rules read more from; a tie goes to the line lengths.
        def richness(p):
            return len(_extracted(signals_of(entry), patterns.searchable(p.text))) + len(p.facts)
        one, other = richness(parsed), richness(parsed.alternative)
        if other > one or (other == one and parsed.prefer_alternative):
            parsed = parsed.alternative
            facts = dict(parsed.facts)
    inputs: dict[str, Any] = {}
    # The playbook's own `extract:` rules, on the paste as errortext normalised it
    # (JSON unescaped, wrapped lines glued): more specific than the generic facts.
    normalised = patterns.searchable(parsed.text or text)
    for name, value in _extracted(signals_of(entry), normalised).items():
        facts[name] = value
        if name in entry.inputs:
            spec = entry.inputs[name]
            inputs[name] = [value] if spec.get("type") == "list" else _typed(value, spec)
    for m in found:
        for name, value in m.groupdict().items():
            if value is None:
                continue
            if name in entry.inputs:
                spec = entry.inputs[name]
                inputs[name] = [value] if spec.get("type") == "list" else _typed(value, spec)
            facts.setdefault(name, _number(value))
    # Another playbook above its threshold adds the facts it reads (a Lambda
    # timeout next to the database error that caused it still gives timeout_s), never inputs.
    for s in above[1:]:
        for name, value in _extracted(signals_of(s[2]), normalised).items():
            facts.setdefault(name, value)
        for m in s[3]:
            for name, value in m.groupdict().items():
                if value is not None:
                    facts.setdefault(name, _number(value))
    notes = list(parsed.notes)
    before = set(facts)
    derive(parsed, facts, notes)   # generic: role behind a session, resource type, account, action from the operation
    for name in before - set(facts):   # a fact derive ruled out ("User is not authorized": no principal named)
        inputs.pop(name, None)
    notes += [n for n in _notes(signals_of(entry), normalised, facts) if n not in notes]
    for name, spec in entry.inputs.items():
        if name in inputs:
            continue
        for fact in _FACT_FOR_INPUT.get(name, (name,)):
            if facts.get(fact) not in (None, ""):
                value = facts[fact]
                inputs[name] = [value] if spec.get("type") == "list" and not isinstance(value, list) else value
                break
    inputs = {name: inputs[name] for name in entry.inputs if name in inputs}   # the playbook's order
    missing = [name for name, spec in entry.inputs.items() if spec.get("required") and name not in inputs]
    kinds = ", ".join(sorted(set(labels)))
    reason = f"matched {len(found)} signal(s) of {entry.id} ({kinds}; score {score:g})"
    for alt in alternatives:
        notes.append(f"also matches {alt['playbook']} (score {alt['score']:g})")
    close = {alt["playbook"] for alt in alternatives}
    notes += [f"The text also shows signs of {s[2].id} (score {s[0]:g})." for s in above[1:] if s[2].id not in close]
    return Routing(entry.id, facts, inputs, missing, reason, notes, confidence, alternatives)


def _typed(value: str, spec: dict) -> Any:
    return _number(value) if spec.get("type") in ("integer", "number") else value


def _number(value: str) -> Any:
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value
