"""Standard Bluetooth SIG GATT UUIDs the live clients use, in bleak's 128-bit lower-case form.

A leaf module: the live clients read the battery through these, and the emulated
devices (:mod:`hipflex.sensor.emulate.devices`) serve them, without the live path
importing the emulation tier.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BATTERY_LEVEL_UUID", "BATTERY_SERVICE_UUID", "FIRMWARE_REVISION_UUID", "MODEL_NUMBER_UUID"]

#: Battery Service (0x180F).
BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
#: Battery Level characteristic (0x2A19): one byte, percent.
BATTERY_LEVEL_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
#: Model Number String characteristic (0x2A24) of the Device Information service.
MODEL_NUMBER_UUID: Final = "00002a24-0000-1000-8000-00805f9b34fb"
#: Firmware Revision String characteristic (0x2A26) of the Device Information service.
FIRMWARE_REVISION_UUID: Final = "00002a26-0000-1000-8000-00805f9b34fb"
