"""Live Polar client (H10, Verity Sense) over PMD: subscribe, start, keep streaming, decode.

Protocol facts: ``../shared/reference/ble.md`` section 1 and ``firmware_notes/polar_*.md``.

- **Setup**: read the control point (features), then subscribe to **both** the control
  point (indications) and the data characteristic before any command, as the Polar SDK
  requires.  Battery Level is read (and followed when it notifies).
- **Start**: ``REQUEST_MEASUREMENT_START`` per stream (H10: ACC; Verity Sense: ACC and
  GYRO).  ``ALREADY_IN_STATE`` (status 6: a stream left running, typically after a
  reconnect) is answered with STOP, then START again, so the FACTOR and the timing
  restart cleanly.  ``INVALID_MTU`` (10) ends the session with an explanation.  Verity
  rates other than 52 Hz (or ranges other than the defaults) switch SDK mode on first.
- **Device-initiated stop** (``[0x01, types...]`` on the control point): the streams are
  started again on the same link.
- **Reconnect**: handled by :class:`~hipflex.sensor.live.session.BleSensorClient`; the
  restart here sends STOP before START so a stream the device kept running restarts.

Every START reply is in the capture (it carries the FACTOR), followed by a
``stream_started`` event; the decoder (and replay) reset that stream's timing on both.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from bleak import BleakClient
from bleak.exc import BleakError

from hipflex import __version__
from hipflex.sensor.capture.log import CaptureDevice, CaptureHeader, StreamSettings
from hipflex.sensor.errors import StreamFailed
from hipflex.sensor.live.session import BleSensorClient
from hipflex.sensor.polar.control import (
    CP_RESPONSE_CODE,
    MEASUREMENT_STOPPED_CODE,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    PmdFeatures,
    PmdResponse,
    PmdResponseAssembler,
    PmdStartSettings,
    PmdStatus,
    build_sdk_mode,
    build_start,
    build_stop,
    parse_features,
)
from hipflex.sensor.polar.frames import PmdDecodeError, PmdMeasurementType, PmdRepeatFilter

__all__ = ["H10", "POLAR_MODELS", "VERITY_SENSE", "PolarClient", "PolarModel", "PolarSettings", "polar_model"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolarModel:
    """What one Polar model streams (from ``firmware_notes/``).

    Attributes
    ----------
    model : str
        Model name as written in captures (``"H10"``, ``"Verity Sense"``).
    acc_rates_hz, acc_ranges_g : tuple of int
        Accelerometer choices in normal mode.
    sdk_rates_hz, sdk_acc_ranges_g, sdk_gyro_ranges_dps : tuple of int
        Choices in SDK mode (empty: no SDK mode).
    gyro : bool
        Whether the model has a gyroscope.
    default_rate_hz : int
        Rate used when none is asked for, Hz.
    channels : bool
        Whether START takes a CHANNELS setting (Verity does; the H10 does not).
    """

    model: str
    acc_rates_hz: tuple[int, ...]
    acc_ranges_g: tuple[int, ...]
    sdk_rates_hz: tuple[int, ...] = ()
    sdk_acc_ranges_g: tuple[int, ...] = ()
    sdk_gyro_ranges_dps: tuple[int, ...] = ()
    gyro: bool = False
    default_rate_hz: int = 52
    channels: bool = False


H10: Final = PolarModel("H10", (25, 50, 100, 200), (2, 4, 8), default_rate_hz=200)
VERITY_SENSE: Final = PolarModel(
    "Verity Sense",
    (52,),
    (8,),
    sdk_rates_hz=(26, 52, 104, 208, 416),
    sdk_acc_ranges_g=(2, 4, 8, 16),
    sdk_gyro_ranges_dps=(250, 500, 1000, 2000),
    gyro=True,
    default_rate_hz=52,
    channels=True,
)
#: Advertised name prefix -> model.
POLAR_MODELS: Final = {"polar h10": H10, "polar sense": VERITY_SENSE, "polar verity": VERITY_SENSE}


def polar_model(name: str | None, features: PmdFeatures | None = None) -> PolarModel:
    """The model from the advertised name, else from the features (a gyroscope means Verity-like)."""
    low = (name or "").lower()
    for prefix, model in POLAR_MODELS.items():
        if low.startswith(prefix):
            return model
    if features is not None and features.supports(PmdMeasurementType.GYRO):
        return VERITY_SENSE
    return H10


@dataclass(frozen=True)
class PolarSettings:
    """What to stream.

    Attributes
    ----------
    sample_rate_hz : int or None
        Rate of every stream, Hz (``None``: the model's default, H10 200, Verity 52).
    range_g : int
        Accelerometer full scale, +/- g.
    gyro : bool
        Stream the gyroscope too, when the model has one.
    gyro_range_dps : int
        Gyroscope full scale, +/- deg/s.
    """

    sample_rate_hz: int | None = None
    range_g: int = 8
    gyro: bool = True
    gyro_range_dps: int = 2000


@dataclass(frozen=True)
class _Stream:
    name: str
    measurement: PmdMeasurementType
    settings: PmdStartSettings


class _Commander:
    """Control-point request/response matching (responses arrive as indications in the callback)."""

    def __init__(self) -> None:
        self._assembler = PmdResponseAssembler()
        self._waiter: asyncio.Future[PmdResponse] | None = None
        self._opcode = -1
        self._lock = asyncio.Lock()

    def on_indication(self, data: bytes) -> None:
        try:
            self._assembler, response = self._assembler.feed(data)
        except PmdDecodeError as exc:
            _log.warning("unreadable control-point response %s: %s", data.hex(" "), exc)
            return
        waiter = self._waiter
        if response is None or waiter is None or waiter.done():
            return
        if response.opcode != self._opcode:  # the SDK drops replies to other requests too
            _log.debug("ignoring a reply to opcode %d while waiting for %d", response.opcode, self._opcode)
            return
        waiter.set_result(response)

    def abort(self) -> None:
        self._assembler = PmdResponseAssembler()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(BleakError("Not connected: the link dropped while waiting for a reply"))

    async def request(self, client: BleakClient, payload: bytes, timeout_s: float) -> PmdResponse:
        async with self._lock:
            loop = asyncio.get_running_loop()
            self._waiter, self._opcode = loop.create_future(), payload[0]
            try:
                # The reply may arrive before the write returns: the waiter exists first.
                await client.write_gatt_char(PMD_CONTROL_POINT_UUID, payload, response=True)
                async with asyncio.timeout(timeout_s):  # not wait_for: see LinkRecovery._supervise
                    return await self._waiter
            finally:
                self._waiter = None


class PolarClient(BleSensorClient):
    """Live Polar H10 / Verity Sense (see the module notes).

    Parameters
    ----------
    device : BLEDevice or str
        The sensor (from :func:`~hipflex.sensor.live.scan.find_sensor`) or its address/name.
    settings : PolarSettings or None
        Rate and ranges.
    **kwargs
        See :class:`~hipflex.sensor.live.session.BleSensorClient`.
    """

    kind = "polar"
    service_uuid = PMD_SERVICE_UUID

    def __init__(self, device: Any, settings: PolarSettings | None = None, **kwargs: Any) -> None:
        super().__init__(device, **kwargs)
        self.settings = settings or PolarSettings()
        self.model = polar_model(self.name)
        self.features: PmdFeatures | None = None
        self._commander = _Commander()
        self._streams: tuple[_Stream, ...] = ()
        self._sdk_mode = False
        self._repeats = PmdRepeatFilter()

    @property
    def has_gyro(self) -> bool:
        """True for a Verity Sense streaming its gyroscope."""
        return any(s.measurement == PmdMeasurementType.GYRO for s in self._streams)

    # ------------------------------------------------------------------ configuration
    def _plan(self) -> tuple[tuple[_Stream, ...], bool]:
        """Streams to start and whether SDK mode is needed; clear errors for bad choices."""
        m, s = self.model, self.settings
        rate = s.sample_rate_hz or m.default_rate_hz
        sdk = False
        if rate not in m.acc_rates_hz or s.range_g not in m.acc_ranges_g:
            if rate in m.sdk_rates_hz and s.range_g in m.sdk_acc_ranges_g:
                sdk = True
            else:
                rates = sorted({*m.acc_rates_hz, *m.sdk_rates_hz})
                ranges = sorted({*m.acc_ranges_g, *m.sdk_acc_ranges_g})
                raise StreamFailed(
                    f"Polar {m.model} cannot stream at {rate} Hz, +/-{s.range_g} g; rates: "
                    f"{', '.join(map(str, rates))} Hz; ranges: {', '.join(map(str, ranges))} g"
                )
        channels = 3 if m.channels else None
        streams = [_Stream("acc", PmdMeasurementType.ACC, PmdStartSettings(rate, 16, s.range_g, channels))]
        if m.gyro and s.gyro:
            if s.gyro_range_dps != 2000 and s.gyro_range_dps in m.sdk_gyro_ranges_dps:
                sdk = True
            elif s.gyro_range_dps not in (2000, *m.sdk_gyro_ranges_dps):
                raise StreamFailed(f"Polar {m.model} gyroscope ranges: {m.sdk_gyro_ranges_dps} deg/s")
            gyro = PmdStartSettings(rate, 16, s.gyro_range_dps, channels)
            streams.append(_Stream("gyro", PmdMeasurementType.GYRO, gyro))
        return tuple(streams), sdk

    def _capture_header(self, started_unix_s: float, started_host_s: float) -> CaptureHeader:
        streams: dict[str, StreamSettings] = {}
        for st in self._streams:
            ps = st.settings
            if st.name == "acc":
                streams["acc"] = StreamSettings(ps.sample_rate_hz, range_g=ps.range, resolution_bits=ps.resolution_bits)
            else:
                streams["gyro"] = StreamSettings(
                    ps.sample_rate_hz, range_dps=ps.range, resolution_bits=ps.resolution_bits
                )
        return CaptureHeader(
            CaptureDevice("polar", self.model.model, self.name, self.address, self.firmware),
            streams,
            started_unix_s=started_unix_s,
            started_host_s=started_host_s,
            extra={"recorded_by": f"hipflex {__version__} live client"},
        )

    # ------------------------------------------------------------------ link
    async def _on_link_up(self, client: BleakClient, first: bool) -> None:
        if client.services.get_service(PMD_SERVICE_UUID) is None:
            raise StreamFailed(f"{self.name} has no Polar PMD service; is it a Polar H10 or Verity Sense?")
        if first:
            self.features = parse_features(await client.read_gatt_char(PMD_CONTROL_POINT_UUID))
            self.model = polar_model(self.name, self.features)
            self._streams, self._sdk_mode = self._plan()
            if not self.features.supports(PmdMeasurementType.ACC):
                raise StreamFailed(f"{self.name} does not offer accelerometer streaming over PMD")
        # The SDK refuses commands until both are subscribed; so do we.
        await self._subscribe(client, PMD_CONTROL_POINT_UUID)
        await self._subscribe(client, PMD_DATA_UUID)

    def _on_value(self, uuid: str, data: bytes, t_s: float) -> None:
        if uuid != PMD_CONTROL_POINT_UUID or not data:
            return
        if data[0] == CP_RESPONSE_CODE:
            self._commander.on_indication(data)
        elif data[0] == MEASUREMENT_STOPPED_CODE and self.state == "streaming":
            _log.warning("%s stopped streaming on its own (types %s)", self.name, data[1:].hex(" "))
            self._wake.put_nowait("device stopped streaming")

    def _on_link_lost(self) -> None:
        self._commander.abort()

    def _is_repeat(self, uuid: str, data: bytes) -> bool:
        # The same rule as replay (PolarCaptureDecoder), so the capture replays to the same samples.
        return uuid == PMD_DATA_UUID and self._repeats.is_repeat(data)

    # ------------------------------------------------------------------ streams
    async def _request(self, client: BleakClient, payload: bytes) -> PmdResponse:
        return await self._commander.request(client, payload, self.command_timeout_s)

    async def _start_streams(self, client: BleakClient, restart: bool) -> None:
        if self._sdk_mode:
            reply = await self._request(client, build_sdk_mode(True))
            if not (reply.ok or reply.already_in_state):
                raise StreamFailed(f"{self.name} refused SDK mode ({_status(reply)}), needed for the chosen rate/range")
        for stream in self._streams:
            await self._start_one(client, stream, restart)

    async def _start_one(self, client: BleakClient, stream: _Stream, restart: bool) -> None:
        start = build_start(stream.measurement, stream.settings)
        if restart:
            # A stream the device kept running (or half-stopped) restarts from scratch.
            await self._request(client, build_stop(stream.measurement))
        reply = await self._request(client, start)
        if reply.already_in_state:
            _log.info("%s: %s already running; stopping it and starting again", self.name, stream.name)
            stopped = await self._request(client, build_stop(stream.measurement))
            if not (stopped.ok or stopped.already_in_state):
                raise StreamFailed(f"{self.name} would not stop its running {stream.name} stream ({_status(stopped)})")
            reply = await self._request(client, start)
        if reply.status == PmdStatus.INVALID_MTU:
            raise StreamFailed(
                f"{self.name} refused to stream {stream.name}: the link's ATT MTU ({client.mtu_size} bytes) is too "
                "small for its frames (INVALID_MTU). The adapter or OS did not negotiate a larger MTU; on Linux "
                "use a recent BlueZ, on other systems reconnect, or try another adapter."
            )
        if not reply.ok:
            ps = stream.settings
            raise StreamFailed(
                f"{self.name} refused to stream {stream.name} at {ps.sample_rate_hz} Hz, +/-{ps.range}: "
                f"{_status(reply)}"
            )
        self._event("stream_started", stream=stream.name, factor=float(reply.factor))

    async def _stop_streams(self, client: BleakClient) -> None:
        for stream in reversed(self._streams):
            reply = await self._request(client, build_stop(stream.measurement))
            if not (reply.ok or reply.already_in_state):
                _log.warning("%s: stopping %s answered %s", self.name, stream.name, _status(reply))
            self._event("stream_stopped", stream=stream.name)
        if self._sdk_mode:
            await self._request(client, build_sdk_mode(False))

    async def disconnect(self) -> None:
        """Stop (the H10 keeps streaming and draining its battery otherwise), then disconnect."""
        client = self._client
        if self.state == "failed" and client is not None and client.is_connected:
            try:
                async with asyncio.timeout(self.command_timeout_s):
                    await self._stop_streams(client)
            except Exception as exc:  # best effort on the way out; the session already failed
                _log.debug("%s: stop after failure: %s", self.name, exc)
        await super().disconnect()


def _status(reply: PmdResponse) -> str:
    try:
        return PmdStatus(reply.status).name
    except ValueError:
        return f"status {reply.status}"
