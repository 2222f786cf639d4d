"""Endpoints of the template editor: list, open, save, delete, generate, validate and render.

Template files live only in the project's template directory, named `NAME.env` (no path
separators, no leading dot), so a request can never read or write elsewhere (Keep's
§5.5/§12.5). Text being edited but not yet saved is validated or rendered from a private
temporary copy, so the page checks exactly what `keep template:validate` would.

A template read comes with its revision (a hash of the file's bytes); a save that sends it back
is refused with 409 when the file changed since (another tab, an editor, `keep template:add`),
as an edit of a secret is, so two editors never overwrite each other silently. A save with
`overwrite: false` (the page's New, Generate or a name typed over: no revision) is a create,
refused with 409 when the name is taken. A delete that sends the revision is refused likewise.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.routing import Route

from ..fsutil import atomic_write
from ..model import Conflict, KeepError, NotFound, UsageError
from ..names import Patterns
from ..services import templating
from .api import Call

NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}\.env")
NAME_RULE = "NAME.env with letters, digits, '_', '-' or '.', not starting with '.'"
MAX_TEMPLATE = 512 * 1024


def _directory(call: Call) -> Path:
    return call.project.template_dir


def template_path(call: Call, name: str) -> Path:
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise UsageError(f"Invalid template name {name[:60]!r}: use {NAME_RULE}")
    directory = _directory(call)
    path = directory / name
    # a symlink pointing out of the directory is refused like a `../` name
    if path.exists() and path.resolve().parent != directory.resolve():
        raise UsageError(f"Template {name} points outside the template directory")
    return path


def _content(call: Call) -> str:
    content = call.raw("content")
    if not isinstance(content, str):
        raise UsageError("Missing required field 'content' (a string)")
    if len(content.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE:
        raise UsageError(f"Template too large (limit {MAX_TEMPLATE} bytes)")
    if "\x00" in content:
        raise UsageError("A template cannot contain NUL bytes")
    return content


@contextmanager
def _as_file(content: str, name: str) -> Iterator[Path]:
    """Unsaved editor text as a 0600 file in a private temporary directory."""
    with tempfile.TemporaryDirectory(prefix="keep-web-") as directory:
        path = Path(directory) / name
        atomic_write(path, content, mode=0o600)
        yield path


def _scrub(message: str, path: Path, name: str) -> str:
    return message.replace(str(path), name)


def list_templates(call: Call) -> dict[str, Any]:
    directory = _directory(call)
    stages = set(call.project.stages)
    items = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.env")):
            if not path.is_file() or not NAME_RE.fullmatch(path.name):
                continue
            info = path.stat()
            stem = path.name.removesuffix(".env")
            items.append({
                "name": path.name,
                "stage": stem if stem in stages else None,
                "size": info.st_size,
                "modified": datetime.fromtimestamp(info.st_mtime, UTC).isoformat().replace("+00:00", "Z"),
            })
    return {"directory": call.project.settings.template_path, "templates": items}


def read_template(call: Call) -> dict[str, Any]:
    name = call.text("name", required=True)
    path = template_path(call, name)
    if not path.is_file():
        raise NotFound(f"Template {name} not found in {call.project.settings.template_path}/")
    data = path.read_bytes()
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"Template {name} is not UTF-8 text") from None
    return {"name": name, "content": content, "revision": _digest(data)}


def _digest(data: bytes) -> str:
    """A template's revision: a hash of the file's bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def _revision(path: Path) -> str | None:
    """The file's revision now (None: no such file)."""
    try:
        return _digest(path.read_bytes())
    except FileNotFoundError:
        return None


# a save's or delete's revision check and its write are one step for this server (two tabs at once)
_saving = threading.Lock()


def _conflict(message: str, name: str, expected: str | None, current: str | None) -> Conflict:
    exc = Conflict(message)
    exc.details = {
        "conflict": {"name": name, "expected": expected, "current": None if current is None else {"revision": current}}
    }
    return exc


