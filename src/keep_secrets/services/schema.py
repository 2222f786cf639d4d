"""`.keep/schema.toml` and `keep check` / `keep schema:init` (SPEC §14).

```toml
[keys.DB_PASSWORD]
description = "Primary database password"
required = true            # default true
stages = ["production"]    # required only in these stages (default: every stage)
pattern = "[A-Za-z0-9]{24,}"   # the whole value must match
```

A schema names keys, never values. A bad file (TOML syntax, an unknown field, a wrong type, a
bad regex, an unknown stage) is one :class:`UsageError` naming the file and line. Problems are
reported without the value: a pattern failure says which pattern, never what the value was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model import Conflict, KeepError, NotFound, UsageError
from ..names import KEY_RE

if TYPE_CHECKING:
    from ..model import Secret
    from ..placeholders import Template
    from ..project import Project
    from ..vaults.base import Vault

SCHEMA_NAME = "schema.toml"
FIELDS = {"description": str, "required": bool, "stages": list, "pattern": str}
_TYPE_NAMES = {str: "a string", bool: "true or false", list: "a list of stage names"}

MISSING = "missing"
PATTERN = "pattern"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class KeySpec:
    name: str
    description: str = ""
    required: bool = True
    stages: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None

    def required_in(self, stage: str) -> bool:
        return self.required and (self.stages is None or stage in self.stages)

    def pattern_text(self) -> str:
        return self.pattern.pattern if self.pattern is not None else ""


@dataclass(frozen=True)
class Schema:
    path: Path
    keys: Mapping[str, KeySpec]


@dataclass(frozen=True)
class Problem:
    key: str
    stage: str
    vault: str
    problem: str
    kind: str  # MISSING, PATTERN, UNKNOWN

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "stage": self.stage, "vault": self.vault, "problem": self.problem}


@dataclass
class CheckResult:
    problems: list[Problem] = field(default_factory=list)
    keys_checked: int = 0
    cells: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        """The documented JSON shape `{"ok": bool, "problems": [{key, stage, vault, problem}]}`."""
        return {"ok": self.ok, "problems": [p.to_dict() for p in self.problems]}


# -- reading ---------------------------------------------------------------------------------

def schema_path(project: Project) -> Path:
    return Path(project.root) / ".keep" / SCHEMA_NAME


def _line_finder(text: str) -> Callable[[str, str | None], int | None]:
    """The line of `[keys.NAME]` (or of its field), best effort: tomllib gives no positions."""
    lines = text.splitlines()

    def find(name: str, field_name: str | None = None) -> int | None:
        quoted = rf'(?:{re.escape(name)}|"{re.escape(name)}"|\'{re.escape(name)}\')'
        header = re.compile(rf"^\s*\[\s*keys\s*\.\s*{quoted}\s*\]")
        dotted = re.compile(rf"^\s*(?:keys\s*\.\s*)?{quoted}\s*(?:\.|=)")
        start = None
        for number, line in enumerate(lines, 1):
            if header.match(line) or (start is None and dotted.match(line)):
                start = number
                break
        if start is None or field_name is None:
            return start
        fld = re.compile(rf"^\s*(?:[^=]*\.\s*)?{re.escape(field_name)}\s*=|[{{,]\s*{re.escape(field_name)}\s*=")
        if fld.search(lines[start - 1]):
            return start
        for number in range(start + 1, len(lines) + 1):
            line = lines[number - 1]
            if re.match(r"^\s*\[", line):
                break
            if fld.search(line):
                return number
        return start

    return find


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def parse_schema(text: str, path: Path, stages: Sequence[str]) -> Schema:
    """Parse and validate schema text; `stages` are the project's configured stages."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)$", message)
        line = int(match.group(1)) if match else None
        message = message[: match.start()].strip() if match else message
        raise UsageError(f"{_where(path, line)}: invalid TOML: {message}") from None
    find = _line_finder(text)
    for top in data:
        if top != "keys":
            line = next((n for n, ln in enumerate(text.splitlines(), 1)
                         if re.match(rf"^\s*\[?\s*{re.escape(top)}\b", ln)), None)
            raise UsageError(f"{_where(path, line)}: unknown table or field '{top}' (a schema has [keys.NAME] tables)")
    table = data.get("keys", {})
    if not isinstance(table, dict):
        line = next((n for n, ln in enumerate(text.splitlines(), 1) if re.match(r"^\s*keys\s*=", ln)), None)
        raise UsageError(f"{_where(path, line)}: 'keys' must be a table of [keys.NAME] tables")
    keys: dict[str, KeySpec] = {}
    for name, spec in table.items():
        keys[name] = _key_spec(name, spec, path, find, stages)
    return Schema(path, keys)


