"""Placeholder parsing and rendering of templates (SPEC §7), pure: no vault, no file, no CLI.

A template is an env file. Each entry is one of: blank/comment text, an assignment
`[export ]KEY=value [# comment]`, or a line that is neither (kept verbatim, reported by
`template:validate`). The entries and their values come from python-dotenv's own parser
(`dotenv.parser.parse_stream`, the one `dotenv_values` uses) - keep has no dotenv grammar of
its own - so a template's statics mean exactly what the installed python-dotenv makes of them,
whatever its version (1.2.4 reads `KEY=  # note` as empty, 1.2.2 as `# note`).

A placeholder is `{VAULT}` or `{VAULT:KEY[.field]}` where VAULT is a *configured* vault slug;
it is looked for only inside assignment values, never in comments or keys, and `${…}` is
never one. Unlike Keep (its §12.3), the short form means the same everywhere (the line's own
key in that vault), several placeholders may share a value, `export` lines and CRLF work, and
missing-line numbers are the entry's own line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .formats.dotenv import quote_env_value, reads_back
from .model import UsageError
from .names import KEY_RE, SLUG_RE

if TYPE_CHECKING:
    from dotenv.parser import Binding

MISSING_STRATEGIES = ("fail", "remove", "blank", "skip")

_EOL = re.compile(r"\r\n|\n|\r")
_EOL_AT_END = re.compile(r"(?:\r\n|\n|\r)\Z")
_LEADING_SPACE = re.compile(r"\s*")
# Layout only (where the value starts, to re-write it): python-dotenv has decided already that
# the entry is an assignment and what its key and value are.
_HEAD = re.compile(
    r"[^\S\r\n]*(?:export[^\S\r\n]+)?(?:'[^']+'|[^=#\s]+)[^\S\r\n]*=[^\S\r\n]*"
)
# `(?<!\$)`: `${VAR}` is shell/dotenv interpolation, never ours
_KEYISH = re.compile(r"[A-Za-z0-9_-]+(?:\.[^\s{}]+)?")
_BRACES = re.compile(r"(?<!\$)\{([a-z0-9][a-z0-9_-]*)(?::([^{}\r\n]*))?\}")


@dataclass(frozen=True)
class Placeholder:
    text: str  # as written, e.g. "{ssm:DB.password}"
    vault: str
    key: str
    field: str | None
    start: int  # offset in the entry's decoded value
    end: int
    problem: str | None = None  # set when the placeholder cannot be used at all

    @property
    def ref(self) -> tuple[str, str]:
        return (self.vault, self.key)


@dataclass
class Entry:
    """One logical template entry (a line, or several for a multi-line quoted value)."""

    line: int  # 1-based line number where it starts
    raw: str  # exactly as in the template, without its line ending
    eol: str
    kind: str  # "blank", "comment", "assignment", "other"
    key: str = ""
    head: str = ""  # everything before the value: indentation, `export `, key, `=`, spaces
    quote: str = ""  # "", "'" or '"'
    value: str = ""  # decoded, as python-dotenv reads it
    tail: str = ""  # whitespace and comment after the value
    placeholders: list[Placeholder] = field(default_factory=list)
    problem: str | None = None  # why an "other" line is not an assignment


@dataclass
class Template:
    entries: list[Entry]
    eol: str  # the template's line ending, used for lines we add
    unknown: list[tuple[int, str]] = field(default_factory=list)  # brace text naming no vault
    #: (line, what) of placeholders that are not quite placeholders: `{local:KEY` without its
    #: closing brace, `{local:` at the end, a stray `}` right after `{local:KEY}`
    malformed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def assignments(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "assignment"]

    @property
    def placeholders(self) -> list[tuple[Entry, Placeholder]]:
        return [(e, p) for e in self.assignments for p in e.placeholders]

    def vaults(self) -> list[str]:
        """Vault slugs referenced by placeholders, in order of first appearance."""
        return list(dict.fromkeys(p.vault for _, p in self.placeholders if p.problem is None))

    def refs(self) -> set[tuple[str, str]]:
        return {p.ref for _, p in self.placeholders if p.problem is None}


def _find_placeholders(
    value: str, own_key: str, vaults: Collection[str], line: int, unknown: list[tuple[int, str]]
) -> list[Placeholder]:
    found: list[Placeholder] = []
    for match in _BRACES.finditer(value):
        slug, path = match.group(1), match.group(2)
        if slug not in vaults or not SLUG_RE.fullmatch(slug):
            # `{ssn:DB_PASSWORD}` is probably a typo worth a warning; `{note:see the docs}` is text
            if path is not None and _KEYISH.fullmatch(path):
                unknown.append((line, match.group(0)))
            continue
        problem = None
        key, fld = own_key, None
        if path is not None:
            key, dot, rest = path.partition(".")
            fld = rest if dot else None
            if "|" in path:
                problem = "placeholder attributes (|…) are not supported"
            elif not KEY_RE.fullmatch(key) or key.startswith("-"):
                problem = f"invalid key {key!r} (use 1-255 characters of A-Z a-z 0-9 _ -)"
            elif dot and not rest:
                problem = "empty field name after '.'"
        elif not KEY_RE.fullmatch(own_key):
            problem = f"short form needs the line's key to be a valid secret key, not {own_key!r}"
        found.append(Placeholder(match.group(0), slug, key, fld, match.start(), match.end(), problem))
    return found


def _malformed(value: str, vaults: Collection[str], found: list[Placeholder]) -> list[str]:
    """What looks like a placeholder of a configured vault but is left as text."""
    out: list[str] = []
    taken = [(p.start, p.end) for p in found]
    for match in _OPENING.finditer(value):
        if match.group(1) not in vaults or any(start <= match.start() < end for start, end in taken):
            continue
        rest = value[match.end():]
        close, reopen = rest.find("}"), rest.find("{")
        if close == -1 or (reopen != -1 and reopen < close):
            fragment = value[match.start():match.end() + (len(rest) if reopen == -1 else reopen)]
            shown = fragment if len(fragment) <= 40 else fragment[:37] + "..."
            out.append(f"unterminated placeholder {shown!r} (no closing '}}'): left as text")
    for p in found:
        if value[p.end:p.end + 1] == "}":
            out.append(f"stray '}}' after {p.text}: the value gets a literal '}}'")
    return out


_OPENING = re.compile(r"(?<!\$)\{([a-z0-9][a-z0-9_-]*)(?=:|$|[^a-z0-9_-])")


def parse(text: str, vaults: Collection[str]) -> Template:
    """Parse template `text`; `vaults` are the configured slugs (only those make placeholders).

    python-dotenv's parser splits the text into bindings; each binding becomes its blank
    lines plus one entry, so every byte of the template stays in exactly one entry."""
    from dotenv.parser import parse_stream

    text = text.removeprefix("\ufeff")  # a BOM is not part of the first key
    first_eol = _EOL.search(text)
    template = Template(entries=[], eol=first_eol.group(0) if first_eol else "\n")
    spans: list[list[int]] = []
    bindings: list[Binding] = []
    pos = 0
    for binding in parse_stream(io.StringIO(text)):
        start, end = pos, pos + len(binding.original.string)
        if spans and text[start - 1: start + 1] == "\r\n":
            # a line python-dotenv could not read ends at the CR of its CRLF
            spans[-1][1] += 1
            start += 1
        spans.append([start, end])
        bindings.append(binding)
        pos = end
    line = 1
    for (start, end), binding in zip(spans, bindings, strict=True):
        chunk = text[start:end]
        blank = _LEADING_SPACE.match(chunk)
        assert blank is not None
        breaks = list(_EOL.finditer(blank.group(0)))
        cut = breaks[-1].end() if breaks else 0
        previous = 0
        for brk in breaks:
            template.entries.append(Entry(line, chunk[previous: brk.start()], brk.group(0), "blank"))
            previous = brk.end()
            line += 1
        body = chunk[cut:]
        if body:
            entry = _entry(body, line, binding)
            if entry.kind == "assignment":
                entry.placeholders = _find_placeholders(entry.value, entry.key, vaults, line, template.unknown)
                template.malformed.extend((line, what) for what in _malformed(entry.value, vaults, entry.placeholders))
            template.entries.append(entry)
            line += len(_EOL.findall(body))
    return template


def _entry(body: str, line: int, binding: Binding) -> Entry:
    """One entry from a binding's text (without the blank lines before it)."""
    eol_match = _EOL_AT_END.search(body)
    eol = eol_match.group(0) if eol_match else ""
    raw = body[: len(body) - len(eol)]
    if binding.error:
        return Entry(line, raw, eol, "other", problem=_problem(raw))
    if binding.key is None:
        return Entry(line, raw, eol, "comment" if raw.strip() else "blank")
    if binding.value is None:
        return Entry(line, raw, eol, "other", problem="not a KEY=VALUE line (no '=')")
    head = _HEAD.match(raw)
    span = _value_span(raw, head.end(), binding.value) if head else None
    if head is None or span is None:
        return Entry(line, raw, eol, "other", problem="cannot locate the value python-dotenv read")
    value_end = span
    first = raw[head.end(): head.end() + 1]
    return Entry(
        line=line,
        raw=raw,
        eol=eol,
        kind="assignment",
        key=binding.key,
        head=raw[: head.end()],
        quote=first if first in ("'", '"') and value_end > head.end() else "",
        value=binding.value,
        tail=raw[value_end:],
    )


