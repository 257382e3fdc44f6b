"""A bounded pool of its own for CPU-heavy work on untrusted files (uploads, replay loading).

Parsing and analysing a recording can take seconds; run in the event loop's
default executor (which the routes' short store calls share) a few hostile
uploads would starve every route.  :class:`AnalysisPool` runs such work on a
few daemon threads of its own and admits only a bounded number of jobs at
once (running or waiting): more are refused with :class:`PoolBusy` (HTTP 503)
instead of queueing memory without bound.

A job receives a :class:`threading.Event` that is set when its client went
away or the server is stopping; jobs check it between stages and raise
:class:`Cancelled`.  A job that has not started yet never runs.  The threads
are daemons, so a job that is still inside a stage never keeps the process
from exiting on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from hipflex.service.errors import ServiceLayerError

__all__ = ["AnalysisPool", "ByteBudget", "Cancelled", "DisconnectCheck", "PoolBusy", "UploadGate"]

log = logging.getLogger("hipflex.service")

T = TypeVar("T")

#: A request's ``is_disconnected``: answers True once its client hung up.
DisconnectCheck = Callable[[], Awaitable[bool]]

#: How often a waiting request asks whether its client is still there, seconds.
POLL_S = 0.2


class PoolBusy(ServiceLayerError, RuntimeError):
    """As many analyses as the server admits are already running or waiting."""


class Cancelled(ServiceLayerError, RuntimeError):
    """The job's client went away, or the server is stopping."""


class ByteBudget:
    """At most ``limit_bytes`` of input files parsed and analysed at once.

    Parsing takes several times a file's size in memory (six times for rows of
    14 bytes), so the pool's thread count alone does not bound it: two uploads
    at the size limit took the server past 1 GB.  A job holds its file's size
    (at most the whole budget: a larger file runs alone) while it parses and
    analyses; a job that does not fit waits, watching its cancel event.

    Parameters
    ----------
    limit_bytes : int
    """

    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 1:
            raise ValueError("limit_bytes must be positive")
        self.limit_bytes = limit_bytes
        self.used_bytes = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, nbytes: int, cancel: threading.Event) -> Iterator[None]:
        """Hold ``nbytes`` of the budget for the ``with`` block (waits for room; raises :class:`Cancelled`)."""
        n = min(max(int(nbytes), 0), self.limit_bytes)
        with self._cond:
            while self.used_bytes + n > self.limit_bytes:
                if cancel.is_set():
                    raise Cancelled("cancelled while waiting for memory")
                self._cond.wait(POLL_S)
            self.used_bytes += n
        try:
            yield
        finally:
            with self._cond:
                self.used_bytes -= n
                self._cond.notify_all()


_Job = tuple[Callable[[threading.Event], object], threading.Event, "Future[object]"]


class AnalysisPool:
    """Daemon worker threads with bounded admission.

    Parameters
    ----------
    workers : int
        Jobs running at once.
    max_waiting : int
        Jobs admitted beyond the running ones; later ones get :class:`PoolBusy`.
    budget_bytes : int
        Bytes of input files that jobs parse at once (:attr:`budget`, which jobs hold themselves).
    """

    def __init__(self, workers: int = 2, max_waiting: int = 4, budget_bytes: int = 64 * 1024 * 1024) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("workers must be positive and max_waiting not negative")
        self.workers = workers
        self.capacity = workers + max_waiting
        self.budget = ByteBudget(budget_bytes)
        self._admitted = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._events: set[threading.Event] = set()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"hipflex-analysis-{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    @property
    def admitted(self) -> int:
        """Jobs running or waiting now (a cancelled job counts until it stops)."""
        return self._admitted

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            fn, cancel, fut = job
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                if cancel.is_set():
                    raise Cancelled("cancelled before it started")
                fut.set_result(fn(cancel))
            except BaseException as exc:  # handed to the awaiting request
                fut.set_exception(exc)
            finally:
                self._release()

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(
        self,
        fn: Callable[[threading.Event], T],
        is_disconnected: DisconnectCheck | None = None,
    ) -> T:
        """Run ``fn(cancel_event)`` on the pool and return its result.

        Parameters
        ----------
        fn : callable
            The job; it should raise :class:`Cancelled` soon after its event is set.
        is_disconnected : async callable, optional
            Polled every :data:`POLL_S` while waiting; when it answers True the
            job is cancelled and :class:`Cancelled` raised.

        Raises
        ------
        PoolBusy
            The pool is full (or closed).
        Cancelled
        """
        with self._lock:
            if self._closed or self._admitted >= self.capacity:
                raise PoolBusy(f"{self._admitted} analyses are running or waiting, the most at once; retry later")
            self._admitted += 1
        cancel = threading.Event()
        self._events.add(cancel)
        fut: Future[object] = Future()
        wrapped = asyncio.wrap_future(fut)
        # A job abandoned by its request ends later with Cancelled: retrieve it, so asyncio does not log it.
        wrapped.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        try:
            self._queue.put((fn, cancel, fut))
            while True:
                done, _ = await asyncio.wait({wrapped}, timeout=POLL_S if is_disconnected else None)
                if done:
                    return wrapped.result()  # type: ignore[return-value]
                if is_disconnected is not None and await is_disconnected():
                    raise Cancelled("the client went away")
        finally:
            cancel.set()  # a job still running stops at its next check (and then frees its place)
            self._events.discard(cancel)
            if fut.cancel():  # a job still waiting never starts: its place is free at once
                self._release()

    def shutdown(self) -> None:
        """Cancel every job and let the threads end (does not wait for a job inside a stage)."""
        with self._lock:
            self._closed = True
        for event in list(self._events):
            event.set()
        for _ in self._threads:
            self._queue.put(None)


class UploadGate:
    """Admit at most ``limit`` upload requests at once, before their bodies are read.

    The pool refuses a job only once its request body has been received (the
    body is streamed to disk first); fifty concurrent uploads would all be
    received first.  The gate answers 503 at once, without reading the body,
    while ``limit`` uploads are in progress (the pool's capacity).

    Parameters
    ----------
    app : ASGI app
    limit : int
        Uploads in progress at once.
    paths : iterable of str
        The upload paths (POST).
    """

    def __init__(self, app: ASGIApp, limit: int, paths: Iterable[str]) -> None:
        self.app = app
        self.limit = limit
        self.paths = frozenset(paths)
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.limit:
            body = json.dumps({"detail": f"{self.in_progress} uploads are in progress, the most at once; retry later"})
            await send({
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"1"), (b"connection", b"close")],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": body.encode()})
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