def _key_spec(
    name: str, spec: Any, path: Path, find: Callable[[str, str | None], int | None], stages: Sequence[str]
) -> KeySpec:
    if not KEY_RE.fullmatch(name) or name.startswith("-"):
        raise UsageError(f"{_where(path, find(name, None))}: [keys.{name}]: not a valid key name "
                         "(1-255 of A-Z a-z 0-9 _ -, not starting with '-')")
    if not isinstance(spec, dict):
        raise UsageError(f"{_where(path, find(name, None))}: keys.{name} must be a table ([keys.{name}])")
    for field_name, value in spec.items():
        expected = FIELDS.get(field_name)
        line = find(name, field_name)
        if expected is None:
            raise UsageError(
                f"{_where(path, line)}: [keys.{name}]: unknown field '{field_name}' (known: {', '.join(FIELDS)})"
            )
        if not isinstance(value, expected) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise UsageError(
                f"{_where(path, line)}: [keys.{name}] {field_name} must be {_TYPE_NAMES[expected]}"
            )
    stage_list: tuple[str, ...] | None = None
    if "stages" in spec:
        stage_list = tuple(spec["stages"])
        unknown = [s for s in stage_list if s not in stages]
        if unknown:
            raise UsageError(
                f"{_where(path, find(name, 'stages'))}: [keys.{name}] stages: unknown stage "
                f"{', '.join(repr(s) for s in unknown)} (configured: {', '.join(stages)})"
            )
    pattern = None
    if "pattern" in spec:
        try:
            pattern = re.compile(spec["pattern"])
        except re.error as exc:
            raise UsageError(
                f"{_where(path, find(name, 'pattern'))}: [keys.{name}] pattern is not a valid regular expression: {exc}"
            ) from None
    return KeySpec(name, spec.get("description", ""), spec.get("required", True), stage_list, pattern)


def load_schema(project: Project, required: bool = True) -> Schema | None:
    """The project's schema; None when there is none and `required` is False."""
    path = schema_path(project)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if not required:
            return None
        raise NotFound(f"No schema: {path} does not exist", fix=("schema:init",)) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not UTF-8 text") from None
    return parse_schema(text, path, list(project.stages))


# -- checking --------------------------------------------------------------------------------

def check_cells(
    schema: Schema, cells: Mapping[tuple[str, str], Sequence[Secret]], stages: Sequence[str],
    vaults: Sequence[str], *, strict: bool = False,
) -> CheckResult:
    """Problems of the secrets in `cells` ((vault, stage) -> secrets) against `schema`.

    A required key is missing in a stage when none of `vaults` holds it there (a project may
    keep some keys in one vault and some in another); a pattern is checked on every value
    present; with `strict`, every key the schema does not name is a problem."""
    result = CheckResult(cells=[(v, s) for v in vaults for s in stages])
    joined = ",".join(vaults)
    present: dict[str, set[str]] = {stage: set() for stage in stages}
    for stage in stages:
        for slug in vaults:
            for secret in cells.get((slug, stage), ()):
                present[stage].add(secret.key)
                spec = schema.keys.get(secret.key)
                if spec is None:
                    if strict:
                        result.problems.append(Problem(secret.key, stage, slug, "not in the schema", UNKNOWN))
                    continue
                if spec.pattern is not None and spec.pattern.fullmatch(secret.value) is None:
                    result.problems.append(Problem(
                        secret.key, stage, slug, f"value does not match the pattern {spec.pattern_text()!r}", PATTERN
                    ))
        for spec in schema.keys.values():
            if spec.required_in(stage) and spec.name not in present[stage]:
                result.problems.append(Problem(spec.name, stage, joined, "required but missing", MISSING))
    result.keys_checked = len(schema.keys)
    order = {s: i for i, s in enumerate(stages)}
    result.problems.sort(key=lambda p: (order.get(p.stage, 0), p.key, p.vault))
    return result