def _value_span(raw: str, start: int, value: str) -> int | None:
    """Where the value that starts at `start` ends, found by python-dotenv's own value parser.
    None when it does not read `value` there (python-dotenv's binding rules, e.g. 1.2.4's
    `KEY= # note` is empty, are checked against the whole binding's value)."""
    from dotenv.parser import Error, Reader, parse_value

    # a guard character first: python-dotenv >= 1.2.4 strips a leading BOM from its input
    reader = Reader(io.StringIO("=" + raw[start:]))
    reader.read(1)
    try:
        parsed = parse_value(reader)
    except Error:
        return None
    if parsed == value:
        if raw[start: start + 1] not in ("'", '"'):
            # an unquoted value is read as the rest of the line, then cut before its comment:
            # it is its own text, so it ends where that text does
            return start + len(value)
        return start + reader.position.chars - 1
    if value == "":
        return start  # the binding read an empty value where the value parser would not
    return None


def _problem(raw: str) -> str:
    """Why python-dotenv could not read `raw`, in words (for messages only)."""
    head = _HEAD.match(raw)
    if head is None:
        return "not a KEY=VALUE line"
    quote = raw[head.end(): head.end() + 1]
    if quote in ("'", '"'):
        if quote not in raw[head.end() + 1:]:
            return f"unterminated {quote} quote"
        return "unexpected text after the closing quote"
    return "not a KEY=VALUE line"


