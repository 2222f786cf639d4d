"""Template parsing and rendering (SPEC §7), pure: no vault, no file, no CLI.

A template is an env file. Each entry is one of: blank/comment text, an assignment
`[export ]KEY=value [# comment]`, or a line that is neither (kept verbatim, reported by
`template:validate`). Values follow python-dotenv's grammar (unquoted, '…', "…" with escapes,
quoted values may span lines), so a template's statics mean what a dotenv reader would make
of them.

A placeholder is `{VAULT}` or `{VAULT:KEY[.field]}` where VAULT is a *configured* vault slug;
it is looked for only inside assignment values, never in comments or keys, and `${…}` is
never one. Unlike Keep (its §12.3), the short form means the same everywhere (the line's own
key in that vault), several placeholders may share a value, `export` lines and CRLF work, and
missing-line numbers are the entry's own line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .formats.dotenv import fits_double_quotes, fits_single_quotes, quote_double, quote_env_value
from .model import UsageError
from .names import KEY_RE, SLUG_RE

MISSING_STRATEGIES = ("fail", "remove", "blank", "skip")

_EOL = re.compile(r"\r\n|\n|\r")
# `[^\S\r\n]` = any whitespace but a line break, as python-dotenv has it
_HEAD = re.compile(
    r"(?P<lead>[^\S\r\n]*)(?P<export>export[^\S\r\n]+)?(?P<key>[A-Za-z0-9_.-]+)"
    r"(?P<mid>[^\S\r\n]*=[^\S\r\n]*)"
)
_SINGLE = re.compile(r"'((?:\\'|[^'])*)'")
_DOUBLE = re.compile(r'"((?:\\"|[^"])*)"')
_TAIL = re.compile(r"[^\S\r\n]*(?:#[^\r\n]*)?[^\S\r\n]*")
_REST = re.compile(r"[^\r\n]*")
_EOL_AT = re.compile(r"\r\n|\n|\r|$")
_UNQUOTED_COMMENT = re.compile(r"\s+#")
_DOUBLE_ESCAPE = re.compile(r"\\[\\'\"abfnrtv]")
_SINGLE_ESCAPE = re.compile(r"\\[\\']")
_DOUBLE_DECODED = {
    "\\\\": "\\", "\\'": "'", '\\"': '"', "\\a": "\a", "\\b": "\b",
    "\\f": "\f", "\\n": "\n", "\\r": "\r", "\\t": "\t", "\\v": "\v",
}
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
    lead: str = ""
    export: str = ""
    key: str = ""
    mid: str = ""
    quote: str = ""  # "", "'" or '"'
    value: str = ""  # decoded (dotenv semantics)
    tail: str = ""  # whitespace and comment after the value
    placeholders: list[Placeholder] = field(default_factory=list)
    problem: str | None = None  # why an "other" line is not an assignment


@dataclass
class Template:
    entries: list[Entry]
    eol: str  # the template's line ending, used for lines we add
    unknown: list[tuple[int, str]] = field(default_factory=list)  # brace text naming no vault

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


def decode_value(quote: str, inner: str) -> str:
    if quote == '"':
        return _DOUBLE_ESCAPE.sub(lambda m: _DOUBLE_DECODED[m.group(0)], inner)
    if quote == "'":
        return _SINGLE_ESCAPE.sub(lambda m: m.group(0)[1], inner)
    return inner


def _split_unquoted(part: str) -> tuple[str, str]:
    """python-dotenv's rule: a `#` after whitespace starts a comment; the rest is stripped."""
    match = _UNQUOTED_COMMENT.search(part)
    value = (part[: match.start()] if match else part).rstrip()
    return value, part[len(value):]


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


def parse(text: str, vaults: Collection[str]) -> Template:
    """Parse template `text`; `vaults` are the configured slugs (only those make placeholders)."""
    first_eol = _EOL.search(text)
    template = Template(entries=[], eol=first_eol.group(0) if first_eol else "\n")
    pos, line = 0, 1
    while pos < len(text):
        entry, pos = _parse_entry(text, pos, line, vaults, template.unknown)
        template.entries.append(entry)
        line += len(_EOL.findall(entry.raw)) + (1 if entry.eol else 0)
    return template


def _parse_entry(
    text: str, pos: int, line: int, vaults: Collection[str], unknown: list[tuple[int, str]]
) -> tuple[Entry, int]:
    rest_match = _REST.match(text, pos)
    assert rest_match is not None
    physical = rest_match.group(0)
    stripped = physical.strip()

    def simple(kind: str, problem: str | None = None) -> tuple[Entry, int]:
        end = rest_match.end()
        eol = _EOL_AT.match(text, end)
        assert eol is not None
        return Entry(line, physical, eol.group(0), kind, problem=problem), eol.end()

    if not stripped:
        return simple("blank")
    if stripped.startswith("#"):
        return simple("comment")
    head = _HEAD.match(text, pos)
    if head is None:
        return simple("other", "not a KEY=VALUE line")
    after = head.end()
    first = text[after: after + 1]
    if first in ("'", '"'):
        quoted = (_SINGLE if first == "'" else _DOUBLE).match(text, after)
        if quoted is None:
            return simple("other", f"unterminated {first} quote")
        inner, value_end = quoted.group(1), quoted.end()
        tail = _TAIL.match(text, value_end)
        assert tail is not None
        eol = _EOL_AT.match(text, tail.end())
        if eol is None or eol.start() != tail.end():
            return simple("other", "unexpected text after the closing quote")
        value = decode_value(first, inner)
        tail_text = tail.group(0)
        end = tail.end()
    else:
        part = _REST.match(text, after)
        assert part is not None
        value, tail_text = _split_unquoted(part.group(0))
        end = part.end()
        eol = _EOL_AT.match(text, end)
        assert eol is not None
    entry = Entry(
        line=line,
        raw=text[pos:end],
        eol=eol.group(0),
        kind="assignment",
        lead=head.group("lead"),
        export=head.group("export") or "",
        key=head.group("key"),
        mid=head.group("mid"),
        quote=first if first in ("'", '"') else "",
        value=value,
        tail=tail_text,
    )
    entry.placeholders = _find_placeholders(value, entry.key, vaults, line, unknown)
    return entry, eol.end()


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
    try:
        data = json.loads(secret_value)
    except ValueError:
        raise LookupError("the secret is not a JSON object") from None
    if not isinstance(data, dict):
        raise LookupError("the secret is not a JSON object")
    if path in data:
        found: object = data[path]
    else:
        found = data
        for part in path.split("."):
            if not isinstance(found, dict) or part not in found:
                raise LookupError(f"the JSON secret has no field '{path}'")
            found = found[part]
    if isinstance(found, str):
        return found
    if found is None:
        return ""
    return json.dumps(found, ensure_ascii=False)


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
                quoted = requote(entry.quote, value)
            except UsageError as exc:
                raise UsageError(f"line {entry.line}: {entry.key}: {exc.message}", hint=exc.hint) from None
            if not quoted and entry.tail.strip():
                quoted = "''"  # `KEY=  # note` would read as the value "# note"
            parts.append(entry.lead + entry.export + entry.key + entry.mid + quoted + entry.tail + entry.eol)
        return "".join(parts)


def requote(quote: str, value: str) -> str:
    """Keep the template's own quote style when it can hold the value exactly (so a
    double-quoted `${VAR}` beside a placeholder still interpolates); else quote per §6.1."""
    if quote == '"' and fits_double_quotes(value):
        return quote_double(value)
    if quote == "'" and fits_single_quotes(value):
        return f"'{value}'"
    return quote_env_value(value)


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
