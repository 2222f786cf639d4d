"""Endpoints over many secrets at once: the diff matrix, the import wizard and export.

Each one is a thin adapter over the service the CLI command uses (`services.diffing`,
`services.importing` + the copy engine, `services.exporting`/`services.templating`), so the
page and `keep diff/import/export` always agree. Values are masked unless the request asks
for them explicitly (`reveal`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from .. import record
from ..formats.mask import mask
from ..formats.render import FORMATS, render
from ..model import UsageError
from ..services import importing
from ..services.copying import (
    CONFLICT,
    REPORT_ORDER,
    Location,
    Plan,
    apply,
    refuse_conflicts,
    summarise,
)
from ..services.diffing import build_matrix, select_cells
from ..services.exporting import check_format, export_sources, merge_secrets
from ..services.fetch import fetch_cells
from .api import Call
from .routes_templates import render_text

if TYPE_CHECKING:
    pass

MODES = ("fail", "overwrite", "skip")


def diff(call: Call) -> dict[str, Any]:
    """`?vaults=a,b&stages=x,y&only&except`: the key x (vault, stage) matrix, masked."""
    columns = select_cells(call.project, call.names("stages"), call.names("vaults"))
    matrix = build_matrix(call.vault, columns, call.patterns())
    data = matrix.to_dict(unmask=False)
    data["counts"] = matrix.counts()
    data["cells"] = [{"vault": c.vault, "stage": c.stage, "label": c.label} for c in columns]
    return data


def check(call: Call) -> dict[str, Any]:
    """`?vaults=a,b&stages=x,y`: `keep check` of the same cells against .keep/schema.toml
    (`{"schema": false}` when the project has none; a bad schema file is a 400 naming its line)."""
    from ..services import schema

    spec = schema.load_schema(call.project, required=False)
    if spec is None:
        return {"schema": False, "ok": True, "problems": []}
    columns = select_cells(call.project, call.names("stages"), call.names("vaults"))
    stages = list(dict.fromkeys(c.stage for c in columns))
    vaults = list(dict.fromkeys(c.vault for c in columns))
    result = schema.check(call.project, call.vault, stages, vaults, schema=spec)
    return {"schema": True, "keys": len(spec.keys), **result.to_dict()}


def refs(call: Call) -> dict[str, Any]:
    """`?vault&stage&format=ecs|cloudformation|external-secrets|json` (`store`, `store_kind` for
    external-secrets): the `keep refs` text for the stage, from listing calls only - no value is
    read. A vault whose driver gives no references (local) is a 400 before any call."""
    from ..services import references

    slug, stage = call.vault_slug(), call.stage()
    fmt = call.text("format", "json")
    if fmt not in references.FORMATS:
        raise UsageError(f"Field 'format' must be one of {', '.join(references.FORMATS)}")
    store = call.optional_text("store")
    store_kind = call.text("store_kind", "SecretStore")
    if fmt == "external-secrets" and not store:
        raise UsageError("Missing required field 'store': the name of the SecretStore the ExternalSecret reads from")
    found = references.collect(call.vault, [slug], stage, call.patterns())
    text = references.render(found.references, fmt, name=f"{call.project.namespace}-{stage}", store=store,
                             store_kind=store_kind)
    return {"vault": slug, "stage": stage, "format": fmt, "count": len(found.references), "text": text,
            "warnings": found.warnings}


# -- import ------------------------------------------------------------------------------------

def _import_plan(call: Call) -> tuple[Plan, importing.Parsed, dict[str, str], str]:
    slug, stage = call.vault_slug(), call.stage()
    content = call.text("content")
    if not content.strip():
        raise UsageError("Nothing to import: paste a .env (or JSON object) or choose a file")
    label = call.text("filename") or "pasted text"
    fmt = call.optional_text("format")
    if fmt is not None and fmt not in ("env", "json"):
        raise UsageError("Field 'format' must be env or json")
    mode = call.text("mode", "fail")
    if mode not in MODES:
        raise UsageError(f"Field 'mode' must be one of {', '.join(MODES)}")
    # a bad line is marked in the preview (line number only: it may hold a secret) and the
    # other lines stay importable
    parsed = importing.parse(content.removeprefix("\ufeff"), label, fmt, lenient=True)
    vault = call.vault(slug)
    current = vault.list(stage)
    existing = {s.key: s.value for s in current}
    plan = importing.plan_import(
        vault,
        Location(slug, stage),
        parsed.entries,
        patterns=call.patterns(),
        overwrite=mode == "overwrite",
        skip_existing=mode == "skip",
        listed=current,  # the preview shows the current (masked) values: list the stage once
    )
    return plan, parsed, existing, mode


def _item_json(item: Any, existing: dict[str, str]) -> dict[str, Any]:
    current = existing.get(item.key)
    return {
        "key": item.key,
        "action": item.action,
        "outcome": item.outcome or None,
        "reason": item.reason or None,
        "value": mask(item.value) if item.value is not None else None,
        "existing": mask(current) if current is not None else None,
        "revision": item.revision,
    }


def import_preview(call: Call) -> dict[str, Any]:
    """What an import would do per key (create/update/unchanged/skip/conflict/invalid)."""
    plan, parsed, existing, mode = _import_plan(call)
    counts: dict[str, int] = {}
    for item in plan.items:
        counts[item.action] = counts.get(item.action, 0) + 1
    return {
        "target": plan.target.label,
        "format": parsed.format,
        "mode": mode,
        "items": [_item_json(item, existing) for item in plan.items],
        "counts": counts,
        "duplicates": {key: lines for key, lines in parsed.duplicates.items()},
        "bad_lines": parsed.bad_lines,
        "conflicts": plan.count(CONFLICT),
    }


def import_apply(call: Call) -> dict[str, Any]:
    """Apply (or `dry_run`) the import. Conflicts stop a real run before the first write."""
    plan, parsed, existing, _mode = _import_plan(call)
    dry_run = call.flag("dry_run")
    if not dry_run:
        refuse_conflicts(plan, "mode overwrite or skip")
    outcome = apply(plan, call.vault(plan.target.vault), dry_run=dry_run)
    return {
        "target": plan.target.label,
        "dry_run": dry_run,
        "ok": outcome.ok,
        "summary": summarise(outcome, REPORT_ORDER),
        "counts": outcome.counts,
        "items": [_item_json(item, existing) for item in plan.items],
        "duplicates": {key: lines for key, lines in parsed.duplicates.items()},
        "bad_lines": parsed.bad_lines,
    }


# -- export ------------------------------------------------------------------------------------

def export(call: Call) -> dict[str, Any]:
    """The stage's secrets (from one or more vaults) in a format, or a rendered template (a
    saved one by `template` name, or unsaved editor text in `content`).

    Without `reveal` the content is rendered from masked values (a preview); the real values
    are only returned with `reveal: true`. A template's output cannot be masked line by line,
    so without `reveal` only its summary is returned."""
    stage = call.stage()
    fmt = check_format(call.text("format", "env"))
    reveal = call.flag("reveal")
    patterns = call.patterns()
    template = call.optional_text("template")
    content = call.raw("content")
    if content is not None and not isinstance(content, str):
        raise UsageError("Field 'content' must be a string")
    include_all = call.flag("all")
    if template is not None or content is not None:
        # --all adds "the stage's secrets": the same vaults a plain export reads
        slugs = export_sources(call.project, call.names("vaults")) if include_all else []
        output = render_text(
            call, stage, template_name=template, content=content, format_name=fmt,
            missing=call.text("missing", "fail"), include_all=include_all, all_vaults=slugs, patterns=patterns,
        )
        return {
            "stage": stage, "format": fmt, "count": output.count, "vaults": output.vaults,
            "warnings": output.warnings, "masked": not reveal, "content": output.text if reveal else None,
        }
    wanted = export_sources(call.project, call.names("vaults"))
    cells = fetch_cells(call.vault, [(slug, stage) for slug in wanted])
    secrets, warnings = merge_secrets([(slug, cells[(slug, stage)]) for slug in wanted], patterns)
    text = render(fmt, secrets)  # renders (and refuses bad names/values) even for a preview
    if not reveal:
        masked = [record.replace(s, value=mask(s.value) or "") for s in secrets]
        text = render(fmt, masked)
    return {
        "stage": stage, "format": fmt, "count": len(secrets), "vaults": wanted,
        "warnings": warnings, "masked": not reveal, "content": text,
    }


def formats(call: Call) -> dict[str, Any]:
    return {"formats": list(FORMATS)}


def routes(make: Any) -> list[Route]:
    return [
        Route("/api/diff", make(diff), methods=["GET"]),
        Route("/api/check", make(check), methods=["GET"]),
        Route("/api/refs", make(refs), methods=["GET"]),
        Route("/api/import/preview", make(import_preview), methods=["POST"]),
        Route("/api/import/apply", make(import_apply), methods=["POST"]),
        Route("/api/export", make(export), methods=["POST"]),
        Route("/api/export/formats", make(formats), methods=["GET"]),
    ]
