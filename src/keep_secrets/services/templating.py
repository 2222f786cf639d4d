"""Templates over real vaults: load a template file, fetch what it references (each vault
once per stage, vaults concurrently) and render it; generate and validate templates.

`template_environment` is also what `keep run --template` uses, so a template means the same
thing to `export` and `run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import placeholders as tpl
from ..formats.dotenv import check_env_key, render_env_line
from ..formats.render import render
from ..formats.structured import Row
from ..fsutil import cannot
from ..model import KeepError, NotFound, Secret, UsageError
from ..names import Patterns, is_env_var_name
from .fetch import fetch_cells, overlap_warnings

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault

OpenVault = Callable[[str], "Vault"]


# -- locating and reading ------------------------------------------------------------------

def default_template_path(project: Project, stage: str) -> Path:
    return project.template_dir / f"{stage}.env"


def find_template(project: Project, stage: str, path: str | Path | None) -> Path:
    """`path` as given (relative to the current directory, then to the template directory),
    or `<template_path>/<stage>.env` when `path` is empty/None."""
    if not path:
        candidate = default_template_path(project, stage)
        if not candidate.is_file():
            raise NotFound(
                f"No template for stage '{stage}' at {candidate}",
                fix=("template:add", stage),
            )
        return candidate
    given = Path(path)
    if given.is_file():
        return given
    if not given.is_absolute():
        in_dir = project.template_dir / given
        if in_dir.is_file():
            return in_dir
    if given.is_dir():
        raise UsageError(f"Template {given} is a directory, not a file")
    raise NotFound(f"Template file {given} not found")


def read_template(project: Project, path: Path) -> tpl.Template:
    try:
        # bytes, not text mode: CRLF must reach the parser untouched
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"Template {path} is not UTF-8 text: {exc}") from None
    except PermissionError as exc:
        raise cannot("read template", path, exc) from None
    except OSError as exc:
        raise UsageError(f"Cannot read template {path}: {exc.strerror or exc}") from None
    return tpl.parse(text, project.vaults)


# -- fetching ------------------------------------------------------------------------------

@dataclass
class Fetched:
    """The secrets of each fetched vault for one stage."""

    stage: str
    secrets: dict[str, list[Secret]]
    _index: dict[tuple[str, str], Secret] | None = field(default=None, repr=False)

    def values(self) -> dict[str, dict[str, str]]:
        return {slug: {s.key: s.value for s in items} for slug, items in self.secrets.items()}

    def find(self, vault: str, key: str) -> Secret | None:
        if self._index is None:
            self._index = {(slug, s.key): s for slug, items in self.secrets.items() for s in items}
        return self._index.get((vault, key))


def fetch(open_vault: OpenVault, stage: str, slugs: Iterable[str]) -> Fetched:
    wanted = list(dict.fromkeys(slugs))
    cells = fetch_cells(open_vault, [(slug, stage) for slug in wanted])
    return Fetched(stage, {slug: cells[(slug, stage)] for slug in wanted})


# -- rendering -----------------------------------------------------------------------------

def _filtered(template: tpl.Template, patterns: Patterns) -> tpl.Template:
    """Drop assignments whose key the filter rejects: their placeholders are then neither
    fetched nor able to fail the export."""
    if not patterns.active:
        return template
    kept = [e for e in template.entries if e.kind != "assignment" or patterns.matches(e.key)]
    return tpl.Template(kept, template.eol, template.unknown, template.malformed)


_EXPORT_MISSING_HINT = "nothing was written; --missing=remove|blank|skip renders anyway"


def _missing_error(path: Path, misses: Sequence[tpl.Missing], hint: str = _EXPORT_MISSING_HINT) -> NotFound:
    listed = "; ".join(m.describe() for m in misses)
    noun = "placeholder" if len(misses) == 1 else "placeholders"
    return NotFound(f"Template {path}: {len(misses)} {noun} cannot be resolved: {listed}", hint=hint)


@dataclass
class TemplateOutput:
    text: str
    count: int  # entries written
    vaults: list[str]
    warnings: list[str] = field(default_factory=list)


def unknown_warnings(path: Path, template: tpl.Template) -> list[str]:
    return [
        f"{path}:{line}: {text} is left as text: '{text[1:].split(':', 1)[0]}' is not a configured vault"
        for line, text in template.unknown
    ] + [f"{path}:{line}: {what}" for line, what in template.malformed]


def render_template(
    project: Project,
    open_vault: OpenVault,
    stage: str,
    path: Path,
    *,
    format_name: str = "env",
    missing: str = "fail",
    include_all: bool = False,
    all_vaults: Sequence[str] = (),
    patterns: Patterns | None = None,
) -> TemplateOutput:
    """Render template `path` for `stage` in `format_name`.

    `include_all` appends the secrets of `all_vaults` (default: the vaults the template
    references) that no placeholder uses and no template line already defines."""
    if missing not in tpl.MISSING_STRATEGIES:
        raise UsageError(f"Invalid --missing '{missing}' (use {', '.join(tpl.MISSING_STRATEGIES)})")
    patterns = patterns or Patterns()
    template = _filtered(read_template(project, path), patterns)
    referenced = template.vaults()
    extra_sources = list(all_vaults) or referenced or (
        [default] if (default := project.configured_default_vault()) else []
    )
    slugs = referenced + [s for s in extra_sources if s not in referenced] if include_all else referenced
    for slug in slugs:
        project.check_vault(slug)
    fetched = fetch(open_vault, stage, slugs)
    rendered = tpl.resolve(template, tpl.vault_lookup(fetched.values()), stage, missing)
    if rendered.missing and missing == "fail":
        raise _missing_error(path, rendered.missing)
    warnings = unknown_warnings(path, template)
    if rendered.missing:
        action = {"remove": "removed", "blank": "blanked", "skip": "left as placeholders"}[missing]
        warnings.append(
            f"{len(rendered.missing)} missing placeholder(s) {action}: "
            + "; ".join(m.describe() for m in rendered.missing)
        )
    extras = _unreferenced(template, fetched, extra_sources, patterns, warnings) if include_all else []
    if format_name == "env":
        text = _env_text(template, rendered, extras, stage)
        return TemplateOutput(text, len(rendered.mapping()) + len(extras), slugs, warnings)
    for entry in template.entries:
        if entry.kind == "other":
            warnings.append(f"{path}:{entry.line}: ignored ({entry.problem}): {entry.raw[:60]!r}")
    rows = _rows(rendered, fetched, stage) + [Row(s.key, s.value, s.vault, s.stage, s.modified) for s in extras]
    # later duplicates win, as a dotenv reader would do, but keep first-seen order
    merged: dict[str, Row] = {}
    for row in rows:
        merged.pop(row.key, None)
        merged[row.key] = row
    return TemplateOutput(render(format_name, list(merged.values())), len(merged), slugs, warnings)


def _unreferenced(
    template: tpl.Template, fetched: Fetched, sources: Sequence[str], patterns: Patterns, warnings: list[str]
) -> list[Secret]:
    """`--all`: the secrets of `sources` no placeholder uses and no template line defines,
    sorted by key (a key in two sources: the later source wins, with a warning)."""
    pairs = [(slug, s.key) for slug in sources for s in fetched.secrets.get(slug, [])]
    chosen: dict[str, Secret] = {}
    overlaps: list[tuple[str, str, str]] = []
    for slug, key in tpl.unreferenced(template, pairs):
        secret = fetched.find(slug, key)
        if secret is not None and patterns.matches(key):
            if key in chosen:
                overlaps.append((key, chosen[key].vault, slug))
            chosen[key] = secret
    warnings.extend(overlap_warnings(overlaps))
    return [chosen[k] for k in sorted(chosen)]


def _env_text(template: tpl.Template, rendered: tpl.Rendered, extras: list[Secret], stage: str) -> str:
    """The template rendered as itself (.env), with the `--all` extras appended in a block."""
    for entry in template.assignments:
        check_env_key(entry.key, "env")
    text = rendered.text()
    if extras:
        eol = template.eol
        if text and not text.endswith(("\n", "\r")):
            text += eol
        # line by line: a multi-line value keeps its own line breaks
        block = "".join(render_env_line(s.key, s.value) + eol for s in extras)
        text += f"{eol}# Secrets of {stage} not referenced by the template{eol}{block}"
    return text


def _rows(rendered: tpl.Rendered, fetched: Fetched, stage: str) -> list[Row]:
    rows: list[Row] = []
    for index, entry in enumerate(rendered.template.entries):
        if entry.kind != "assignment":
            continue
        value = rendered.values.get(index, entry.value)
        if value is None:
            continue
        vault, modified = "", None
        whole = entry.placeholders[0] if len(entry.placeholders) == 1 else None
        if whole is not None and whole.text == entry.value and whole.field is None:
            secret = fetched.find(whole.vault, whole.key)
            if secret is not None:
                vault, modified = secret.vault, secret.modified
        rows.append(Row(entry.key, value, vault, stage, modified))
    return rows


def template_environment(
    project: Project,
    open_vault: OpenVault,
    stage: str,
    path: Path | str,
    *,
    missing: str = "fail",
    patterns: Patterns | None = None,
    missing_hint: str = _EXPORT_MISSING_HINT,
    pieces: dict[str, list[str]] | None = None,
) -> dict[str, str]:
    """Statics and resolved placeholders of template `path` as a mapping (for `run`).

    `patterns` filters lines before resolving, exactly as `render_template` does, so a
    placeholder on a line `--only/--except` leaves out can never fail `run` either.
    With `pieces`, it is filled with KEY -> the value each of that line's placeholders
    resolved to: `run --redact` masks each on its own, and peeling them back out of the
    rendered value is ambiguous (`{a}{b}`, or a separator that also occurs in a value)."""
    if missing not in tpl.MISSING_STRATEGIES:
        raise UsageError(f"Invalid --missing '{missing}' (use {', '.join(tpl.MISSING_STRATEGIES)})")
    template_path = Path(path)
    template = _filtered(read_template(project, template_path), patterns or Patterns())
    fetched = fetch(open_vault, stage, template.vaults())
    lookup = tpl.vault_lookup(fetched.values())
    rendered = tpl.resolve(template, lookup, stage, missing)
    if rendered.missing and missing == "fail":
        raise _missing_error(template_path, rendered.missing, missing_hint)
    if pieces is not None:
        for entry in template.assignments:
            if entry.placeholders:
                # a later line for the same key wins, as in the mapping
                resolved = (tpl.placeholder_value(p, lookup, stage) for p in entry.placeholders)
                pieces[entry.key] = [value for value in resolved if value]
    return rendered.mapping()


# -- template:add --------------------------------------------------------------------------

def _env_name(key: str) -> str:
    name = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in key)
    return f"_{name}" if name[:1].isdigit() else name


@dataclass
class Generated:
    text: str
    placeholders: int
    vaults: list[str]
    notes: list[str] = field(default_factory=list)


def generate_template(open_vault: OpenVault, stage: str, slugs: Sequence[str]) -> Generated:
    """`KEY={vault:KEY}` lines for every secret of `stage`, grouped by vault. A key already
    used by an earlier line (two vaults, or a key made a valid name) is written commented
    out, so the template never defines a variable twice."""
    fetched = fetch(open_vault, stage, slugs)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"# keep template for stage '{stage}' (generated {now})",
        "# Static values are kept as written; {vault:KEY} is replaced by that secret,",
        "# {vault:KEY.field} by a field of a JSON secret. Render with `keep export --template`.",
    ]
    used: dict[str, str] = {}
    notes: list[str] = []
    count = 0
    sources: list[str] = []
    for slug in slugs:
        secrets = sorted(fetched.secrets.get(slug, []), key=lambda s: s.key)
        if not secrets:
            continue
        sources.append(slug)
        lines += ["", f"# ----- vault: {slug} -----"]
        for secret in secrets:
            name = _env_name(secret.key)
            line = f"{name}={{{slug}:{secret.key}}}"
            if name in used:
                notes.append(
                    f"{name} is already taken by {used[name]}; the line for {slug}:{secret.key} is commented out"
                )
                lines.append(f"# {line}    (duplicate of {used[name]})")
                continue
            if name != secret.key:
                notes.append(f"{slug}:{secret.key} is written as {name} (not a valid variable name)")
            used[name] = f"{slug}:{secret.key}"
            lines.append(line)
            count += 1
    if count == 0:
        raise NotFound(f"No secrets in stage '{stage}' of vault(s) {', '.join(slugs)}: nothing to put in a template")
    return Generated("\n".join(lines) + "\n", count, sources, notes)


# -- template:validate ---------------------------------------------------------------------

@dataclass
class Validation:
    placeholders: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: with a stage: KEY -> rendered value of the entries that resolved (for schema patterns)
    values: dict[str, str] | None = None


def validate_template(
    project: Project, open_vault: OpenVault, path: Path, stage: str | None = None
) -> Validation:
    """Syntax, vaults, names; with `stage`, also that every placeholder resolves. All problems
    are collected, never just the first."""
    template = read_template(project, path)
    report = Validation(placeholders=len(template.placeholders))
    seen: dict[str, int] = {}
    for entry in template.entries:
        if entry.kind == "other":
            report.problems.append(f"line {entry.line}: {entry.problem}: {entry.raw[:60]!r}")
            continue
        if entry.kind != "assignment":
            continue
        if not is_env_var_name(entry.key):
            report.problems.append(
                f"line {entry.line}: {entry.key!r} is not a valid environment variable name"
            )
        if entry.key in seen:
            report.warnings.append(
                f"line {entry.line}: {entry.key} is already defined on line {seen[entry.key]} (the later one wins)"
            )
        seen.setdefault(entry.key, entry.line)
        for placeholder in entry.placeholders:
            if placeholder.problem:
                report.problems.append(f"line {entry.line}: {placeholder.text}: {placeholder.problem}")
    for line, text in template.unknown:
        name = text[1:].split(":", 1)[0]
        report.problems.append(f"line {line}: {text}: vault '{name}' is not configured")
    for line, what in template.malformed:
        report.problems.append(f"line {line}: {what}")
    if stage is not None:
        _check_resolves(open_vault, stage, template, report)
    return report


def _check_resolves(open_vault: OpenVault, stage: str, template: tpl.Template, report: Validation) -> None:
    slugs = template.vaults()
    try:
        fetched = fetch(open_vault, stage, slugs)
    except KeepError as exc:
        report.problems.append(f"cannot read {', '.join(slugs)} for stage '{stage}': {exc.one_line()}")
        return
    rendered = tpl.resolve(template, tpl.vault_lookup(fetched.values()), stage, "skip")
    unresolved = {m.line for m in rendered.missing}
    report.values = {}
    for index, entry in enumerate(template.entries):
        value = rendered.values.get(index, entry.value)
        if entry.kind == "assignment" and entry.line not in unresolved and value is not None:
            report.values[entry.key] = value
    invalid = {(entry.line, p.text) for entry, p in template.placeholders if p.problem}
    report.problems += [m.describe() for m in rendered.missing if (m.line, m.placeholder) not in invalid]
    refs = template.refs()
    for slug in slugs:
        unused = [s.key for s in fetched.secrets.get(slug, []) if (slug, s.key) not in refs]
        if unused:
            report.notes.append(f"{len(unused)} secret(s) of {slug}:{stage} not in the template: {', '.join(unused)}")
        else:
            report.notes.append(f"every secret of {slug}:{stage} is referenced")
