"""Fan-out of a session's live messages to many stream clients.

The hub lives on the event loop.  :meth:`Hub.publish` serialises each
message once and offers the text to every subscriber's bounded buffer; it
never waits.  A subscriber whose buffer is half full skips ``angle``
messages; one whose buffer is full is dropped (its stream ends, and the
client may reconnect and resume with ``after_seq``).  Rep, set and status
messages are kept as history so a client that joins late, or resumes,
first receives what it missed.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

__all__ = ["Hub", "Item", "Subscriber"]

#: A queued message: sequence number, type and the JSON text.
Item = tuple[int, str, str]


class Subscriber:
    """One stream client's bounded buffer of serialised messages.

    Parameters
    ----------
    maxlen : int
        Most messages buffered before the client is dropped.
    """

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.skipped = 0
        self.dropped = False
        self.closed = False
        self._buf: deque[Item] = deque()
        self._wake = asyncio.Event()

    def offer(self, item: Item, skippable: bool = False) -> bool:
        """Queue a message; returns False once the subscriber is closed or dropped."""
        if self.closed:
            return False
        if skippable and len(self._buf) >= self.maxlen // 2:
            self.skipped += 1
            return True
        if len(self._buf) >= self.maxlen:
            self.dropped = True
            self._buf.clear()
            self.close()
            return False
        self._buf.append(item)
        self._wake.set()
        return True

    def preload(self, items: list[Item]) -> None:
        """Queue history regardless of the bound (it is what the client asked for)."""
        self._buf.extend(items)
        if items:
            self._wake.set()

    def close(self) -> None:
        """End the stream after the buffered messages (immediately when dropped)."""
        self.closed = True
        self._wake.set()

    async def get(self, timeout_s: float | None = None) -> Item | None:
        """The next message; ``None`` at the end of the stream.

        Raises ``TimeoutError`` when ``timeout_s`` passes without a message
        (used for keep-alives).
        """
        while not self._buf:
            if self.closed:
                return None
            self._wake.clear()
            # Not wait_for: Python 3.11's swallows a cancellation that lands with the wake-up.
            async with asyncio.timeout(timeout_s):  # None: no limit
                await self._wake.wait()
        return self._buf.popleft()

    def __len__(self) -> int:
        return len(self._buf)


class Hub:
    """A session's publisher.

    Parameters
    ----------
    queue_size : int
        Buffer bound of each subscriber.
    """

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.seq = 0
        self.closed = False
        self.dropped = 0
        self._subs: set[Subscriber] = set()
        self._history: list[Item] = []

    @property
    def subscriber_count(self) -> int:
        """Clients currently attached."""
        return len(self._subs)

    def publish(self, messages: list[dict[str, Any]]) -> None:
        """Number, serialise and fan out messages (never blocks)."""
        for msg in messages:
            self.seq += 1
            msg["seq"] = self.seq
            text = json.dumps(msg, allow_nan=False, separators=(",", ":"))
            item = (self.seq, msg["type"], text)
            angle = msg["type"] == "angle"
            if not angle:
                self._history.append(item)
            for sub in list(self._subs):
                if not sub.offer(item, skippable=angle):
                    self._subs.discard(sub)
                    self.dropped += sub.dropped

    def subscribe(self, after_seq: int = 0) -> Subscriber:
        """A new subscriber, preloaded with the history after ``after_seq``."""
        sub = Subscriber(self.queue_size)
        sub.preload([item for item in self._history if item[0] > after_seq])
        if self.closed:
            sub.close()
        else:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Detach a client (its stream went away)."""
        self._subs.discard(sub)
        sub.close()

    def close(self) -> None:
        """End every stream after what is buffered; later subscribers get the history only."""
        self.closed = True
        for sub in self._subs:
            sub.close()
        self._subs.clear()
