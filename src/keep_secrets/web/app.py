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

from . import routes_bulk, routes_project, routes_secrets, routes_templates
from .api import Handler, HttpError, endpoint, error_response, read_body
from .security import Auth, SecurityMiddleware, authorization

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(root: Path, auth: Auth, defaults: dict[str, str] | None = None) -> Starlette:
    """The app for the project at `root`; `auth` holds this run's host, port and tokens;
    `defaults` the vault and stage the page starts on."""

    def make(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return endpoint(root, handler, defaults)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")

    async def sign_in(request: Request) -> Response:
        """Exchange a one-time sign-in secret (from the URL fragment) for a session secret."""
        try:
            body = await read_body(request)
        except HttpError as exc:
            return error_response(exc.http_status, exc.message)
        secret = body.get("secret")
        session = auth.sign_in(secret) if isinstance(secret, str) and secret else None
        if session is None:
            return error_response(
                403, "This sign-in link is not valid or was already used (each link works once)",
                "press Enter in the terminal running `keep server` for a new one",
            )
        return JSONResponse({"session": session, "idle_timeout": auth.idle_timeout}, status_code=201)

    async def session_info(request: Request) -> Response:
        return JSONResponse({"signed_in": True, "idle_timeout": auth.idle_timeout})

    async def sign_out(request: Request) -> Response:
        _scheme, token = authorization({"authorization": request.headers.get("authorization", "")})
        return JSONResponse({"signed_out": auth.end_session(token)})

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
        Route("/api/session", sign_in, methods=["POST"]),
        Route("/api/session", session_info, methods=["GET"]),
        Route("/api/session", sign_out, methods=["DELETE"]),
        *routes_secrets.routes(make),
        *routes_bulk.routes(make),
        *routes_templates.routes(make),
        *routes_project.routes(make),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.add_middleware(SecurityMiddleware, auth=auth)
    return app