def check(
    project: Project, open_vault: Callable[[str], Vault], stages: Sequence[str], vaults: Sequence[str],
    *, strict: bool = False, schema: Schema | None = None,
) -> CheckResult:
    """Read every (vault, stage) cell once (concurrently) and check it against the schema."""
    from .fetch import fetch_cells

    schema = schema or load_schema(project)
    assert schema is not None
    cells = fetch_cells(open_vault, [(v, s) for v in vaults for s in stages])
    return check_cells(schema, cells, stages, vaults, strict=strict)


# -- templates -------------------------------------------------------------------------------

def template_problems(
    schema: Schema, template: Template, stage: str | None, values: Mapping[str, str] | None = None
) -> list[str]:
    """Schema problems of a template: required keys it does not define (in `stage`, or without
    one the keys required in every stage), and values that fail their key's pattern - the
    static ones, and with `values` (the entries rendered for `stage`) the placeholders' too.
    Never a value in the messages."""
    problems: list[str] = []
    defined = {entry.key: entry for entry in template.assignments}
    for spec in schema.keys.values():
        needed = spec.required_in(stage) if stage else spec.required and spec.stages is None
        if needed and spec.name not in defined:
            where = f" in stage '{stage}'" if stage else ""
            problems.append(f"{spec.name} is required by {schema.path.name}{where} but the template does not define it")
    for key, entry in defined.items():
        found = schema.keys.get(key)
        if found is None or found.pattern is None:
            continue
        if entry.placeholders:
            if values is None or key not in values:
                continue  # checked where it resolves (with --stage, or by `keep check`)
            value, what = values[key], f"the value of {key} rendered for stage '{stage}'"
        else:
            value, what = entry.value or "", f"the static value of {key}"
        if found.pattern.fullmatch(value) is None:
            problems.append(f"line {entry.line}: {what} does not match the pattern "
                            f"{found.pattern_text()!r} of {schema.path.name}")
    return problems


# -- schema:init -----------------------------------------------------------------------------

def _toml_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_schema(keys_by_stage: Mapping[str, Sequence[str]], all_stages: Sequence[str]) -> str:
    """A schema naming every key present: required, and `stages` listing where it was found
    unless it was found in every configured stage. Names only, never a value."""
    where: dict[str, list[str]] = {}
    for stage in all_stages:
        for key in keys_by_stage.get(stage, ()):
            stages = where.setdefault(key, [])
            if stage not in stages:
                stages.append(stage)
    lines = [
        "# keep schema: the keys this project needs (names only, never values).",
        "# Per key: description, required (default true), stages (required only there),",
        "# pattern (a regular expression the whole value must match). `keep check` verifies it.",
    ]
    for key in sorted(where):
        lines += ["", f"[keys.{key}]", 'description = ""']
        if len(where[key]) != len(all_stages):
            lines.append(f"stages = [{', '.join(_toml_string(s) for s in where[key])}]")
    return "\n".join(lines) + "\n"


def init_schema(
    project: Project, open_vault: Callable[[str], Vault], stages: Sequence[str], vaults: Sequence[str],
    *, overwrite: bool = False,
) -> tuple[Path, int]:
    """Write `.keep/schema.toml` from the keys present in `stages` x `vaults` (listing only the
    names). Refuses an existing file unless `overwrite`. Returns (path, number of keys)."""
    from ..fsutil import atomic_write
    from .fetch import fetch_cells

    path = schema_path(project)
    if path.exists() and not overwrite:
        raise Conflict(f"{path} already exists", hint="use --overwrite to replace it")
    cells = fetch_cells(open_vault, [(v, s) for v in vaults for s in stages])
    keys_by_stage = {s: sorted({sec.key for v in vaults for sec in cells[(v, s)]}) for s in stages}
    text = render_schema(keys_by_stage, list(project.stages))
    parse_schema(text, path, list(project.stages))  # what we write must read back
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise KeepError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return path, len({k for keys in keys_by_stage.values() for k in keys})
