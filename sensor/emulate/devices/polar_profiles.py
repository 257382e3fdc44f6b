"""What each emulated Polar device offers over PMD: measurements, settings, frame formats.

Values from ``../shared/reference/ble.md`` sections 1.1-1.9 and ``firmware_notes/``.  Where
the public sources are silent (the Verity gyro FACTOR, MTU limits, feature bits of
measurements we do not emulate) the choice is marked as ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from hipflex.sensor.polar.frames import PmdMeasurementType

__all__ = [
    "H10_PROFILE",
    "VERITY_SENSE_PROFILE",
    "PmdMeasurementSpec",
    "PolarProfile",
]


_M = PmdMeasurementType


@dataclass(frozen=True)
class PmdMeasurementSpec:
    """One measurement a device streams, and the settings it accepts.

    Attributes
    ----------
    measurement : PmdMeasurementType
        ACC, GYRO or ECG.
    frame_type : int
        Frame-type byte of its data frames (``0x01`` raw int16, ``0x81``/``0x80`` delta).
    sample_rates_hz, resolutions_bits, ranges, channels : tuple of int
        Accepted values (``channels`` empty: the device takes no CHANNELS setting).
    sdk_sample_rates_hz, sdk_ranges : tuple of int
        Accepted in SDK mode instead (empty: same as normal mode).
    factor : float or None
        FACTOR sent in the START reply (``None``: no FACTOR TLV, the host uses 1.0).
    """

    measurement: PmdMeasurementType
    frame_type: int
    sample_rates_hz: tuple[int, ...]
    resolutions_bits: tuple[int, ...]
    ranges: tuple[int, ...]
    channels: tuple[int, ...] = ()
    sdk_sample_rates_hz: tuple[int, ...] = ()
    sdk_ranges: tuple[int, ...] = ()
    factor: float | None = None

    def rates(self, sdk_mode: bool) -> tuple[int, ...]:
        """Sample rates accepted in the given mode."""
        return self.sdk_sample_rates_hz if sdk_mode and self.sdk_sample_rates_hz else self.sample_rates_hz

    def range_choices(self, sdk_mode: bool) -> tuple[int, ...]:
        """Ranges accepted in the given mode."""
        return self.sdk_ranges if sdk_mode and self.sdk_ranges else self.ranges


@dataclass(frozen=True)
class PolarProfile:
    """An emulated Polar model.

    Attributes
    ----------
    model : str
        Model name, also the start of the advertised name (``"Polar H10 0A1B2C3D"``).
    measurements : tuple of PmdMeasurementSpec
        What it streams.
    sdk_mode : bool
        Whether it accepts SDK mode (``02 09``).
    max_att_mtu : int
        Largest ATT MTU it accepts in an exchange (ours: 512, what the Polar SDK asks for).
    min_att_mtu : int or None
        START fails with INVALID_MTU below this MTU.  ``None``: only when not even one
        sample fits a frame (ours; firmware limits are not documented).
    firmware : str
        Device Information firmware revision.
    extra_features : tuple of PmdMeasurementType
        Measurements advertised in the feature read although not emulated (START answers
        NOT_SUPPORTED), to mimic a full device's bitmap.
    """

    model: str
    measurements: tuple[PmdMeasurementSpec, ...]
    sdk_mode: bool = False
    max_att_mtu: int = 512
    min_att_mtu: int | None = None
    firmware: str = "3.0.35"
    extra_features: tuple[PmdMeasurementType, ...] = field(default=())

    def spec(self, measurement: int) -> PmdMeasurementSpec | None:
        """The spec of ``measurement``, or ``None`` when the device does not stream it."""
        for m in self.measurements:
            if m.measurement == measurement:
                return m
        return None

    def feature_bytes(self) -> bytes:
        """The control-point read ``[0x0F, mask1, mask2]`` for what is emulated."""
        bits1 = {_M.ECG: 0x01, _M.PPG: 0x02, _M.ACC: 0x04, _M.PPI: 0x08, _M.GYRO: 0x20, _M.MAG: 0x40}
        mask1 = 0
        for m in (*(s.measurement for s in self.measurements), *self.extra_features):
            mask1 |= bits1.get(m, 0)
        mask2 = 0x02 if self.sdk_mode else 0x00
        return bytes([0x0F, mask1, mask2])


#: Polar H10: ACC 25-200 Hz, 16 bit, +/-2/4/8 g, raw int16 mG frames (0x01); ECG 130 Hz.
#: The ECG stream is emulated as a flat line so that the feature read matches a real H10
#: (``0f 05 00``).
H10_PROFILE: Final = PolarProfile(
    model="Polar H10",
    measurements=(
        PmdMeasurementSpec(_M.ECG, 0x00, (130,), (14,), ()),
        PmdMeasurementSpec(_M.ACC, 0x01, (25, 50, 100, 200), (16,), (2, 4, 8)),
    ),
    firmware="3.0.35",
)

# Ours: +/-2000 deg/s over the int16 range; float32-exact so the host's product is exact.
_VERITY_GYRO_FACTOR: Final = 0.0625

#: Polar Verity Sense: ACC (0x81 delta, mG) and GYRO (0x80 delta, x FACTOR deg/s) at 52 Hz by
#: default, wider choices in SDK mode.  PPG, PPI and MAG are not emulated and not advertised
#: in the feature read.
VERITY_SENSE_PROFILE: Final = PolarProfile(
    model="Polar Sense",
    measurements=(
        PmdMeasurementSpec(
            _M.ACC,
            0x81,
            (52,),
            (16,),
            (8,),
            (3,),
            sdk_sample_rates_hz=(26, 52, 104, 208, 416),
            sdk_ranges=(2, 4, 8, 16),
        ),
        PmdMeasurementSpec(
            _M.GYRO,
            0x80,
            (52,),
            (16,),
            (2000,),
            (3,),
            sdk_sample_rates_hz=(26, 52, 104, 208, 416),
            sdk_ranges=(250, 500, 1000, 2000),
            factor=_VERITY_GYRO_FACTOR,
        ),
    ),
    sdk_mode=True,
    firmware="2.1.0",
)
