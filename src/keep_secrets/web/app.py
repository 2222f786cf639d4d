"""The Starlette application behind `keep server`: JSON API under `/api/`, the page at `/`,
packaged assets under `/static/`, everything behind :class:`SecurityMiddleware`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import routes_bulk, routes_project, routes_secrets, templates_io
from .api import Handler, endpoint, error_response
from .security import Auth, SecurityMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(root: Path, auth: Auth, defaults: dict[str, str] | None = None) -> Starlette:
    """The app for the project at `root`; `auth` holds this run's host, port and tokens;
    `defaults` the vault and stage the page starts on."""

    def make(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return endpoint(root, handler, defaults)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if request.url.path.startswith("/api/"):
            if status == 404:
                return error_response(404, f"No API endpoint {request.method} {request.url.path}")
            message = "Method not allowed" if status == 405 else (exc.detail if isinstance(exc, HTTPException) else "")
            return error_response(status, str(message or "Error"))
        return JSONResponse({"error": "Not found" if status == 404 else "Error", "status": status}, status_code=status)

    routes: list[Any] = [
        Route("/", index, methods=["GET", "HEAD"]),
        *routes_secrets.routes(make),
        *routes_bulk.routes(make),
        *templates_io.routes(make),
        *routes_project.routes(make),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.add_middleware(SecurityMiddleware, auth=auth)
    return app
