"""Emulated BLE IMUs for tests and demos: Polar PMD (H10, Verity Sense) and MetaWear (MetaMotion).

Each emulator is a :class:`~hipflex.sensor.emulate.ble.model.PeripheralModel`: host it in the fake
backend (``FakeRadio().add(PolarPmdPeripheral())``) for millisecond state-machine tests, or
on bumble's in-process link (``await BumbleAir().add_peripheral(...)``) for real ATT.
Samples come from a pluggable :class:`SampleFeed` (e.g. the simulator's ``ImuSamples``);
faults come from a :class:`FaultPlan`.  Nothing here imports bumble.
"""

from __future__ import annotations

from hipflex.sensor.emulate.devices.base import EmulatedPeripheral, EmulatorStats
from hipflex.sensor.emulate.devices.clock import H10_RESET_DEVICE_NS, DeviceClock
from hipflex.sensor.emulate.devices.faults import FaultPlan
from hipflex.sensor.emulate.devices.metawear_device import MetaWearPeripheral
from hipflex.sensor.emulate.devices.polar_device import PolarPmdPeripheral
from hipflex.sensor.emulate.devices.polar_profiles import (
    H10_PROFILE,
    VERITY_SENSE_PROFILE,
    PmdMeasurementSpec,
    PolarProfile,
)
from hipflex.sensor.emulate.devices.source import SampleCursor, SampleFeed, SourceLike, as_sample_feed

__all__ = [
    "H10_PROFILE",
    "H10_RESET_DEVICE_NS",
    "VERITY_SENSE_PROFILE",
    "DeviceClock",
    "EmulatedPeripheral",
    "EmulatorStats",
    "FaultPlan",
    "MetaWearPeripheral",
    "PmdMeasurementSpec",
    "PolarPmdPeripheral",
    "PolarProfile",
    "SampleCursor",
    "SampleFeed",
    "SourceLike",
    "as_sample_feed",
]
