"""Transport-neutral description of a BLE peripheral, shared by both no-radio test tiers.

A peripheral is described once, as data (:class:`ServiceSpec`, :class:`CharacteristicSpec`,
:class:`AdvertisementSpec`) plus read/write handlers, and can then be hosted either by the
in-memory fake backend (:mod:`hipflex.sensor.emulate.ble.fake_backend`) or on a bumble GATT server
over bumble's in-process link (:mod:`hipflex.sensor.emulate.ble.bumble_peripheral`).  Emulated
devices (:mod:`hipflex.sensor.emulate.devices`) implement :class:`PeripheralModel` and talk back
to whichever host runs them through the small :class:`GattServer` interface, so a Polar or
MetaWear emulator is written once and exercised by both tiers.

UUIDs are normalised to bleak's form (128-bit, lower case) everywhere, because that is
what ``BleakGATTServiceCollection`` looks characteristics up by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, Protocol, runtime_checkable

from bleak.uuids import normalize_uuid_str

__all__ = [
    "ATT_DEFAULT_MTU",
    "ATT_MAX_VALUE_BYTES",
    "ATT_NOTIFY_OVERHEAD",
    "CCCD_UUID",
    "CHARACTERISTIC_PROPERTIES",
    "DEVICE_NAME_UUID",
    "GENERIC_ACCESS_UUID",
    "AdvertisementSpec",
    "AttError",
    "CharacteristicSpec",
    "GattError",
    "GattServer",
    "PeripheralModel",
    "ReadHandler",
    "ServiceSpec",
    "WriteHandler",
    "normalize_uuid",
]

#: ATT MTU before any exchange (Bluetooth Core Vol 3 Part F 3.2.8).
ATT_DEFAULT_MTU: Final = 23
#: Opcode + handle in front of every notification, indication and write command.
ATT_NOTIFY_OVERHEAD: Final = 3
#: Longest attribute value ATT allows (long reads and prepared writes included).
ATT_MAX_VALUE_BYTES: Final = 512

#: Property names as bleak spells them; the set a characteristic spec may use.
CHARACTERISTIC_PROPERTIES: Final = frozenset(
    {"broadcast", "read", "write-without-response", "write", "notify", "indicate"}
)


def normalize_uuid(uuid: str | int) -> str:
    """A 16-, 32- or 128-bit UUID (``"180f"``, ``0x180F``, upper or lower case) in bleak's 128-bit form."""
    if isinstance(uuid, int):
        return normalize_uuid_str(f"{uuid:04x}" if uuid <= 0xFFFF else f"{uuid:08x}")
    return normalize_uuid_str(uuid.strip().lower())


GENERIC_ACCESS_UUID: Final = normalize_uuid(0x1800)
DEVICE_NAME_UUID: Final = normalize_uuid(0x2A00)
#: Client Characteristic Configuration Descriptor: where subscriptions are written.
CCCD_UUID: Final = normalize_uuid(0x2902)


class AttError(IntEnum):
    """ATT error codes a handler may answer with (Core Vol 3 Part F 3.4.1.1)."""

    INVALID_HANDLE = 0x01
    READ_NOT_PERMITTED = 0x02
    WRITE_NOT_PERMITTED = 0x03
    REQUEST_NOT_SUPPORTED = 0x06
    INVALID_OFFSET = 0x07
    INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0D
    UNLIKELY_ERROR = 0x0E
    VALUE_NOT_ALLOWED = 0x13


class GattError(Exception):
    """Raised by a read or write handler to answer the request with an ATT error.

    Parameters
    ----------
    code : int
        ATT error code (:class:`AttError` or an application code 0x80-0x9F).
    """

    def __init__(self, code: int) -> None:
        self.code = int(code)
        super().__init__(f"ATT error 0x{self.code:02X}")


class GattServer(Protocol):
    """What a hosted peripheral can do to the link; implemented by each host.

    Calls are synchronous and never block: notifications and indications are queued
    and delivered in order on the event loop, as a controller would send them at the
    next connection events.
    """

    @property
    def is_connected(self) -> bool:
        """True while a central is connected."""
        ...

    @property
    def att_mtu(self) -> int:
        """ATT MTU of the current link (23 when none was exchanged or not connected)."""
        ...

    def is_subscribed(self, uuid: str) -> bool:
        """True when the connected central enabled notifications or indications on ``uuid``."""
        ...

    def notify(self, uuid: str, data: bytes) -> bool:
        """Queue a notification; False when nobody is connected and subscribed (the value is lost).

        Values longer than ``att_mtu - 3`` are truncated, as on a real link.
        """
        ...

    def indicate(self, uuid: str, data: bytes) -> bool:
        """Queue an indication (confirmed by the central); False when it cannot be sent."""
        ...

    def disconnect(self) -> None:
        """Drop the link from the peripheral side (remote user terminated connection)."""
        ...


