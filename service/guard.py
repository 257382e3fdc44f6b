"""Slow and numerous clients: header and body timeouts, a connection cap, and rate-limited logs.

uvicorn times out only idle keep-alive connections *after* a response; a
client that sends its request headers one byte every few seconds (or starts a
body and stalls) holds its connection, and a file descriptor, for ever.
:func:`guarded_protocol` returns uvicorn's h11 protocol with three guards:

* a request's headers must be complete within ``header_timeout_s`` of the
  connection opening, or of the first byte after the previous response;
* a request body must not stall for longer than ``header_timeout_s``;
* beyond ``max_connections`` open connections, a new one is closed at once
  (before any work), so descriptors are never exhausted by idle sockets.

:class:`RateLimitFilter` keeps repeated log lines (a flood of "Too many open
files") to one per interval, with a count of what it held back.
"""

from __future__ import annotations

import asyncio
import logging
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["RateLimitFilter", "guarded_protocol", "install_log_limits"]

log = logging.getLogger("hipflex.service")


class RateLimitFilter(logging.Filter):
    """Let one record per distinct message template through every ``interval_s`` seconds.

    Parameters
    ----------
    interval_s : float
        Shortest time between two records with the same message template.
    """

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval_s:
            self._last[key] = (last, held + 1)
            return False
        if len(self._last) > 1000:  # bounded: forget old templates
            self._last.clear()
        self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} similar message(s) held back in the last {self.interval_s:g} s)"
        return True


_LIMITED = ("asyncio", "uvicorn.error", "hipflex.service.guard")


def install_log_limits(interval_s: float = 10.0) -> None:
    """Rate-limit the loggers that report accept and connection errors (idempotent)."""
    for name in _LIMITED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
            logger.addFilter(RateLimitFilter(interval_s))


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with header/body timeouts and a connection cap (see the module docs)."""
    guard_log = logging.getLogger("hipflex.service.guard")

    class GuardedH11Protocol(H11Protocol):
        _refused = False
        _deadline: asyncio.TimerHandle | None = None
        _stall: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self._refused = True
                guard_log.warning("%d connections open, the most allowed: closing new ones", max_connections)
                transport.abort()
                return
            super().connection_made(transport)
            self._arm_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
                self._arm_deadline()  # the first byte of the next request on a kept-alive connection
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before and self._deadline is not None:  # headers complete
                self._deadline.cancel()
                self._deadline = None
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None
            if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
                self._stall = self.loop.call_later(header_timeout_s, self._timed_out, "body stalled")

        def _arm_deadline(self) -> None:
            self._deadline = self.loop.call_later(header_timeout_s, self._timed_out, "headers incomplete")

        def _disarm(self) -> None:
            for timer in (self._deadline, self._stall):
                if timer is not None:
                    timer.cancel()
            self._deadline = self._stall = None

        def _timed_out(self, why: str) -> None:
            if self.transport.is_closing() or self.transport.get_protocol() is not self:  # upgraded to WebSocket
                return
            if why == "body stalled":
                if self.conn.their_state is not h11.SEND_BODY:
                    return
                if self.flow.read_paused:  # we stopped reading (the app is behind), not the client
                    self._stall = self.loop.call_later(header_timeout_s, self._timed_out, why)
                    return
            guard_log.info("closing a connection: %s after %g s", why, header_timeout_s)
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.disconnected = True
                self.cycle.message_event.set()
            self.transport.close()

    return GuardedH11Protocol
