"""`keep server`: the local web UI (SPEC §11).

The listening socket is bound here, before anything is printed, and handed to uvicorn: the
printed port is the one in use (no probe-then-bind race, Keep's §12.5 #57) and the browser is
opened only once the server answers.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import html
import ipaddress
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..concurrency import on_ctrl_c
from ..model import UsageError
from .context import Ctx, keep_command

if TYPE_CHECKING:
    import uvicorn

    from ..web.security import Auth

PORT_ATTEMPTS = 20


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; when the port is taken, the next free one of the
    following PORT_ATTEMPTS - 1 (port 0 lets the system choose)."""
    address = "127.0.0.1" if host == "localhost" else host
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        raise UsageError(
            f"Invalid --host {host!r}: use an IP address such as 127.0.0.1 (or localhost)"
        ) from None
    last: OSError | None = None
    candidates = [0] if port == 0 else range(port, min(port + PORT_ATTEMPTS, 65536))
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, candidate))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            last = exc
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise UsageError(f"Cannot listen on {host}:{candidate}: {exc.strerror or exc}") from None
        sock.set_inheritable(True)
        return sock
    reason = last.strerror if last is not None and last.strerror else "in use"
    raise UsageError(
        f"No free port from {port} to {port + PORT_ATTEMPTS - 1} on {host} ({reason})",
        hint="choose another with --port",
    )


SIGNIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url={url}"><title>keep: signing in</title></head>
<body><p><a href="{url}" rel="noreferrer">Continue to keep</a></p></body></html>
"""


def write_signin_file(url: str) -> Path:
    """A 0600 HTML file, in a private 0700 directory, that sends the browser on to `url`
    (the sign-in secret is in its fragment). The browser is opened on this file, so the
    secret is on no process's command line."""
    directory = Path(tempfile.mkdtemp(prefix="keep-signin-"))
    path = directory / "signin.html"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(SIGNIN_PAGE.format(url=html.escape(url, quote=True)))
    return path


def remove_signin_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):
        path.parent.rmdir()


def _open_browser_when_up(target: str, started: threading.Event, ctx: Ctx) -> None:
    def run() -> None:
        if not started.wait(30):
            return
        import webbrowser

        try:
            opened = webbrowser.open(target)
        except Exception:  # no browser is not an error: the link is printed
            opened = False
        if not opened:
            ctx.msg("Could not open a browser; open the link above yourself.")

    threading.Thread(target=run, name="keep-open-browser", daemon=True).start()


def _host_names() -> tuple[str, ...]:
    """This machine's own names (no DNS lookup): what a LAN link may carry."""
    name = socket.gethostname().strip().lower()
    if not name or name == "localhost":
        return ()
    short = name.split(".")[0]
    return tuple(dict.fromkeys([name, short, f"{short}.local"]))


@keep_command("server")
@click.option("--port", type=click.IntRange(0, 65535), default=4000, show_default=True,
              help="Port to listen on (the next free one is used if it is taken; 0 = any).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback exposes the UI to your network.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the link.")
@click.option("--idle-timeout", type=click.IntRange(0, 7 * 24 * 60), default=60, show_default=True,
              metavar="MINUTES", help="End a browser session after this many idle minutes (0 = never).")
def server_cmd(ctx: Ctx, port: int, host: str, no_browser: bool, idle_timeout: int) -> None:
    """Serve the local web UI until Ctrl+C.

    The browser is opened on a private sign-in file; the one-time link printed here signs in
    another browser (each link works once; press Enter in this terminal for a new one). The
    page keeps its session for this port only and ends it on Sign out or after
    --idle-timeout. --vault/--stage choose where the page starts. Scripts may call the JSON
    API with `Authorization: Bearer <token>` when the server was started with
    KEEP_SERVER_TOKEN=<token> (at least 32 characters) in its environment.
    """
    project = ctx.project  # not initialised -> one clear error, before any port is taken
    defaults = _start_at(ctx)
    preset = _preset_token()
    host = _canonical(host)
    sock = _bind(host, port)
    signin_file: Path | None = None
    try:
        bound_port = sock.getsockname()[1]
        wildcard = host in ("0.0.0.0", "::")
        from ..web.security import Auth

        auth = Auth(
            host=host, port=bound_port, idle_timeout=idle_timeout * 60, api_token=preset,
            host_names=_host_names() if wildcard else (),
        )
        server = _uvicorn_server(project.root, auth, defaults)

        def stop_server() -> None:
            server.should_exit = True

        # Ctrl+C is the way to stop, whenever it comes: a clean stop, exit 0. It asks uvicorn to
        # stop also before uvicorn installs its own handler: a KeyboardInterrupt raised there could
        # land inside an import, where Python drops it, and the server ran on
        with contextlib.suppress(KeyboardInterrupt), on_ctrl_c(stop_server, then_previous=False):
            if bound_port != port and port != 0:
                ctx.warn(f"port {port} is in use; using {bound_port}")
            if not _is_loopback(host):
                ctx.warn(f"listening on {host}: other machines on your network can reach this server")
            ctx.msg(f"keep web UI for {project.settings.app_name} ({project.root})")
            started = threading.Event()
            if not no_browser:
                signin_file = write_signin_file(auth.signin_url(auth.new_file_token(), local=True))
                auth.on_file_used = functools.partial(remove_signin_file, signin_file)
                _open_browser_when_up(signin_file.as_uri(), started, ctx)
            threading.Thread(target=_signal_started, args=(server, started), daemon=True).start()
            _print_link(ctx, auth, wildcard)
            server.run(sockets=[sock])
        ctx.msg("Server stopped.")
    finally:
        sock.close()
        if signin_file is not None:
            remove_signin_file(signin_file)