#: Returns the current value of a characteristic; may raise :class:`GattError`.
ReadHandler = Callable[[GattServer], bytes]
#: Receives a written value; may reply with ``server.notify``/``indicate`` or raise :class:`GattError`.
WriteHandler = Callable[[GattServer, bytes], None]


@dataclass
class CharacteristicSpec:
    """One characteristic of a peripheral's GATT table.

    Attributes
    ----------
    uuid : str
        Any UUID spelling; normalised to bleak's 128-bit lower-case form.
    properties : tuple of str
        bleak property names: ``"read"``, ``"write"``, ``"write-without-response"``,
        ``"notify"``, ``"indicate"``, ``"broadcast"``.
    value : bytes
        Stored value, returned by reads when there is no ``on_read`` handler and replaced
        by writes when there is no ``on_write`` handler.
    on_read : callable or None
        ``on_read(server) -> bytes``.
    on_write : callable or None
        ``on_write(server, data)``; the host has already checked the properties.
    """

    uuid: str
    properties: tuple[str, ...]
    value: bytes = b""
    on_read: ReadHandler | None = None
    on_write: WriteHandler | None = None

    def __post_init__(self) -> None:
        self.uuid = normalize_uuid(self.uuid)
        self.properties = tuple(self.properties)
        unknown = set(self.properties) - CHARACTERISTIC_PROPERTIES
        if unknown:
            raise ValueError(f"unknown characteristic properties {sorted(unknown)} on {self.uuid}")
        self.value = bytes(self.value)

    @property
    def subscribable(self) -> bool:
        """True when the characteristic can notify or indicate (it then gets a CCCD)."""
        return "notify" in self.properties or "indicate" in self.properties

    def read(self, server: GattServer) -> bytes:
        """Current value, through ``on_read`` when set."""
        return bytes(self.on_read(server)) if self.on_read is not None else self.value

    def write(self, server: GattServer, data: bytes) -> None:
        """Deliver a written value to ``on_write``, or store it."""
        if self.on_write is not None:
            self.on_write(server, bytes(data))
        else:
            self.value = bytes(data)


@dataclass
class ServiceSpec:
    """A primary service and its characteristics, in handle order."""

    uuid: str
    characteristics: list[CharacteristicSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.uuid = normalize_uuid(self.uuid)
        self.characteristics = list(self.characteristics)


@dataclass(frozen=True)
class AdvertisementSpec:
    """What a scanner sees of a peripheral.

    Attributes
    ----------
    local_name : str or None
        Complete local name (``"Polar H10 0A1B2C3D"``).
    service_uuids : tuple of str
        Advertised service UUIDs, normalised.
    manufacturer_data : mapping of int to bytes
        Company identifier -> payload (Polar 0x006B, MbientLab 0x067E).
    service_data : mapping of str to bytes
        Service UUID -> payload.
    tx_power_dbm : int or None
        Advertised TX power level.
    rssi_dbm : int
        RSSI the scanner reports (the fake backend only; bumble's link reports -50).
    """

    local_name: str | None = None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    tx_power_dbm: int | None = None
    rssi_dbm: int = -60

    def __post_init__(self) -> None:
        object.__setattr__(self, "service_uuids", tuple(normalize_uuid(u) for u in self.service_uuids))
        object.__setattr__(self, "manufacturer_data", {int(k): bytes(v) for k, v in self.manufacturer_data.items()})
        object.__setattr__(self, "service_data", {normalize_uuid(k): bytes(v) for k, v in self.service_data.items()})


@runtime_checkable
class PeripheralModel(Protocol):
    """A device emulation that a host (fake or bumble) can run.

    The host calls :meth:`attach` once before anything else, then :meth:`on_connect` and
    :meth:`on_disconnect` around every link, and :meth:`aclose` when it shuts down.  An
    optional ``max_att_mtu`` attribute sets the largest MTU the host accepts.
    """

    @property
    def name(self) -> str:
        """Device name (GAP Device Name)."""
        ...

    def advertisement(self) -> AdvertisementSpec:
        """Current advertising data."""
        ...

    def gatt_services(self) -> Sequence[ServiceSpec]:
        """The GATT table, without Generic Access (hosts add it)."""
        ...

    def attach(self, server: GattServer) -> None:
        """Receive the host's server interface."""
        ...

    def on_connect(self) -> None:
        """A central connected."""
        ...

    def on_disconnect(self) -> None:
        """The link dropped (either side)."""
        ...

    async def aclose(self) -> None:
        """Stop background work."""
        ...
