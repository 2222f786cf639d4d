"""`import`: read a `.env` file (python-dotenv's own parser, no interpolation) or a JSON
object, and plan the writes with the shared bulk engine of :mod:`.copying`.

Unlike Keep, nothing is dropped silently: a line the parser cannot read is an error naming
the line (and never echoing its content, which may be a secret), an invalid key is reported
as failed, an empty value is reported as skipped, and a key defined twice is reported (the
last definition wins, as in every dotenv loader).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..formats import jsontext
from ..model import UsageError
from ..names import Patterns, validate_key, validate_value
from .copying import INVALID, SKIP, Item, Location, Plan, decide

if TYPE_CHECKING:
    from ..model import Secret
    from ..vaults.base import Vault


@dataclass(frozen=True)
class Entry:
    key: str
    value: str | None
    line: int | None = None


@dataclass
class Parsed:
    entries: list[Entry]
    duplicates: dict[str, list[int | None]] = field(default_factory=dict)
    format: str = "env"
    #: lines that are not KEY=VALUE (only with `lenient`; otherwise they are an error)
    bad_lines: list[int] = field(default_factory=list)


def decode(data: bytes, label: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Windows PowerShell 5's `keep export > .env` and Notepad's "Unicode" write UTF-16
        raise UsageError(
            f"{label}: UTF-16 text, not UTF-8",
            hint="save it as UTF-8, e.g. `keep export --file FILE` or PowerShell's `Out-File -Encoding utf8`",
        )
    try:
        # utf-8-sig: files saved by Windows editors start with a BOM that is not part of the key
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label}: not UTF-8 text (byte {exc.start})") from None


def detect_format(text: str, label: str) -> str:
    # "[" too: no dotenv key starts with it, so a JSON array gets the JSON-object error
    # instead of being read as a dotenv line with an invalid key
    if label.lower().endswith(".json") or text.lstrip().startswith(("{", "[")):
        return "json"
    return "env"


def parse(text: str, label: str, fmt: str | None = None, *, lenient: bool = False) -> Parsed:
    """Entries of a dotenv or JSON document, in file order (a repeated key keeps its first
    position and its last value, exactly like `dotenv_values`). A dotenv line that cannot be
    parsed is an error, or with `lenient` (the web preview, which marks it inline) listed in
    `bad_lines` while the other lines are kept."""
    fmt = fmt or detect_format(text, label)
    if fmt == "json":
        return _parse_json(text, label)
    return _parse_env(text, label, lenient)


def _collect(pairs: Sequence[tuple[str, str | None, int | None]], fmt: str) -> Parsed:
    order: dict[str, Entry] = {}
    seen: dict[str, list[int | None]] = {}
    for key, value, line in pairs:
        seen.setdefault(key, []).append(line)
        first = order.get(key)
        order[key] = Entry(key, value, first.line if first else line)
    duplicates = {key: lines for key, lines in seen.items() if len(lines) > 1}
    return Parsed(list(order.values()), duplicates, fmt)


def _parse_env(text: str, label: str, lenient: bool = False) -> Parsed:
    # parse_stream is the parser dotenv_values() uses; calling it directly gives the line of
    # each binding and its parse errors, which dotenv_values() only logs and then drops.
    from dotenv.parser import parse_stream

    # read as dotenv_values(path) reads a file: in text mode, so CRLF (and a lone CR) is a line
    # break "\n". Otherwise a multi-line quoted value (a PEM key) from a file saved on Windows
    # would be stored with a "\r" at the end of every line. A CR that belongs to a value is
    # written escaped ("\r" inside double quotes), which this leaves alone.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    pairs: list[tuple[str, str | None, int | None]] = []
    errors: list[int] = []
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            errors.append(binding.original.line)
        elif binding.key is not None:
            pairs.append((binding.key, binding.value, binding.original.line))
    if errors and lenient:
        parsed = _collect(pairs, "env")
        parsed.bad_lines = errors
        return parsed
    if errors and label.lower().endswith((".yaml", ".yml")):
        # `keep export --format yaml` has no import counterpart: say so, not "check quoting"
        raise UsageError(
            f"{label}: YAML is not an import format (keep import reads .env files and JSON objects); "
            "nothing was imported",
            hint='save it as a JSON object ({"KEY": "value", ...}) or as KEY=VALUE lines',
        )
    if errors:
        lines = ", ".join(str(n) for n in errors[:10]) + (", …" if len(errors) > 10 else "")
        noun = "line" if len(errors) == 1 else "lines"
        raise UsageError(
            f"{label}: cannot parse {noun} {lines} as KEY=VALUE; nothing was imported",
            hint="check quoting: an unclosed quote or text after a closing quote is not valid dotenv",
        )
    return _collect(pairs, "env")


def _json_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)  # a jsontext.Number too: its own spelling
    if isinstance(value, bool):
        return "true" if value else "false"
    # objects/arrays become a JSON secret (addressable by field in templates: {vault:KEY.field})
    return jsontext.dumps(value)


def _parse_json(text: str, label: str) -> Parsed:
    # the outermost object is hooked last; remembering each object's pairs lets us see the
    # top level's repeated keys, which json.loads() would silently collapse
    hooked: list[list[tuple[str, Any]]] = []

    def hook(items: list[tuple[str, Any]]) -> dict[str, Any]:
        hooked.append(items)
        return dict(items)

    try:
        data = jsontext.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{label}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{label}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f'{label}: expected a JSON object of secrets, e.g. {{"DB_PASSWORD": "..."}}')
    try:
        pairs = [(key, _json_value(value), None) for key, value in hooked[-1]]
    except RecursionError:
        raise UsageError(f"{label}: JSON nested too deeply") from None
    return _collect(pairs, "json")


def plan_import(
    vault: Vault,
    target: Location,
    entries: list[Entry],
    *,
    patterns: Patterns | None = None,
    overwrite: bool = False,
    skip_existing: bool = False,
    listed: Sequence[Secret] | None = None,
) -> Plan:
    """Decide per entry against the stage's current values (one `list` call, or `listed`:
    the listing the caller already made, e.g. for the web preview's current values)."""
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing cannot be used together")
    selected = [e for e in entries if patterns is None or patterns.matches(e.key)]
    plan = Plan(target=target)
    if not selected:
        return plan
    current = {s.key: s for s in (vault.list(target.stage) if listed is None else listed)}
    for entry in selected:
        try:
            validate_key(entry.key)
            if entry.value is not None:
                validate_value(entry.value)
        except UsageError as exc:
            plan.items.append(Item(entry.key, entry.value, INVALID, reason=exc.message))
            continue
        if entry.value == "":
            # `KEY=` in a .env is "not set here", and SSM cannot even store an empty value
            plan.items.append(Item(entry.key, entry.value, SKIP, reason="empty value"))
            continue
        there = current.get(entry.key)
        plan.items.append(
            decide(
                entry.key,
                entry.value,
                there.value if there else None,
                overwrite=overwrite,
                skip_existing=skip_existing,
                revision=there.revision if there else None,
            )
        )
    return plan