# -- resolving ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Missing:
    """A placeholder that could not be resolved, and why."""

    line: int
    placeholder: str
    reason: str

    def describe(self) -> str:
        return f"line {self.line}: {self.placeholder} ({self.reason})"


def field_value(secret_value: str, path: str) -> str:
    """The field `path` of a JSON-object secret; raises LookupError naming the reason.
    A field name may itself contain dots; otherwise dots descend into nested objects."""
    from .formats import jsontext  # numbers keep their spelling: `1.10` is not `1.1`

    try:
        data = jsontext.loads(secret_value)
    except ValueError:
        raise LookupError("the secret is not a JSON object") from None
    except RecursionError:
        raise LookupError("the JSON secret is nested too deeply") from None
    if not isinstance(data, dict):
        raise LookupError("the secret is not a JSON object")
    try:
        found = jsontext.field(data, path)
    except KeyError:
        raise LookupError(f"the JSON secret has no field '{path}'") from None
    if isinstance(found, str):
        return str(found)
    if found is None:
        return ""
    try:
        return jsontext.dumps(found, ", ", ": ")
    except RecursionError:
        raise LookupError("the JSON secret is nested too deeply") from None


Lookup = Callable[[str, str], str | None]


def _resolve_one(placeholder: Placeholder, lookup: Lookup, stage: str) -> str:
    """The placeholder's value; raises LookupError with the reason when it cannot be found."""
    if placeholder.problem:
        raise LookupError(placeholder.problem)
    value = lookup(placeholder.vault, placeholder.key)
    if value is None:
        raise LookupError(f"no secret {placeholder.key} in {placeholder.vault}:{stage}")
    if placeholder.field is not None:
        return field_value(value, placeholder.field)
    return value


def placeholder_value(placeholder: Placeholder, lookup: Lookup, stage: str) -> str | None:
    """What `placeholder` resolves to, or None when it does not resolve."""
    try:
        return _resolve_one(placeholder, lookup, stage)
    except LookupError:
        return None


