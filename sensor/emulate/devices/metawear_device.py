"""An emulated MbientLab MetaMotion (MetaWear firmware) with a BMI160 or BMI270 IMU.

GATT: the MetaWear service (command characteristic, written without response; notify
characteristic), Battery and Device Information.  Commands are ``[module, register, data...]``
(``../shared/reference/ble.md`` section 2):

- module discovery ``[module, 0x80]`` -> ``[module, 0x80, implementation, revision]``
  (ACC: BMI160 1 / BMI270 4; GYRO: BMI160 0 / BMI270 1; ``[module, 0x80]`` alone = absent);
- accelerometer (0x03) and gyroscope (0x13): config ``[m 03 b0 b1]`` (and its read
  ``[m 83]``), interrupt enable ``[m 02 01 00]`` / ``[m 02 00 01]``, power ``[m 01 01|00]``,
  data subscription ``[m data_reg 01|00]`` for single samples ``[m reg x y z]`` (int16 LE)
  or packed ``[m packed_reg x y z x y z x y z]`` (3 samples, 20 bytes);
- settings (0x11): battery read ``[11 8C]`` -> ``[11 8C pct mV_lo mV_hi]``; link parameters accepted;
- debug (0xFE): ``[FE 01]`` reset and ``[FE 06]`` disconnect both drop the link (register
  numbers as the MetaWear C++ SDK's debug module uses them; not verified on hardware).

Streams carry no timestamps: a sample is produced every 1/ODR seconds of emulated time
while the sensor is powered with its interrupt enabled and a data register subscribed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.emulate.ble.model import AdvertisementSpec, CharacteristicSpec, GattServer, ServiceSpec
from hipflex.sensor.emulate.devices.base import EmulatedPeripheral
from hipflex.sensor.emulate.devices.clock import DeviceClock
from hipflex.sensor.emulate.devices.faults import FaultPlan
from hipflex.sensor.emulate.devices.source import SampleCursor, SourceLike
from hipflex.sensor.metawear.protocol import (
    ACC_LSB_PER_G,
    GYRO_LSB_PER_DPS,
    MBIENTLAB_COMPANY_ID,
    METAWEAR_COMMAND_UUID,
    METAWEAR_NOTIFY_UUID,
    METAWEAR_SERVICE_UUID,
    PACKED_SAMPLES,
    READ_BIT,
    ImuChip,
    MetaWearModule,
    MetaWearSensor,
    acc_config_command,
    acc_start_commands,
    encode_data_notification,
    gyro_config_command,
    gyro_start_commands,
)

__all__ = ["MetaWearPeripheral"]

_log = logging.getLogger(__name__)


_POWER, _INTERRUPT, _CONFIG = 0x01, 0x02, 0x03
_BATTERY_REGISTER: Final = 0x0C
_DEBUG_RESET, _DEBUG_DISCONNECT = 0x01, 0x06
# Implementation bytes of the discovery reply, per chip (ble.md 2.1).
_ACC_IMPL: Final = {ImuChip.BMI160: 1, ImuChip.BMI270: 4}
_GYRO_IMPL: Final = {ImuChip.BMI160: 0, ImuChip.BMI270: 1}
_SETTINGS_INFO: Final = (0x00, 0x07)  # ours: a recent settings module revision


_ConfigTable = dict[tuple[int, int], tuple[float, int]]


def _config_tables(chip: ImuChip) -> tuple[_ConfigTable, _ConfigTable]:
    """(odr code, range code) -> (ODR Hz, range), built from the codec's own command builders."""
    acc: _ConfigTable = {}
    for odr in (12.5, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0):
        for rng in ACC_LSB_PER_G:
            cmd = acc_config_command(chip, odr, int(rng))
            acc[(cmd[2] & 0x0F, cmd[3])] = (odr, int(rng))
    gyro: _ConfigTable = {}
    for odr in (25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0):
        for rng in GYRO_LSB_PER_DPS:
            cmd = gyro_config_command(odr, int(rng))
            gyro[(cmd[2] & 0x0F, cmd[3])] = (odr, int(rng))
    return acc, gyro


@dataclass
class _Imu:
    """State of the accelerometer or gyroscope module."""

    sensor: MetaWearSensor
    module: int
    data_reg: int
    packed_reg: int
    config: tuple[int, int]  # raw (b0, b1) as last written
    odr_hz: float
    range_value: int
    cursor: SampleCursor
    powered: bool = False
    interrupt: bool = False
    subscribed: set[int] = field(default_factory=set)
    start_s: float = 0.0
    taken: int = 0
    packed_pending: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def streaming(self) -> bool:
        return self.powered and self.interrupt


