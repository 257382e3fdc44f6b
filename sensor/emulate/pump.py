"""Drive an emulated sensor on manual time as fast as the link delivers: tests, fixtures, benchmarks.

An emulator created with ``time_scale=None`` (:mod:`hipflex.sensor.emulate.devices`) only moves
when told to.  :class:`ManualPump` moves it in steps of emulated time and, after each
step, waits (in host time) until the client has received everything the step sent, so
a ten-minute session takes seconds, is deterministic, and never outruns the link.  Give
the client ``BleBackends(clock=lambda: t0 + emulator.uptime_s())`` so that arrival times
and device times advance together, as they do in real life.

When the link drops, the device keeps sampling for ``outage_s`` of emulated time (those
samples are lost, as on a real drop), then time stands still until the client has
reconnected and restarted its streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

__all__ = ["ManualPump", "until"]

_OUTAGE_STEP_S: Final = 0.2


async def until(condition: Callable[[], bool], timeout_s: float = 10.0, poll_s: float = 0.0003) -> None:
    """Wait (host time) until ``condition()`` holds.

    Raises
    ------
    TimeoutError
        It did not within ``timeout_s``.
    """
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(poll_s)


class ManualPump:
    """Advances a manual-time emulator while its client streams.

    Parameters
    ----------
    emu : EmulatedPeripheral
        A hosted emulator with ``time_scale=None``.
    client : BleSensorClient
        The client streaming from it.
    step_s : float
        Emulated seconds per step; arrival times are quantised to it, so keep it below
        the client's loss thresholds (MetaWear: 0.25 s).
    outage_s : float
        Emulated seconds the device samples into the void after a drop.

    Attributes
    ----------
    outages : int
        Link drops pumped through.
    """

    def __init__(self, emu: Any, client: Any, *, step_s: float = 0.5, outage_s: float = 2.0) -> None:
        if not (step_s > 0 and outage_s >= 0):
            raise ValueError("step_s must be > 0 and outage_s >= 0")
        self.emu, self.client = emu, client
        self.step_s, self.outage_s = float(step_s), float(outage_s)
        self.outages = 0

    def _sent(self) -> int:
        return int(self.emu.stats.sent) + len(getattr(self.emu, "responses", ()))

    async def step(self) -> None:
        """One step; returns once the client has what it produced, or the link is down."""
        server, stats = self.emu.server, self.client.stats
        base = stats.notifications - self._sent()
        drops = self.emu.stats.forced_disconnects
        self.emu.advance(self.step_s)
        if self.emu.stats.forced_disconnects > drops:
            # Dropped inside the step: wait until the link has really gone and the client has
            # taken what was in flight and noticed the drop, so every run starts its outage
            # from the same state (and in-flight values are not stamped after the outage).
            reconnects = self.client.stats.reconnects
            await until(
                lambda: (
                    not server.is_connected
                    and (self.client.state != "streaming" or self.client.stats.reconnects > reconnects)
                )
            )
            return
        target = self._sent() + base
        await until(lambda: stats.notifications >= target or not server.is_connected)

    async def run(self, until_s: float, *, stop: bool = True) -> None:
        """Pump until emulator uptime ``until_s`` (or the session ends); then stop the client."""
        client, emu = self.client, self.emu
        reconnects = client.stats.reconnects
        live = ("streaming", "recovering")
        while emu.uptime_s() < until_s and client.state in live:
            if client.state == "streaming" and emu.server.is_connected:
                reconnects = client.stats.reconnects
                await self.step()
                continue
            # The link is down: the device samples on for the outage (no yielding, so the
            # client cannot come back in the middle of it), then the host reconnects.
            self.outages += 1
            for _ in range(round(self.outage_s / _OUTAGE_STEP_S)):
                emu.advance(_OUTAGE_STEP_S)

            def back(r: int = reconnects) -> bool:
                return client.stats.reconnects > r or client.state not in live

            await until(back)
        if stop:
            await client.stop()