def _canonical(host: str) -> str:
    """An IP address as browsers write it in a URL and its Host header (`::0` and
    `0:0:0:0:0:0:0:0` are `::`, IPv6 in lower case), so the printed link, the all-interfaces
    handling and the Host check all see the address that was meant; names are kept as given."""
    try:
        return str(ipaddress.ip_address(host.strip()))
    except ValueError:
        return host


def _start_at(ctx: Ctx) -> dict[str, str]:
    """Where the page starts (--stage / --vault, checked before any port is taken)."""
    defaults: dict[str, str] = {}
    if ctx.stage_option:
        defaults["stage"] = ctx.project.check_stage(ctx.stage_option)
    if ctx.vault_option:
        ctx.project.check_vault(ctx.vault_option)
        defaults["vault"] = ctx.vault_option
    return defaults


def _preset_token() -> str | None:
    """KEEP_SERVER_TOKEN, the API token of scripts (checked before any port is taken)."""
    preset = os.environ.get("KEEP_SERVER_TOKEN") or None
    if preset is not None and (len(preset) < 32 or not preset.isascii() or any(c.isspace() for c in preset)):
        raise UsageError("KEEP_SERVER_TOKEN must be at least 32 printable ASCII characters without spaces")
    return preset


def _uvicorn_server(root: Path, auth: Auth, defaults: dict[str, str]) -> uvicorn.Server:
    import uvicorn

    from ..web.app import create_app

    app = create_app(root, auth, defaults)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="keep server: %(message)s")
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def _print_link(ctx: Ctx, auth: Auth, wildcard: bool) -> None:
    # the link is the only way in, so it is printed even with --quiet
    click.echo(f"Open this one-time link: {auth.login_url}", err=True)
    if wildcard and auth.base_url != auth.local_base_url:
        ctx.msg(f"(the same link on this machine: {auth.signin_url(auth.link_token, local=True)})")
    if _stdin_is_terminal():
        _offer_new_links(auth)
        ctx.msg("Press Enter for a new one-time sign-in link, Ctrl+C to stop.")
    else:
        ctx.msg("Press Ctrl+C to stop.")


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _in_foreground(fd: int) -> bool:
    """False while this process is a background job of its terminal (`keep server &`): reading
    the terminal then would stop the whole server (SIGTTIN). A terminal that is not our
    controlling one (no job control) never stops a reader."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return True


def _offer_new_links(auth: Auth) -> None:
    """Each Enter on the terminal prints a fresh one-time link (a link works once, so a
    second browser or a closed tab would otherwise need a restart). The terminal is read only
    while the server is its foreground job (after `fg`, Enter works again)."""
    import select

    def run() -> None:
        fd = sys.stdin.fileno()
        while True:
            if not _in_foreground(fd):
                time.sleep(0.5)
                continue
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready or not _in_foreground(fd):
                continue
            data = os.read(fd, 4096)
            if not data:
                return  # end of input
            if b"\n" in data or b"\r" in data:
                click.echo(f"New one-time sign-in link (the previous one no longer works): {auth.new_link()}", err=True)

    threading.Thread(target=run, name="keep-new-links", daemon=True).start()


def _signal_started(server: object, started: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if getattr(server, "started", False):
            started.set()
            return
        time.sleep(0.05)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