def _check_revision(path: Path, name: str, expected: str) -> None:
    current = _revision(path)
    if current == expected:
        return
    happened = "changed elsewhere" if current else "deleted"
    raise _conflict(f"Template {name} was {happened} since you opened it", name, expected, current)


def save_template(call: Call) -> dict[str, Any]:
    """Write a template; with `revision` (from GET), only if the file is still at it (409 else);
    with `overwrite: false`, only if there is no such file yet (409 naming its revision else)."""
    name = call.text("name", required=True)
    content = _content(call)
    expected = call.optional_text("revision")
    path = template_path(call, name)
    with _saving:
        if expected is not None:
            _check_revision(path, name, expected)
        if path.exists() and not call.flag("overwrite", True):
            raise _conflict(f"Template {name} already exists", name, expected, _revision(path))
        data = content.encode("utf-8")
        atomic_write(path, data, mode=0o644)  # makes the template directory if need be
    return {"name": name, "saved": True, "size": len(data), "revision": _digest(data)}


def delete_template(call: Call) -> dict[str, Any]:
    """Delete a template; with `revision` (from GET), only if the file is still at it (409 else)."""
    name = call.text("name", required=True)
    expected = call.optional_text("revision")
    path = template_path(call, name)
    with _saving:
        if not path.is_file():
            raise NotFound(f"Template {name} not found")
        if expected is not None:
            _check_revision(path, name, expected)
        os.unlink(path)
    return {"name": name, "deleted": True}


def generate(call: Call) -> dict[str, Any]:
    stage = call.stage()
    slugs = call.names("vaults") or call.project.visible_vaults()
    for slug in slugs:
        call.project.check_vault(slug)
    generated = templating.generate_template(call.vault, stage, slugs)
    return {
        "name": f"{stage}.env", "content": generated.text, "placeholders": generated.placeholders,
        "vaults": generated.vaults, "notes": generated.notes,
    }


def validate(call: Call) -> dict[str, Any]:
    """Syntax, vaults and names; with `stage`, also that every placeholder resolves."""
    content = _content(call)
    stage = call.stage() if call.optional_text("stage") else None
    with _as_file(content, "template.env") as path:
        report = templating.validate_template(call.project, call.vault, path, stage)
    return {
        "valid": not report.problems,
        "placeholders": report.placeholders,
        "problems": report.problems,
        "warnings": report.warnings,
        "notes": report.notes,
    }


def render_text(
    call: Call,
    stage: str,
    *,
    template_name: str | None,
    content: str | None,
    format_name: str,
    missing: str,
    include_all: bool,
    all_vaults: Sequence[str],
    patterns: Patterns,
) -> templating.TemplateOutput:
    """Render a saved template (by name) or unsaved text, exactly as `keep export --template`."""
    shown = f"{call.project.settings.template_path}/{template_name or 'template.env'}"

    def run(path: Path) -> templating.TemplateOutput:
        # messages name the template as the user knows it, not by a server-side path
        try:
            output = templating.render_template(
                call.project, call.vault, stage, path, format_name=format_name, missing=missing,
                include_all=include_all, all_vaults=all_vaults, patterns=patterns,
            )
        except KeepError as exc:
            exc.message = _scrub(exc.message, path, shown)
            raise
        output.warnings = [_scrub(w, path, shown) for w in output.warnings]
        return output

    if content is None:
        assert template_name is not None
        path = template_path(call, template_name)
        if not path.is_file():
            raise NotFound(f"Template {template_name} not found")
        return run(path)
    with _as_file(content, "template.env") as path:
        return run(path)


def routes(make: Any) -> list[Route]:
    return [
        Route("/api/templates", make(list_templates), methods=["GET"]),
        Route("/api/template", make(read_template), methods=["GET"]),
        Route("/api/template", make(save_template), methods=["PUT"]),
        Route("/api/template", make(delete_template), methods=["DELETE"]),
        Route("/api/template/generate", make(generate), methods=["POST"]),
        Route("/api/template/validate", make(validate), methods=["POST"]),
    ]
