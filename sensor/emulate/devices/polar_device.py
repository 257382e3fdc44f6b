"""An emulated Polar sensor (H10, Verity Sense): the PMD service with its control-point state machine.

GATT: PMD service (control point: read / write / indicate; data: notify), Battery and
Device Information.  Advertises its name (``"Polar H10 0A1B2C3D"``), the PMD service UUID
and Polar manufacturer data.  Protocol facts: ``../shared/reference/ble.md`` section 1.

Control point:

- read: the feature bitmap (H10 ``0f 05 00``);
- GET settings (1, or 4 in SDK mode): the accepted values as TLVs, split over several
  indications with the ``more`` byte when they do not fit one;
- START (2): validates rate, resolution, range, channels and the MTU, then answers
  ``f0 02 <type> 00 00`` (+ a FACTOR TLV when the profile has one); status 6
  ALREADY_IN_STATE when the stream runs, 10 INVALID_MTU when a frame cannot fit;
- STOP (3): stops the stream (6 when it was not running); ``02 09`` / ``03 09`` toggle SDK mode;
- device-initiated stop: ``[0x01, type...]`` (:meth:`PolarPmdPeripheral.stop_from_device`
  or ``FaultPlan.device_stop_at_s``).

Data frames fill ATT MTU - 3 bytes and carry the device time of their **last** sample in
ns since 2000-01-01, from the emulator's :class:`~hipflex.sensor.emulate.devices.clock.DeviceClock`.
"""

from __future__ import annotations

import logging
import math
import struct
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.emulate.ble.model import (
    ATT_NOTIFY_OVERHEAD,
    AdvertisementSpec,
    CharacteristicSpec,
    GattServer,
    ServiceSpec,
)
from hipflex.sensor.emulate.devices.base import EmulatedPeripheral
from hipflex.sensor.emulate.devices.clock import H10_RESET_DEVICE_NS, DeviceClock
from hipflex.sensor.emulate.devices.faults import FaultPlan
from hipflex.sensor.emulate.devices.polar_profiles import (
    H10_PROFILE,
    PmdMeasurementSpec,
    PolarProfile,
)
from hipflex.sensor.emulate.devices.source import SampleCursor, SourceLike
from hipflex.sensor.polar.control import (
    CP_RESPONSE_CODE,
    MEASUREMENT_STOPPED_CODE,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_COMPANY_ID,
    RESPONSE_HEADER_BYTES,
    PmdOpCode,
    PmdSettingType,
    PmdStatus,
    parse_settings,
)
from hipflex.sensor.polar.frames import (
    HEADER_BYTES,
    PmdDecodeError,
    PmdMeasurementType,
    encode_delta_frame,
    encode_raw_frame,
    pmd_frame_format,
)

__all__ = ["PolarPmdPeripheral"]

_log = logging.getLogger(__name__)

_KNOWN_OPCODES: Final = frozenset(int(op) for op in PmdOpCode)


@dataclass
class _Stream:
    """One running measurement: its settings, its sample clock and the samples not yet framed."""

    spec: PmdMeasurementSpec
    rate_hz: int
    range: int
    factor: float
    start_s: float  # uptime of sample 0
    start_ns: int  # device time of sample 0
    period_s: float  # true seconds between samples (the device oscillator may drift)
    cursor: SampleCursor
    taken: int = 0  # samples read from the source so far
    first_pending: int = 0  # index of pending[0]
    pending: NDArray[np.int64] = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    exhausted_logged: bool = False

    def sample_ns(self, index: int) -> int:
        """Device time of sample ``index`` (exact nominal spacing on the device's own clock)."""
        return self.start_ns + round(index * 1e9 / self.rate_hz)

    def sample_s(self, index: int) -> float:
        """Emulator uptime of sample ``index``."""
        return self.start_s + index * self.period_s