@dataclass
class Rendered:
    """The result of resolving a template: values per assignment and what was missing."""

    template: Template
    values: dict[int, str | None]  # entry index -> rendered value; None = line removed
    changed: set[int]  # entry indexes whose placeholders were replaced (or blanked)
    missing: list[Missing]

    def mapping(self) -> dict[str, str]:
        """Statics and rendered values as KEY -> value (later duplicates win)."""
        out: dict[str, str] = {}
        for index, entry in enumerate(self.template.entries):
            if entry.kind != "assignment":
                continue
            value = self.values.get(index, entry.value)
            if value is not None:
                out[entry.key] = value
        return out

    def text(self) -> str:
        """The template with placeholders replaced, in env format: unchanged entries are
        copied byte for byte, changed ones re-quoted safely for the value they now hold."""
        parts: list[str] = []
        for index, entry in enumerate(self.template.entries):
            value = self.values.get(index, entry.value)
            if value is None:
                continue
            if index not in self.changed:
                parts.append(entry.raw + entry.eol)
                continue
            try:
                quoted = requote(entry, value)
            except UsageError as exc:
                raise UsageError(f"line {entry.line}: {entry.key}: {exc.message}", hint=exc.hint) from None
            parts.append(entry.head + quoted + entry.tail + entry.eol)
        return "".join(parts)


def requote(entry: Entry, value: str) -> str:
    """`value` spelled for `entry`'s line: the template's own quote style when it can hold the
    value exactly (so a double-quoted `${VAR}` beside a placeholder still interpolates), else
    quoted per §6.1 - each candidate proven by python-dotenv reading the whole line back (so
    `KEY={x}  # note` with an empty value becomes `KEY=''  # note`)."""

    def fits(form: str) -> bool:
        return reads_back(entry.head + form + entry.tail, entry.key, value)

    prefer = entry.quote
    if not value and entry.tail.strip():
        prefer = "'"  # python-dotenv < 1.2.4 reads `KEY=  # note` as the value "# note"
    return quote_env_value(value, prefer=prefer, fits=fits)


def resolve(template: Template, lookup: Lookup, stage: str, missing: str = "fail") -> Rendered:
    """Replace every placeholder using `lookup(vault, key) -> value or None`.

    `missing`: fail (collect every miss; the caller raises), remove (drop the entry),
    blank (`KEY=`), skip (leave the placeholder text)."""
    if missing not in MISSING_STRATEGIES:
        raise UsageError(f"Invalid --missing '{missing}' (use {', '.join(MISSING_STRATEGIES)})")
    values: dict[int, str | None] = {}
    changed: set[int] = set()
    misses: list[Missing] = []
    for index, entry in enumerate(template.entries):
        if entry.kind != "assignment" or not entry.placeholders:
            continue
        pieces: list[str] = []
        cursor = 0
        entry_missing = False
        for placeholder in entry.placeholders:
            pieces.append(entry.value[cursor: placeholder.start])
            try:
                pieces.append(_resolve_one(placeholder, lookup, stage))
            except LookupError as exc:
                entry_missing = True
                misses.append(Missing(entry.line, placeholder.text, str(exc.args[0])))
                pieces.append(placeholder.text)
            cursor = placeholder.end
        pieces.append(entry.value[cursor:])
        if not entry_missing:
            values[index] = "".join(pieces)
            changed.add(index)
        elif missing == "remove":
            values[index] = None
        elif missing == "blank":
            values[index] = ""
            changed.add(index)
        # "skip" and "fail": the entry stays as written (fail is raised by the caller)
    return Rendered(template, values, changed, misses)


def unreferenced(
    template: Template, secrets: Iterable[tuple[str, str]], defined_keys: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """(vault, key) pairs from `secrets` that no placeholder uses and no template line defines."""
    refs = template.refs()
    defined = set(defined_keys if defined_keys is not None else (e.key for e in template.assignments))
    return [(vault, key) for vault, key in secrets if (vault, key) not in refs and key not in defined]


def vault_lookup(cells: Mapping[str, Mapping[str, str]]) -> Lookup:
    """A lookup over {vault: {key: value}}."""

    def lookup(vault: str, key: str) -> str | None:
        return cells.get(vault, {}).get(key)

    return lookup
