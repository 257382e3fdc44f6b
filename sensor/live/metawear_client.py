"""Live MbientLab MetaMotion client (MetaWear firmware, Bosch BMI160 or BMI270).

Protocol facts: ``../shared/reference/ble.md`` section 2 and ``firmware_notes/metamotion.md``.

- **Setup**: subscribe to the notify characteristic, then ask the accelerometer and
  gyroscope modules who they are (``[module, 0x80]``); the reply's implementation byte
  says BMI160 or BMI270, which decides config bytes and data registers.  Never guessed
  from the model name.
- **Start**: link parameters (7.5-15 ms interval, the vendor's advice for high rates),
  accelerometer and gyroscope config, then per sensor: subscribe the (packed) data
  register, enable the data interrupt, power on.  Commands are written without response.
- **Restart** (after a reconnect, or a stall): the stop sequence first, then the start
  sequence, so a board that kept sampling re-anchors cleanly.

MetaWear streams carry no timestamps and no counter: samples are timed by counting at
the configured rate from the host arrival of the first notification
(:mod:`hipflex.sensor.metawear.timing`, through the replay decoders); the
``stream_started`` / ``reconnected`` events written here re-anchor that count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Final

from bleak import BleakClient
from bleak.exc import BleakError

from hipflex import __version__
from hipflex.sensor.capture.log import CaptureDevice, CaptureHeader, StreamSettings
from hipflex.sensor.errors import StreamFailed
from hipflex.sensor.live.gatt_uuids import MODEL_NUMBER_UUID
from hipflex.sensor.live.session import BleSensorClient
from hipflex.sensor.metawear.protocol import (
    ACC_LSB_PER_G,
    GYRO_LSB_PER_DPS,
    METAWEAR_COMMAND_UUID,
    METAWEAR_NOTIFY_UUID,
    METAWEAR_SERVICE_UUID,
    READ_BIT,
    ImuChip,
    MetaWearDecodeError,
    MetaWearModuleInfo,
    acc_config_command,
    acc_start_commands,
    acc_stop_commands,
    connection_parameters_command,
    discovery_command,
    gyro_config_command,
    gyro_start_commands,
    gyro_stop_commands,
    parse_module_info,
)

__all__ = ["METAWEAR_RATES_HZ", "MetaWearClient", "MetaWearSettings"]

_log = logging.getLogger(__name__)

#: Rates both Bosch sensors offer, so accelerometer and gyroscope run together, Hz.
METAWEAR_RATES_HZ: Final = (25.0, 50.0, 100.0, 200.0, 400.0, 800.0)


@dataclass(frozen=True)
class MetaWearSettings:
    """What to stream.

    Attributes
    ----------
    sample_rate_hz : float
        Rate of both sensors, Hz (one of :data:`METAWEAR_RATES_HZ`).
    range_g : int
        Accelerometer full scale, +/- g (2, 4, 8, 16).
    gyro : bool
        Stream the gyroscope too.
    gyro_range_dps : int
        Gyroscope full scale, +/- deg/s (125 ... 2000).
    """

    sample_rate_hz: float = 100.0
    range_g: int = 8
    gyro: bool = True
    gyro_range_dps: int = 2000

    def __post_init__(self) -> None:
        if float(self.sample_rate_hz) not in METAWEAR_RATES_HZ:
            rates = ", ".join(f"{r:g}" for r in METAWEAR_RATES_HZ)
            raise StreamFailed(f"MetaMotion cannot stream at {self.sample_rate_hz:g} Hz; rates: {rates} Hz")
        if self.range_g not in ACC_LSB_PER_G:
            raise StreamFailed(f"MetaMotion accelerometer ranges: {sorted(ACC_LSB_PER_G)} g")
        if self.gyro_range_dps not in GYRO_LSB_PER_DPS:
            raise StreamFailed(f"MetaMotion gyroscope ranges: {sorted(GYRO_LSB_PER_DPS)} deg/s")


class _Replies:
    """Waits for register-read replies (``[module, 0x80 | register, ...]`` notifications)."""

    def __init__(self) -> None:
        self._waiters: dict[tuple[int, int], asyncio.Future[bytes]] = {}

    def on_notification(self, data: bytes) -> None:
        if len(data) >= 2:
            waiter = self._waiters.pop((data[0], data[1]), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(data)

    def abort(self) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(BleakError("Not connected: the link dropped while waiting for a reply"))
        self._waiters.clear()

    async def read(self, client: BleakClient, command: bytes, timeout_s: float) -> bytes:
        key = (command[0], command[1] | READ_BIT)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, command, response=False)
            async with asyncio.timeout(timeout_s):  # not wait_for: see LinkRecovery._supervise
                return await waiter
        finally:
            self._waiters.pop(key, None)


class MetaWearClient(BleSensorClient):
    """Live MetaMotion board (see the module notes).

    Parameters
    ----------
    device : BLEDevice or str
        The board or its address/name.
    settings : MetaWearSettings or None
        Rate and ranges.
    **kwargs
        See :class:`~hipflex.sensor.live.session.BleSensorClient`.
    """

    kind = "metawear"
    service_uuid = METAWEAR_SERVICE_UUID

    def __init__(self, device: Any, settings: MetaWearSettings | None = None, **kwargs: Any) -> None:
        super().__init__(device, **kwargs)
        self.settings = settings or MetaWearSettings()
        self.acc_info: MetaWearModuleInfo | None = None
        self.gyro_info: MetaWearModuleInfo | None = None
        self.model_number = ""
        self._replies = _Replies()

    @property
    def has_gyro(self) -> bool:
        """True when the board has a gyroscope and it is streamed."""
        return self.settings.gyro and self.gyro_info is not None and self.gyro_info.present

    @property
    def acc_chip(self) -> ImuChip:
        """Accelerometer chip, from discovery."""
        if self.acc_info is None:
            raise RuntimeError("not connected yet")
        return self.acc_info.chip

    # ------------------------------------------------------------------ link
    async def _on_link_up(self, client: BleakClient, first: bool) -> None:
        if client.services.get_service(METAWEAR_SERVICE_UUID) is None:
            raise StreamFailed(f"{self.name} has no MetaWear service; is it a MetaMotion board?")
        await self._subscribe(client, METAWEAR_NOTIFY_UUID)
        if not first:
            return
        t = self.command_timeout_s
        self.acc_info = parse_module_info(await self._replies.read(client, discovery_command(0x03), t))
        try:
            chip = self.acc_info.chip
        except MetaWearDecodeError as exc:
            raise StreamFailed(f"{self.name}: unsupported accelerometer ({exc})") from None
        if self.settings.gyro:
            self.gyro_info = parse_module_info(await self._replies.read(client, discovery_command(0x13), t))
            if not self.gyro_info.present:
                _log.warning("%s has no gyroscope: streaming the accelerometer alone", self.name)
        self.model_number = await self._read_text(client, MODEL_NUMBER_UUID)
        _log.info("%s: %s accelerometer (rev %d)", self.name, chip.value.upper(), self.acc_info.revision)

    def _on_value(self, uuid: str, data: bytes, t_s: float) -> None:
        if uuid == METAWEAR_NOTIFY_UUID and len(data) >= 2 and data[1] & READ_BIT:
            self._replies.on_notification(data)

    def _on_link_lost(self) -> None:
        self._replies.abort()

    def _capture_header(self, started_unix_s: float, started_host_s: float) -> CaptureHeader:
        s = self.settings
        streams = {"acc": StreamSettings(s.sample_rate_hz, range_g=s.range_g, chip=self.acc_chip.value)}
        if self.has_gyro:
            assert self.gyro_info is not None
            streams["gyro"] = StreamSettings(
                s.sample_rate_hz, range_dps=s.gyro_range_dps, chip=self.gyro_info.chip.value
            )
        number = f", model {self.model_number}" if self.model_number else ""
        model = f"MetaMotion ({self.acc_chip.value.upper()}{number})"
        return CaptureHeader(
            CaptureDevice("metawear", model, self.name, self.address, self.firmware),
            streams,
            started_unix_s=started_unix_s,
            started_host_s=started_host_s,
            extra={"recorded_by": f"hipflex {__version__} live client"},
        )

    # ------------------------------------------------------------------ streams
    def _packed(self, info: MetaWearModuleInfo | None) -> bool:
        return info is not None and info.supports_packed

    def _start_sequence(self) -> list[tuple[str, list[bytes]]]:
        s, chip = self.settings, self.acc_chip
        out = [("acc", [acc_config_command(chip, s.sample_rate_hz, s.range_g),
                        *acc_start_commands(chip, packed=self._packed(self.acc_info))])]  # fmt: skip
        if self.has_gyro:
            assert self.gyro_info is not None
            g = self.gyro_info.chip
            out.append(("gyro", [gyro_config_command(s.sample_rate_hz, s.gyro_range_dps),
                                 *gyro_start_commands(g, packed=self._packed(self.gyro_info))]))  # fmt: skip
        return out

    def _stop_sequence(self) -> list[bytes]:
        cmds = list(acc_stop_commands(self.acc_chip, packed=self._packed(self.acc_info)))
        if self.has_gyro:
            assert self.gyro_info is not None
            cmds += gyro_stop_commands(self.gyro_info.chip, packed=self._packed(self.gyro_info))
        return cmds

    async def _write(self, client: BleakClient, commands: list[bytes]) -> None:
        for cmd in commands:
            await client.write_gatt_char(METAWEAR_COMMAND_UUID, cmd, response=False)

    async def _start_streams(self, client: BleakClient, restart: bool) -> None:
        if restart:
            await self._write(client, self._stop_sequence())
        with contextlib.suppress(ValueError):  # odd intervals on some OSes: keep the defaults
            await self._write(client, [connection_parameters_command()])
        for name, commands in self._start_sequence():
            await self._write(client, commands)
            self._event("stream_started", stream=name)

    async def _stop_streams(self, client: BleakClient) -> None:
        await self._write(client, self._stop_sequence())
        for name in ("acc", "gyro") if self.has_gyro else ("acc",):
            self._event("stream_stopped", stream=name)