class PolarPmdPeripheral(EmulatedPeripheral):
    """Emulated Polar H10 or Verity Sense.

    Parameters
    ----------
    profile : PolarProfile
        :data:`~hipflex.sensor.emulate.devices.polar_profiles.H10_PROFILE` (default) or
        :data:`~hipflex.sensor.emulate.devices.polar_profiles.VERITY_SENSE_PROFILE`.
    device_id : str
        Eight hex digits after the model in the name.
    source, faults, time_scale, clock, battery_pct, connection_interval_s
        See :class:`~hipflex.sensor.emulate.devices.base.EmulatedPeripheral`.

    Attributes
    ----------
    sdk_mode : bool
        SDK mode state (Verity Sense).
    responses : list of bytes
        Every control-point indication sent, in order (for assertions).
    """

    clock: DeviceClock

    def __init__(
        self,
        profile: PolarProfile = H10_PROFILE,
        *,
        device_id: str = "0A1B2C3D",
        source: SourceLike = None,
        faults: FaultPlan | None = None,
        time_scale: float | None = 1.0,
        clock: DeviceClock | None = None,
        battery_pct: int = 87,
        connection_interval_s: float = 0.0075,
    ) -> None:
        super().__init__(
            name=f"{profile.model} {device_id}",
            source=source,
            faults=faults,
            time_scale=time_scale,
            clock=clock,
            battery_pct=battery_pct,
            connection_interval_s=connection_interval_s,
            device_info={
                "manufacturer": "Polar Electro Oy",
                "model": profile.model.removeprefix("Polar ").strip(),
                "serial": device_id,
                "hardware": "39044024.10",
                "firmware": profile.firmware,
            },
            max_att_mtu=profile.max_att_mtu,
        )
        self.profile = profile
        self.sdk_mode = False
        self.responses: list[bytes] = []
        self._streams: dict[int, _Stream] = {}
        # ACC and GYRO keep their read positions across stop/start: the world moves on.
        self._cursors = {m.measurement: self.source.cursor() for m in profile.measurements}

    # ------------------------------------------------------------------ model
    def advertisement(self) -> AdvertisementSpec:
        """Name, PMD service UUID and Polar manufacturer data."""
        return AdvertisementSpec(
            local_name=self.name,
            service_uuids=(PMD_SERVICE_UUID,),
            manufacturer_data={POLAR_COMPANY_ID: b"\x3f\x00\x00\x00"},
        )

    def _device_services(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(
                PMD_SERVICE_UUID,
                [
                    CharacteristicSpec(
                        PMD_CONTROL_POINT_UUID,
                        ("read", "write", "indicate"),
                        on_read=lambda _s: self.profile.feature_bytes(),
                        on_write=self._on_cp_write,
                    ),
                    CharacteristicSpec(PMD_DATA_UUID, ("notify",)),
                ],
            )
        ]

    @property
    def running(self) -> frozenset[PmdMeasurementType]:
        """Measurements streaming now."""
        return frozenset(PmdMeasurementType(m) for m in self._streams)

    def stop_from_device(self) -> None:
        """Stop every stream and say so, as a device does on its own (low battery, strap off)."""
        if not self._streams:
            return
        types = bytes(sorted(self._streams))
        self._flush()
        self._streams.clear()
        self._indicate(bytes([MEASUREMENT_STOPPED_CODE]) + types)

    def forget_time(self) -> None:
        """The H10 quirk: the clock restarts from 2019-01-01 now (it lost time off the strap)."""
        self.clock = self.clock.reset_to(self.uptime_s(), H10_RESET_DEVICE_NS)

    def _device_stop(self) -> None:
        self.stop_from_device()

    def _streams_active(self) -> bool:
        return bool(self._streams)

    def _stop_all_streams(self) -> None:
        self._streams.clear()

    # ------------------------------------------------------------------ control point
    def _indicate(self, data: bytes) -> None:
        self.responses.append(bytes(data))
        self.server.indicate(PMD_CONTROL_POINT_UUID, data)

    def _respond(self, opcode: int, measurement: int, status: int, params: bytes = b"") -> None:
        # A reply that does not fit one indication continues in more packets (``more`` = 1).
        room = max(self.server.att_mtu - ATT_NOTIFY_OVERHEAD - RESPONSE_HEADER_BYTES, 1)
        chunks = [params[i : i + room] for i in range(0, len(params), room)] or [b""]
        for i, chunk in enumerate(chunks):
            more = 1 if i < len(chunks) - 1 else 0
            self._indicate(bytes([CP_RESPONSE_CODE, opcode, measurement, status, more]) + chunk)

    def _on_cp_write(self, server: GattServer, data: bytes) -> None:
        if len(data) < 2:
            _log.debug("%s: control-point write too short: %s", self.name, data.hex(" "))
            if data:
                self._respond(data[0], 0, PmdStatus.INVALID_LENGTH)
            return
        opcode, measurement, params = data[0], data[1], data[2:]
        if opcode in (PmdOpCode.GET_MEASUREMENT_SETTINGS, PmdOpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS):
            self._on_get_settings(opcode, measurement)
        elif opcode == PmdOpCode.REQUEST_MEASUREMENT_START:
            status, reply = self._on_start(measurement, params)
            self._respond(opcode, measurement, status, reply)
        elif opcode == PmdOpCode.STOP_MEASUREMENT:
            self._respond(opcode, measurement, self._on_stop(measurement))
        elif opcode in _KNOWN_OPCODES:
            self._respond(opcode, measurement, PmdStatus.NOT_SUPPORTED)
        else:
            self._respond(opcode, measurement, PmdStatus.INVALID_OP_CODE)

    def _on_get_settings(self, opcode: int, measurement: int) -> None:
        sdk = opcode == PmdOpCode.GET_SDK_MODE_MEASUREMENT_SETTINGS
        spec = self.profile.spec(measurement)
        if spec is None or (sdk and not self.profile.sdk_mode):
            self._respond(opcode, measurement, self._unsupported(measurement))
            return
        tlvs = _tlv(PmdSettingType.SAMPLE_RATE, spec.rates(sdk), 2)
        tlvs += _tlv(PmdSettingType.RESOLUTION, spec.resolutions_bits, 2)
        if spec.ranges:
            tlvs += _tlv(PmdSettingType.RANGE, spec.range_choices(sdk), 2)
        if spec.channels:
            tlvs += _tlv(PmdSettingType.CHANNELS, spec.channels, 1)
        self._respond(opcode, measurement, PmdStatus.SUCCESS, tlvs)

    @staticmethod
    def _unsupported(measurement: int) -> PmdStatus:
        known = measurement & 0x3F in {int(m) for m in PmdMeasurementType}
        return PmdStatus.NOT_SUPPORTED if known else PmdStatus.INVALID_MEASUREMENT_TYPE

    def _on_start(self, measurement: int, params: bytes) -> tuple[PmdStatus, bytes]:
        if measurement == PmdMeasurementType.SDK_MODE:
            if not self.profile.sdk_mode:
                return PmdStatus.NOT_SUPPORTED, b""
            if self.sdk_mode:
                return PmdStatus.ALREADY_IN_STATE, b""
            self.sdk_mode = True
            return PmdStatus.SUCCESS, b""
        spec = self.profile.spec(measurement)
        if spec is None:
            return self._unsupported(measurement), b""
        try:
            settings = parse_settings(params)
        except PmdDecodeError:
            return PmdStatus.INVALID_PARAMETER, b""
        if measurement in self._streams:
            return PmdStatus.ALREADY_IN_STATE, b""
        rates, ranges = spec.rates(self.sdk_mode), spec.range_choices(self.sdk_mode)
        rate = _single(settings.sample_rate_hz, None)
        if rate is None or rate not in rates:
            return PmdStatus.INVALID_SAMPLE_RATE, b""
        if _single(settings.resolution_bits, spec.resolutions_bits[0]) not in spec.resolutions_bits:
            return PmdStatus.INVALID_RESOLUTION, b""
        full_scale = _single(settings.range, max(ranges) if ranges else 0) or 0
        if ranges and full_scale not in ranges:
            return PmdStatus.INVALID_RANGE, b""
        channels = _single(settings.channels, None)
        if spec.channels and channels is not None and channels not in spec.channels:
            return PmdStatus.INVALID_NUMBER_OF_CHANNELS, b""
        if self.server.att_mtu < self._min_mtu(spec):
            return PmdStatus.INVALID_MTU, b""
        factor = 1.0 if spec.factor is None else float(np.float32(spec.factor))
        now = self.uptime_s()
        cursor = self._cursors[spec.measurement]
        self._streams[measurement] = _Stream(
            spec,
            rate,
            full_scale,
            factor,
            now,
            self.clock.ns_at(now),
            1.0 / (rate * self.clock.rate),
            cursor,
            pending=np.zeros((0, pmd_frame_format(measurement, spec.frame_type).channels), dtype=np.int64),
        )
        self._ensure_pacing()
        reply = b"" if spec.factor is None else bytes([PmdSettingType.FACTOR, 1]) + struct.pack("<f", factor)
        return PmdStatus.SUCCESS, reply

    def _min_mtu(self, spec: PmdMeasurementSpec) -> int:
        if self.profile.min_att_mtu is not None:
            return self.profile.min_att_mtu
        fmt = pmd_frame_format(spec.measurement, spec.frame_type)
        # Header plus one sample (the reference sample of a delta frame).
        return ATT_NOTIFY_OVERHEAD + HEADER_BYTES + fmt.channels * fmt.bytes_per_value

    def _on_stop(self, measurement: int) -> PmdStatus:
        if measurement == PmdMeasurementType.SDK_MODE:
            if not self.profile.sdk_mode:
                return PmdStatus.NOT_SUPPORTED
            if not self.sdk_mode:
                return PmdStatus.ALREADY_IN_STATE
            self.sdk_mode = False
            return PmdStatus.SUCCESS
        if measurement not in self._streams:
            return PmdStatus.ALREADY_IN_STATE if self.profile.spec(measurement) else self._unsupported(measurement)
        self._flush()  # frames already built go out before the reply
        del self._streams[measurement]
        return PmdStatus.SUCCESS

    # ------------------------------------------------------------------ data frames
    def _produce(self, now_s: float) -> None:
        for stream in list(self._streams.values()):
            self._sample(stream, now_s)
            self._frame(stream)

    def _sample(self, stream: _Stream, now_s: float) -> None:
        due = math.floor((now_s - stream.start_s) / stream.period_s + 1e-9) + 1
        need = due - stream.taken
        if need <= 0:
            return
        acc, gyr = stream.cursor.read(need)
        if acc.shape[0] < need and not stream.exhausted_logged:
            _log.info("%s: sample source exhausted; %s stream goes quiet", self.name, stream.spec.measurement.name)
            stream.exhausted_logged = True
        stream.taken += acc.shape[0]
        stream.pending = np.concatenate([stream.pending, self._counts(stream, acc, gyr)])

    @staticmethod
    def _counts(stream: _Stream, acc: NDArray[np.float64], gyr: NDArray[np.float64]) -> NDArray[np.int64]:
        spec = stream.spec
        fmt = pmd_frame_format(spec.measurement, spec.frame_type)
        if spec.measurement == PmdMeasurementType.ACC:
            values = acc
        elif spec.measurement == PmdMeasurementType.GYRO:
            values = gyr
        else:  # ECG: a flat line, the emulator has no heart
            return np.zeros((acc.shape[0], fmt.channels), dtype=np.int64)
        if stream.range:
            values = np.clip(values, -stream.range, stream.range)  # the ADC saturates at full scale
        limit = (1 << (fmt.resolution_bits - 1)) - 1
        counts = np.rint(values * fmt.counts_per_unit / stream.factor)
        return np.clip(counts, -limit - 1, limit).astype(np.int64)

    def _frame(self, stream: _Stream) -> None:
        spec = stream.spec
        fmt = pmd_frame_format(spec.measurement, spec.frame_type)
        room = self._data_mtu() - ATT_NOTIFY_OVERHEAD
        while stream.pending.shape[0]:
            if fmt.compressed:
                n = self._delta_fit(stream, room)
                if n == stream.pending.shape[0]:
                    return  # still room: wait for the next sample
            else:
                n = max((room - HEADER_BYTES) // (fmt.channels * fmt.bytes_per_value), 1)
                if stream.pending.shape[0] < n:
                    return
            last = stream.first_pending + n - 1
            frame = self._encode(stream, stream.pending[:n], stream.sample_ns(last))
            # A delta frame is known full only when the next sample arrives.
            due_index = last + 1 if fmt.compressed else last
            self._emit_data(PMD_DATA_UUID, frame, stream.sample_s(due_index))
            stream.pending = stream.pending[n:]
            stream.first_pending += n

    @staticmethod
    def _encode(stream: _Stream, counts: NDArray[np.int64], timestamp_ns: int) -> bytes:
        m, ft = stream.spec.measurement, stream.spec.frame_type
        if ft & 0x80:
            return encode_delta_frame(m, ft, timestamp_ns, counts)
        return encode_raw_frame(m, ft, timestamp_ns, counts)

    def _delta_fit(self, stream: _Stream, room: int) -> int:
        """Most pending samples whose delta frame fits ``room`` bytes (size grows with n)."""
        pending = stream.pending

        def size(n: int) -> int:
            return len(self._encode(stream, pending[:n], 0))

        total = pending.shape[0]
        if size(total) <= room:
            return total
        lo, hi = 1, total - 1  # invariant: size(lo) fits (START checked the MTU), size(hi + 1) does not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if size(mid) <= room:
                lo = mid
            else:
                hi = mid - 1
        return lo


def _single(values: tuple[int, ...], default: int | None) -> int | None:
    """The one value a START setting carries (START sends count = 1), or the default."""
    return values[0] if len(values) == 1 else (default if not values else None)


def _tlv(kind: PmdSettingType, values: tuple[int, ...], size: int) -> bytes:
    return bytes([kind, len(values)]) + b"".join(v.to_bytes(size, "little") for v in values)
