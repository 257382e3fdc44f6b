"""Helpers of the service tests: a Bluetooth backend without a radio, a server handle, stream readers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from hipflex.service.devices import DeviceInfo, DeviceNotFound, DevicesUnavailable
from hipflex.service.sources import SampleSource, SimulatorSource, SourceError

__all__ = [
    "ADDRESSES", "FakeDevices", "LiveServer", "NoBluetooth", "serve", "sse_messages", "wait_until", "ws_messages",
]  # fmt: skip

ADDRESSES = ("A0:9E:1A:00:00:01", "C4:AA:BB:00:00:02")


class FakeDevices:
    """Two sensors in range; a connected one streams a simulated session at high speed."""

    def __init__(self, speed: float = 50.0) -> None:
        self.speed = speed
        self.known: dict[str, DeviceInfo] = {}
        self.radio = {
            ADDRESSES[0]: DeviceInfo(ADDRESSES[0], "Polar Sense 0A1B2C3D", "polar", -55),
            ADDRESSES[1]: DeviceInfo(ADDRESSES[1], "MetaWear", "metawear", -70),
        }

    async def scan(self, timeout_s: float) -> list[DeviceInfo]:
        self.known.update(self.radio)
        return list(self.radio.values())

    async def connect(self, address: str) -> DeviceInfo:
        if address not in self.radio:
            raise DeviceNotFound(address)
        info = replace(self.radio[address], connected=True, battery_pct=87)
        self.known[address] = info
        return info

    async def disconnect(self, address: str) -> DeviceInfo:
        if address not in self.known:
            raise DeviceNotFound(address)
        info = replace(self.known[address], connected=False)
        self.known[address] = info
        return info

    def status(self, address: str) -> DeviceInfo | None:
        return self.known.get(address)

    def source(self, address: str) -> SampleSource:
        info = self.known.get(address)
        if info is None or not info.connected:
            raise SourceError(f"device {address} is not connected; connect it first")
        return SimulatorSource("march", 100.0, True, seed=5, n_sets=1, speed=self.speed)

    async def aclose(self) -> None:
        self.known.clear()


class NoBluetooth(FakeDevices):
    """A machine without an adapter."""

    async def scan(self, timeout_s: float) -> list[DeviceInfo]:
        raise DevicesUnavailable("Bluetooth is not available (no adapter or no permission): no adapter")

    async def connect(self, address: str) -> DeviceInfo:
        raise DevicesUnavailable("Bluetooth is not available (no adapter or no permission): no adapter")


@dataclass
class LiveServer:
    """A running server and a client for it."""

    url: str
    client: httpx.Client
    settings: Any
    devices: FakeDevices

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def wait_ended(self, session_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll until the session is no longer running."""
        deadline = time.monotonic() + timeout_s
        while True:
            s = self.client.get(f"/api/v1/sessions/{session_id}").json()
            if s["status"] != "running":
                out: dict[str, Any] = s
                return out
            assert time.monotonic() < deadline, f"session {session_id} still running after {timeout_s} s"
            time.sleep(0.05)


def wait_until(cond: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll ``cond`` until it is true: a wait on the event that matters, failing with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"still waiting after {timeout_s} s for {what}"
        time.sleep(0.02)


def sse_messages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every ``data:`` message of an SSE stream until the server ends it."""
    out = []
    with client.stream("GET", path, params=params, timeout=60.0) as resp:
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
    return out


def ws_messages(url: str, timeout_s: float = 60.0) -> tuple[list[dict[str, Any]], int | None]:
    """Every message of a WebSocket until the server closes it, and the close code."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    out = []
    with connect(url, open_timeout=10) as ws:
        try:
            while True:
                out.append(json.loads(ws.recv(timeout=timeout_s)))
        except ConnectionClosed:
            pass
        code = ws.close_code
    return out, code


@contextmanager
def serve(settings: Any, **app_options: Any) -> Iterator[httpx.Client]:
    """``create_app(settings, **app_options)`` on a free loopback port; yields a client for it."""
    from hipflex.service.app import create_app
    from hipflex.service.server import ServerThread

    server = ServerThread(create_app(settings, **app_options)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            yield client
    finally:
        server.stop()
