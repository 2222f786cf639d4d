"""The plumbing every JSON endpoint shares: input reading and checking, the per-request
project and vaults, and the mapping of keep's error types to HTTP status codes.

Endpoints are plain synchronous functions `(call) -> dict`; :func:`endpoint` runs them in a
worker thread (the vault drivers block: SQLite, boto3) and turns expected failures into
`{"error", "hint", "status"}`: the status is the error type's own ``http_status`` (the one
error table lives in :mod:`keep_secrets.model`), the hint is worded for the page
(:mod:`keep_secrets.web.hints`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..model import KeepError, UsageError
from ..names import Patterns
from ..vaults.base import VaultPool
from .hints import web_hint
from .security import MAX_BODY

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault

log = logging.getLogger("keep.web")

class HttpError(KeepError):
    """A request problem that has no keep error type (bad JSON, wrong field type...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.http_status = status


def error_response(
    status: int, message: str, hint: str | None = None, details: dict[str, Any] | None = None
) -> JSONResponse:
    data: dict[str, Any] = {"error": message, "hint": hint, "status": status}
    if details:
        data.update(details)
    return JSONResponse(data, status_code=status)


class Call:
    """One API request: its query, JSON body, the project (re-read from disk so changes made
    with the CLI show up at once) and the vaults it opened (closed when the call ends)."""

    def __init__(
        self, root: Path, query: dict[str, str], body: dict[str, Any], defaults: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.query = query
        self.body = body
        #: the page's starting vault/stage (`keep server --vault --stage`)
        self.defaults = defaults or {}
        self._project: Project | None = None
        self._vaults = VaultPool(lambda: self.project)

    # -- inputs ----------------------------------------------------------------------------
    def raw(self, name: str) -> Any:
        if name in self.body:
            return self.body[name]
        return self.query.get(name)

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None or (required and value == ""):
            if required:
                raise UsageError(f"Missing required field '{name}'")
            return default if default is not None else ""
        if not isinstance(value, str):
            raise UsageError(f"Field '{name}' must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise UsageError(f"Field '{name}' must be a string")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"Field '{name}' must be true or false")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            raise UsageError(f"Field '{name}' must be a whole number from {low} to {high}")
        return number

    def names(self, name: str) -> list[str] | None:
        """A list of names, given as a JSON array or a comma-separated string."""
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value if v.strip()]
        raise UsageError(f"Field '{name}' must be a list of names")

    def patterns(self) -> Patterns:
        return Patterns.parse(self.optional_text("only"), self.optional_text("except"))

    # -- project and vaults ----------------------------------------------------------------
    @property
    def project(self) -> Project:
        if self._project is None:
            from ..project import Project

            self._project = Project.load_at(self.root)
        return self._project

    def stage(self, name: str = "stage") -> str:
        return self.project.check_stage(self.text(name, required=True))

    def vault_slug(self, name: str = "vault") -> str:
        """The field's vault, else the one the CLI would choose (services.secret_ops.working_vault)."""
        from ..services.secret_ops import working_vault

        slug = working_vault(self.project, self.optional_text(name))
        if not slug:
            raise UsageError(f"Missing required field '{name}' (no default vault is configured)")
        return slug

    def vault(self, slug: str) -> Vault:
        return self._vaults.get(slug)

    def close(self) -> None:
        # closing must never hide the answer already computed: log and go on
        for slug, _exc in self._vaults.close():
            log.error("closing vault %s failed", slug, exc_info=_exc)


Handler = Callable[[Call], Any]


async def read_body(request: Request) -> dict[str, Any]:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return {}
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise HttpError(413, f"Request body too large (limit {MAX_BODY} bytes)")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "The request body is not valid JSON") from None
    except RecursionError:
        # e.g. 100,000 nested `[`: a hostile body is a 400, never a 500
        raise HttpError(400, "The request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise HttpError(400, "The request body must be a JSON object")
    return data


def _run(handler: Handler, call: Call) -> Any:
    try:
        return handler(call)
    finally:
        call.close()


def endpoint(
    root: Path, handler: Handler, defaults: dict[str, str] | None = None
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            body = await read_body(request)
            query = {k: v for k, v in request.query_params.items()}
            call = Call(root, query, body, defaults)
            result = await run_in_threadpool(_run, handler, call)
        except KeepError as exc:
            return error_response(exc.http_status, exc.message, web_hint(exc), exc.details)
        except RecursionError:
            # a hostile value nested beyond Python's limit (a JSON field, an import): bad input
            return error_response(400, "Input nested too deeply")
        except Exception as exc:
            # details go to the server's terminal, never to the page (they may quote values)
            log.error("internal error in %s %s: %s", request.method, request.url.path, type(exc).__name__)
            if os.environ.get("KEEP_DEBUG"):
                log.exception("details")
            return error_response(500, "Internal error; see the terminal running `keep server`")
        if isinstance(result, tuple):
            status, data = result
            return JSONResponse(data, status_code=status)
        return JSONResponse(result)

    return run
