"""Serving from the command line: the address is bound before anything is opened or written."""

from __future__ import annotations

import logging
import socket

from api.cli_entry import EXIT_INTERRUPTED
from api.deps import Services
from api.settings import Settings, trusted_proxies
from graph.errors import DomainError


class CannotListen(DomainError):
    """The address to serve on cannot be bound (a port in use, a host of no interface here)."""

    status_code = 503
    code = "cannot_listen"


def listen(settings: Settings) -> socket.socket:
    """Bind and listen on the settings' address now: a port in use then fails before a command
    has made or changed a store, and no other process can take the port meanwhile."""
    # A host of bytes that are not UTF-8 (lone surrogates) raises UnicodeEncodeError here, which
    # the command line says as such.
    settings.host.encode()
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server would
        sock.bind((settings.host, settings.port))
        sock.listen()
    except (OSError, TypeError) as error:
        # In use, not ours, a host name that does not resolve, or (TypeError) one that does
        # not encode for the lookup at all: a label of more than 63 characters, say.
        sock.close()
        why = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise CannotListen(f"cannot listen on {settings.host}:{settings.port}: {why}") from error
    return sock


def run_server(settings: Settings, listener: socket.socket) -> bool:
    """Serve the store the settings name on `listener` until stopped; False if it never started.

    Stopped by Ctrl-C, the server shuts down and the process exits with EXIT_INTERRUPTED.
    """
    import uvicorn

    from api.app import create_app
    from api.audit import server_log_config
    from scheduler.jobs import shutdown_default

    with listener:
        # Opened here rather than in the app's start-up, so a store that cannot be opened is one
        # line and its exit code, as in every other command, and not a traceback from the server.
        services = Services.from_settings(settings)
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a client on
        # this host would choose the address its failed logins count against.
        proxies = trusted_proxies(settings)
        try:
            config = uvicorn.Config(
                create_app(settings, services),
                host=settings.host,
                port=settings.port,
                log_config=server_log_config(),
                proxy_headers=bool(proxies),
                forwarded_allow_ips=proxies,
            )
            server = uvicorn.Server(config)
            # Handed a bound socket, the server does not say where it listens: say it for it.
            host = f"[{settings.host}]" if ":" in settings.host else settings.host
            logging.getLogger("uvicorn.error").info(
                "serving at http://%s:%d/ (Ctrl-C to stop)", host, settings.port
            )
            interrupted = False
            try:
                server.run(sockets=[listener])
            except KeyboardInterrupt:
                # The server shuts down on Ctrl-C, then raises it again for Python's default: a
                # traceback and death by the signal. Ended quietly instead, as shells expect.
                interrupted = True
        finally:
            shutdown_default()
            services.close()
    if interrupted:
        raise SystemExit(EXIT_INTERRUPTED)
    return server.started