class MetaWearPeripheral(EmulatedPeripheral):
    """Emulated MetaMotion board.

    Parameters
    ----------
    chip : ImuChip
        BMI160 (MetaMotion R/C/RL, default) or BMI270 (MetaMotion S).
    device_id : str
        Serial number (Device Information).
    with_gyro : bool
        Whether the gyroscope module is present.
    acc_revision : int
        Accelerometer module revision (packed streaming needs >= 1).
    battery_mv : int
        Battery voltage reported by the settings module.
    source, faults, time_scale, clock, battery_pct, connection_interval_s
        See :class:`~hipflex.sensor.emulate.devices.base.EmulatedPeripheral`.
        MetaWear streams carry no device time, so ``clock`` only matters for drift.

    Attributes
    ----------
    commands : list of bytes
        Every command received, in order (for assertions).
    """

    def __init__(
        self,
        chip: ImuChip = ImuChip.BMI160,
        *,
        device_id: str = "D1:5E:A5:E5:00:01",
        with_gyro: bool = True,
        acc_revision: int = 1,
        battery_mv: int = 4012,
        source: SourceLike = None,
        faults: FaultPlan | None = None,
        time_scale: float | None = 1.0,
        clock: DeviceClock | None = None,
        battery_pct: int = 87,
        connection_interval_s: float = 0.0075,
    ) -> None:
        super().__init__(
            name="MetaWear",
            source=source,
            faults=faults,
            time_scale=time_scale,
            clock=clock,
            battery_pct=battery_pct,
            connection_interval_s=connection_interval_s,
            device_info={
                "manufacturer": "MbientLab Inc",
                "model": "5" if chip is ImuChip.BMI160 else "8",
                "serial": device_id.replace(":", ""),
                "hardware": "0.4",
                "firmware": "1.7.3",
            },
        )
        self.chip = chip
        self.with_gyro = with_gyro
        self.acc_revision = acc_revision
        self.battery_mv = battery_mv
        self.commands: list[bytes] = []
        self._acc_table, self._gyro_table = _config_tables(chip)
        acc_default = acc_config_command(chip, 100.0, 2)
        gyro_default = gyro_config_command(100.0, 2000)
        self._imus: dict[int, _Imu] = {
            MetaWearModule.ACCELEROMETER: _Imu(
                MetaWearSensor.ACC,
                MetaWearModule.ACCELEROMETER,
                acc_start_commands(chip, packed=False)[0][1],
                acc_start_commands(chip, packed=True)[0][1],
                (acc_default[2], acc_default[3]),
                100.0,
                2,
                self.source.cursor(),
            ),
        }
        if with_gyro:
            self._imus[MetaWearModule.GYRO] = _Imu(
                MetaWearSensor.GYRO,
                MetaWearModule.GYRO,
                gyro_start_commands(chip, packed=False)[0][1],
                gyro_start_commands(chip, packed=True)[0][1],
                (gyro_default[2], gyro_default[3]),
                100.0,
                2000,
                self.source.cursor(),
            )

    # ------------------------------------------------------------------ model
    def advertisement(self) -> AdvertisementSpec:
        """Name ``MetaWear``, the MetaWear service UUID and MbientLab manufacturer data."""
        return AdvertisementSpec(
            local_name=self.name,
            service_uuids=(METAWEAR_SERVICE_UUID,),
            manufacturer_data={MBIENTLAB_COMPANY_ID: b"\x00\x00"},
        )

    def _device_services(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(
                METAWEAR_SERVICE_UUID,
                [
                    CharacteristicSpec(
                        METAWEAR_COMMAND_UUID, ("write", "write-without-response"), on_write=self._on_command
                    ),
                    CharacteristicSpec(METAWEAR_NOTIFY_UUID, ("notify",)),
                ],
            )
        ]

    def imu_state(self, sensor: MetaWearSensor) -> tuple[float, int, bool]:
        """(ODR Hz, range, streaming) of the accelerometer or gyroscope, for assertions."""
        module = MetaWearModule.ACCELEROMETER if sensor is MetaWearSensor.ACC else MetaWearModule.GYRO
        imu = self._imus[module]
        return imu.odr_hz, imu.range_value, imu.streaming

    def _streams_active(self) -> bool:
        return any(imu.streaming for imu in self._imus.values())

    def _stop_all_streams(self) -> None:
        # A reset board: sensors off, subscriptions gone.
        for imu in self._imus.values():
            imu.powered = imu.interrupt = False
            imu.subscribed.clear()
            imu.packed_pending = np.zeros((0, 3))

    # ------------------------------------------------------------------ commands
    def _reply(self, data: bytes) -> None:
        self.server.notify(METAWEAR_NOTIFY_UUID, data)

    def _on_command(self, server: GattServer, data: bytes) -> None:
        self.commands.append(bytes(data))
        if len(data) < 2:
            _log.debug("MetaWear: command too short: %s", data.hex(" "))
            return
        module, register, args = data[0], data[1], data[2:]
        if register == READ_BIT:
            self._reply(bytes([module, READ_BIT]) + self._module_info(module))
        elif module in self._imus:
            self._imu_command(self._imus[module], register, args)
        elif module == MetaWearModule.SETTINGS and register == READ_BIT | _BATTERY_REGISTER:
            self._reply(bytes([module, register, self.battery_pct]) + self.battery_mv.to_bytes(2, "little"))
        elif module == MetaWearModule.DEBUG and register in (_DEBUG_RESET, _DEBUG_DISCONNECT):
            if register == _DEBUG_RESET:
                self._stop_all_streams()
            self.server.disconnect()
        else:
            _log.debug("MetaWear: ignoring command %s", data.hex(" "))

    def _module_info(self, module: int) -> bytes:
        if module == MetaWearModule.ACCELEROMETER:
            return bytes([_ACC_IMPL[self.chip], self.acc_revision])
        if module == MetaWearModule.GYRO and self.with_gyro:
            return bytes([_GYRO_IMPL[self.chip], 1])
        if module == MetaWearModule.SETTINGS:
            return bytes(_SETTINGS_INFO)
        return b""

    def _imu_command(self, imu: _Imu, register: int, args: bytes) -> None:
        if register == _CONFIG and len(args) >= 2:
            table = self._acc_table if imu.sensor is MetaWearSensor.ACC else self._gyro_table
            found = table.get((args[0] & 0x0F, args[1]))
            if found is None:
                _log.warning("MetaWear: unsupported %s config %s ignored", imu.sensor.value, args.hex(" "))
                return
            imu.config = (args[0], args[1])
            imu.odr_hz, imu.range_value = found
        elif register == READ_BIT | _CONFIG:
            self._reply(bytes([imu.module, register, *imu.config]))
        elif register == _INTERRUPT and len(args) >= 2:
            was = imu.streaming
            imu.interrupt = bool(args[0]) or (imu.interrupt and not args[1])
            self._on_streaming_change(imu, was)
        elif register == _POWER and args:
            was = imu.streaming
            imu.powered = args[0] != 0
            self._on_streaming_change(imu, was)
        elif register in (imu.data_reg, imu.packed_reg) and args:
            if args[0]:
                imu.subscribed.add(register)
            else:
                imu.subscribed.discard(register)
        else:
            _log.debug("MetaWear: ignoring %s register 0x%02X", imu.sensor.value, register)

    def _on_streaming_change(self, imu: _Imu, was_streaming: bool) -> None:
        if imu.streaming and not was_streaming:
            imu.start_s = self.uptime_s()
            imu.taken = 0
            imu.packed_pending = np.zeros((0, 3))
            self._ensure_pacing()
        elif was_streaming and not imu.streaming:
            self._flush()

    # ------------------------------------------------------------------ data
    def _produce(self, now_s: float) -> None:
        for imu in self._imus.values():
            if imu.streaming:
                self._sample(imu, now_s)

    def _sample(self, imu: _Imu, now_s: float) -> None:
        # The board's ODR runs on its own oscillator: with drift, samples come faster.
        due = math.floor((now_s - imu.start_s) * imu.odr_hz * self.clock.rate + 1e-9) + 1
        need = due - imu.taken
        if need <= 0:
            return
        acc, gyr = imu.cursor.read(need)
        values = acc if imu.sensor is MetaWearSensor.ACC else gyr
        first = imu.taken
        imu.taken += values.shape[0]
        if not imu.subscribed:
            return  # sampled, but routed nowhere
        step_s = 1.0 / (imu.odr_hz * self.clock.rate)
        if imu.data_reg in imu.subscribed:
            for i in range(values.shape[0]):
                msg = encode_data_notification(imu.sensor, self.chip, values[i : i + 1], imu.range_value, packed=False)
                self._emit_data(METAWEAR_NOTIFY_UUID, msg, imu.start_s + (first + i) * step_s)
        if imu.packed_reg in imu.subscribed:
            pending = np.concatenate([imu.packed_pending, values])
            end = first + values.shape[0]  # index after the last sample in `pending`
            n_full = pending.shape[0] // PACKED_SAMPLES * PACKED_SAMPLES
            for j in range(0, n_full, PACKED_SAMPLES):
                block = pending[j : j + PACKED_SAMPLES]
                last_index = end - pending.shape[0] + j + PACKED_SAMPLES - 1
                msg = encode_data_notification(imu.sensor, self.chip, block, imu.range_value, packed=True)
                self._emit_data(METAWEAR_NOTIFY_UUID, msg, imu.start_s + last_index * step_s)
            imu.packed_pending = pending[n_full:]
