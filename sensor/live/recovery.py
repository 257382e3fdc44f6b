"""Link supervision of the live clients: reconnect with backoff, restart silent or stopped streams.

Split out of :mod:`hipflex.sensor.live.session` for size; :class:`LinkRecovery` is a mixin
of :class:`~hipflex.sensor.live.session.BleSensorClient` and works on its state.

- **Drop while streaming** (the disconnected callback wakes the supervisor): log a
  ``disconnected`` event, then per attempt emit ``Reconnecting``, wait
  ``ReconnectPolicy.delay_s(attempt)`` (0.5, 1, 2, 4, 8, 8 ... s), reconnect with
  ``establish_connection``, re-subscribe (``_on_link_up``), log ``reconnected`` and
  restart the streams (``_start_streams(restart=True)``: the device's leftovers are
  stopped first).  No adapter or no permission ends the session at once; other
  failures retry until ``max_attempts`` (``None``: until stopped).
- **Device-initiated stop** (woken by the subclass) and **stall** (no data for
  ``stall_timeout_s`` while connected): restart the streams on the live link; a stream
  still silent after a restart gets its link dropped, and the drop path takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from hipflex.sensor.errors import NoAdapter, PermissionDenied, SensorError, StreamFailed
from hipflex.sensor.live.client import ClientItem, Connected, Disconnected, Reconnecting, ReconnectPolicy
from hipflex.sensor.live.pipeline import ClientStats

__all__ = ["LinkRecovery"]

_log = logging.getLogger(__name__)


class LinkRecovery:
    """Mixin: the supervisor task of a live client (see the module notes)."""

    if TYPE_CHECKING:  # provided by BleSensorClient
        _state: str
        _wake: asyncio.Queue[str]
        _ops: asyncio.Lock
        _client: BleakClient | None
        _device: BLEDevice | None
        _clock: Callable[[], float]
        _last_data_loop_s: float
        stall_timeout_s: float | None
        reconnect_policy: ReconnectPolicy
        stats: ClientStats

        @property
        def name(self) -> str: ...

        @property
        def address(self) -> str: ...

        @property
        def mtu(self) -> int: ...

        async def _start_streams(self, client: BleakClient, restart: bool) -> None: ...

        async def _open_link(self, device: BLEDevice, *, attempts: int, first: bool) -> BleakClient: ...

        async def _close_link(self) -> None: ...

        def _event(self, name: str, **info: Any) -> None: ...

        def _emit(self, item: ClientItem) -> None: ...

        def _fail(self, exc: BaseException) -> None: ...

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        strikes = 0
        while self._state in ("streaming", "recovering"):
            timeout = self.stall_timeout_s
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation
                # that arrives in the same loop turn as the item (the stop() that cancels us).
                async with asyncio.timeout(timeout):
                    reason = await self._wake.get()
            except TimeoutError:
                if loop.time() - self._last_data_loop_s < (timeout or 0.0):
                    strikes = 0
                    continue
                strikes += 1
                reason = "stalled" if strikes == 1 else "still stalled"
            if self._state != "streaming":
                return
            if reason == "link lost":
                strikes = 0
                await self._recover(reason)
            elif reason == "still stalled":
                _log.warning("%s: no data for %.0f s after a restart; dropping the link", self.name, timeout)
                client = self._client
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.disconnect()  # the disconnected callback starts the reconnect
            else:
                await self._restart(reason)

    async def _restart(self, reason: str) -> None:
        """Restart the streams on the live link (device-initiated stop, stall)."""
        _log.warning("%s: restarting the streams (%s)", self.name, reason)
        async with self._ops:
            client = self._client
            if client is None or self._state != "streaming":
                return
            try:
                await self._start_streams(client, restart=True)
                self.stats.stream_restarts += 1
            except (BleakError, TimeoutError, OSError, SensorError) as exc:
                _log.warning("%s: restart failed (%s); dropping the link to reconnect", self.name, exc)
                with contextlib.suppress(Exception):
                    await client.disconnect()
        self._last_data_loop_s = asyncio.get_running_loop().time()

    async def _recover(self, reason: str) -> None:
        self._state = "recovering"
        self._event("disconnected", reason=reason)
        self._emit(Disconnected(self._clock(), reason, will_reconnect=True))
        policy = self.reconnect_policy
        attempt, last_error = 0, ""
        while self._state == "recovering":
            attempt += 1
            delay = policy.delay_s(attempt)
            self._emit(Reconnecting(self._clock(), attempt, delay, last_error))
            await asyncio.sleep(delay)
            if self._state != "recovering":
                return
            try:
                async with self._ops:
                    assert self._device is not None
                    client = await self._open_link(self._device, attempts=policy.connect_attempts, first=False)
                    self._event("reconnected", attempt=attempt)
                    await self._start_streams(client, restart=True)
                if not client.is_connected or self._client is not client:
                    raise StreamFailed("the link dropped again while the streams restarted")
            except (NoAdapter, PermissionDenied) as exc:
                self._fail(exc)
                return
            except (SensorError, BleakError, TimeoutError, OSError) as exc:
                last_error = " ".join(str(exc).split()) or type(exc).__name__
                _log.info("%s: reconnect attempt %d failed: %s", self.name, attempt, last_error)
                await self._close_link()
                if policy.max_attempts is not None and attempt >= policy.max_attempts:
                    self._fail(StreamFailed(f"lost {self.name} and gave up after {attempt} attempts: {last_error}"))
                    return
                continue
            self.stats.reconnects += 1
            if self._state != "recovering":
                return  # stopped meanwhile: stop() takes the streams and the link down
            self._state = "streaming"
            self._last_data_loop_s = asyncio.get_running_loop().time()
            self._emit(Connected(self._clock(), self.name, self.address, self.mtu, reconnect=True))
            return
