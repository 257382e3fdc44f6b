"""Running the app under uvicorn: in the foreground (``hipflex serve``) or in a thread (demo, tests).

:class:`Server` is a uvicorn server that ends the app's live streams when it
starts shutting down; otherwise an open Server-Sent Events response would
hold a graceful shutdown until its timeout.  Its ``on_started`` callback runs
once uvicorn listens (after the app's start-up), so whoever announces the
address never announces it before a client can connect.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from hipflex.service.guard import guarded_protocol, install_log_limits

__all__ = ["SWITCH_INTERVAL_S", "Server", "ServerThread", "bind_socket"]

#: The interpreter's thread switch interval while a server runs, seconds (Python's default is 0.005).
SWITCH_INTERVAL_S = 0.0005


class Server(uvicorn.Server):
    """uvicorn server that reports when it listens and closes the app's streams before waiting for connections.

    Parameters
    ----------
    config : uvicorn.Config
    on_started : callable, optional
        Called without arguments on the event loop once the app's start-up is done and
        the sockets accept connections (not called when start-up fails).
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # The loop shares the GIL with the threads that parse and analyse uploads. Each time it
        # comes back from a system call it waits for a busy thread to yield, up to the switch
        # interval (default 5 ms): a request of a dozen such calls took 60-100 ms under a flood
        # of uploads. A shorter interval bounds each wait; the parsers barely notice.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        app = self.config.app
        ctx = getattr(getattr(app, "state", None), "hipflex", None)
        if ctx is not None:
            ctx.manager.close_streams()
        await super().shutdown(sockets)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket (port 0 picks a free port).

    The protocol must be named: an accepted socket inherits it, and asyncio
    sets ``TCP_NODELAY`` only on sockets whose protocol is ``IPPROTO_TCP``.
    With protocol 0, Nagle's algorithm held every keep-alive response's last
    segment for the client's delayed ACK (~40 ms per request).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def make_config(app: FastAPI, **options: Any) -> uvicorn.Config:
    """uvicorn settings used everywhere: app lifespan on, quiet access log, short graceful shutdown.

    The app's :class:`~hipflex.service.settings.ServiceSettings` (``app.state.settings``) give the
    header timeout and the connection cap of :func:`~hipflex.service.guard.guarded_protocol`.
    """
    settings = getattr(app.state, "settings", None)
    header_timeout_s = getattr(settings, "header_timeout_s", 10.0)
    defaults: dict[str, Any] = {
        "lifespan": "on",
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        "ws_ping_interval": 20.0,
        "timeout_keep_alive": 5,
        "http": guarded_protocol(header_timeout_s, getattr(settings, "max_connections", 256)),
    }
    install_log_limits()
    return uvicorn.Config(app, **{**defaults, **options})


class ServerThread:
    """The app served on a socket by a background thread.

    Parameters
    ----------
    app : FastAPI
    host : str
        Bind address.
    port : int
        0 picks a free port; read :attr:`port` after :meth:`start`.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.host = host
        self.sock = bind_socket(host, port)
        self.port = int(self.sock.getsockname()[1])
        self._listening = threading.Event()
        self.server = Server(make_config(app, **options), on_started=self._listening.set)
        self.thread = threading.Thread(target=self._run, name="hipflex-server", daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except SystemExit:  # uvicorn exits when the app's start-up fails; start() reports it
            pass

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> ServerThread:
        """Start serving; returns once the app's start-up (and crash recovery) is done and it listens."""
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._listening.wait(0.05):
            if not self.thread.is_alive():
                self.sock.close()
                raise RuntimeError("the server failed to start (see the log above)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {timeout_s:g} s")
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Shut down cleanly (sessions are stopped and stored) and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
