"""BLE transport seams: the GATT model shared by the test tiers, and the in-memory fake bleak backend.

Production code talks to sensors through the stock :class:`bleak.BleakClient`,
:class:`bleak.BleakScanner` and :func:`bleak_retry_connector.establish_connection`; the
backends here are injected with ``backend=`` in tests:

- :mod:`hipflex.sensor.emulate.ble.fake_backend`: pure in-memory, deterministic, millisecond-fast.
- :mod:`hipflex.sensor.emulate.ble.bumble_backend`: real ATT over bumble's in-process link (needs
  the ``bumble`` test dependency; nothing here imports it).
"""

from __future__ import annotations

from hipflex.sensor.emulate.ble.fake_backend import FakeClient, FakePeripheral, FakeRadio, FakeScanner, WriteRecord
from hipflex.sensor.emulate.ble.model import (
    AdvertisementSpec,
    AttError,
    CharacteristicSpec,
    GattError,
    GattServer,
    PeripheralModel,
    ServiceSpec,
    normalize_uuid,
)

__all__ = [
    "AdvertisementSpec",
    "AttError",
    "CharacteristicSpec",
    "FakeClient",
    "FakePeripheral",
    "FakeRadio",
    "FakeScanner",
    "GattError",
    "GattServer",
    "PeripheralModel",
    "ServiceSpec",
    "WriteRecord",
    "normalize_uuid",
]
