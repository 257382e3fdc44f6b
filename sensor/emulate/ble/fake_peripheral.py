"""An in-memory BLE peripheral for the fake bleak backend: a scripted GATT table and a link model.

:class:`FakePeripheral` holds a GATT table (services from :mod:`hipflex.sensor.emulate.ble.model`,
or from a hosted :class:`~hipflex.sensor.emulate.ble.model.PeripheralModel` such as the Polar and
MetaWear emulators), one link to at most one central, and the test-facing script hooks:
push notifications, force a peripheral-initiated disconnect, fail the next connects,
take the device out of range.  It implements :class:`~hipflex.sensor.emulate.ble.model.GattServer`,
so models talk to it exactly as they talk to the bumble host.

Delivery is deterministic: every notification, indication and disconnect callback is
scheduled with ``loop.call_soon`` in the order it was produced, so it runs on the event
loop after the producing call returns, as a real backend's callbacks do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hipflex.sensor.emulate.ble.model import (
    ATT_DEFAULT_MTU,
    ATT_NOTIFY_OVERHEAD,
    DEVICE_NAME_UUID,
    GENERIC_ACCESS_UUID,
    AdvertisementSpec,
    CharacteristicSpec,
    PeripheralModel,
    ServiceSpec,
    normalize_uuid,
)

__all__ = ["FakeAttribute", "FakePeripheral", "WriteRecord"]

_log = logging.getLogger(__name__)

NotifyCallback = Callable[[bytearray], None]


@dataclass(frozen=True)
class WriteRecord:
    """One write the central made, in order.

    Attributes
    ----------
    uuid : str
        Characteristic written.
    data : bytes
        Value written.
    with_response : bool
        True for a write request, False for a write command.
    """

    uuid: str
    data: bytes
    with_response: bool


@dataclass
class FakeAttribute:
    """A characteristic placed in the table: its spec and the handles it occupies.

    Attributes
    ----------
    service_uuid : str
        Owning service.
    service_handle : int
        Handle of the service declaration.
    handle : int
        Handle of the characteristic value (what bleak calls the characteristic handle).
    cccd_handle : int or None
        Handle of its Client Characteristic Configuration Descriptor, when subscribable.
    spec : CharacteristicSpec
        Properties, value and handlers.
    """

    service_uuid: str
    service_handle: int
    handle: int
    cccd_handle: int | None
    spec: CharacteristicSpec


@dataclass
class _Link:
    """State that exists only while a central is connected."""

    att_mtu: int
    on_lost: Callable[[], None]
    # value handle -> (callback, "notify" | "indicate")
    subscriptions: dict[int, tuple[NotifyCallback, str]] = field(default_factory=dict)


class FakePeripheral:
    """A scripted peripheral that the fake bleak backend connects to.

    Parameters
    ----------
    address : str
        Bluetooth address, ``"AA:BB:CC:DD:EE:FF"``.
    services : sequence of ServiceSpec
        GATT table; ignored when ``model`` is given.
    name : str or None
        GAP device name; defaults to the advertised local name or the model's name.
    advertisement : AdvertisementSpec or None
        Advertising data; defaults to the model's, or the name and the service UUIDs.
    model : PeripheralModel or None
        A device emulation to host; it supplies name, services and advertisement.
    max_att_mtu : int or None
        Largest ATT MTU the peripheral accepts in an MTU exchange; by default the model's
        ``max_att_mtu`` attribute, else 517.
    connect_delay_s : float
        Host seconds a successful connect takes (0 keeps tests millisecond-fast).

    Attributes
    ----------
    in_range : bool
        While False the peripheral neither advertises nor accepts connections.
    writes : list of WriteRecord
        Every write the central made, in order.
    connect_count : int
        Successful connections so far.
    connect_attempts : int
        Connection requests that reached the peripheral (successful, failed or pending), so a
        test can wait for an attempt to be under way instead of sleeping.
    """

    def __init__(
        self,
        address: str,
        services: Sequence[ServiceSpec] = (),
        *,
        name: str | None = None,
        advertisement: AdvertisementSpec | None = None,
        model: PeripheralModel | None = None,
        max_att_mtu: int | None = None,
        connect_delay_s: float = 0.0,
    ) -> None:
        if max_att_mtu is None:
            max_att_mtu = int(getattr(model, "max_att_mtu", 517))
        if max_att_mtu < ATT_DEFAULT_MTU:
            raise ValueError(f"max_att_mtu must be >= {ATT_DEFAULT_MTU}, got {max_att_mtu}")
        self.address = address.upper()
        self.model = model
        if model is not None:
            services = model.gatt_services()
        adv_name = advertisement.local_name if advertisement is not None else None
        self.name: str = name or (model.name if model is not None else None) or adv_name or self.address
        self._advertisement = advertisement
        self.max_att_mtu = max_att_mtu
        self.connect_delay_s = connect_delay_s
        self.in_range = True
        self.writes: list[WriteRecord] = []
        self.connect_count = 0
        self.connect_attempts = 0
        self._failures: list[Callable[[], BaseException]] = []
        self._link: _Link | None = None
        self._services = [ServiceSpec(GENERIC_ACCESS_UUID, [self._device_name_spec()]), *services]
        self._attributes = self._layout(self._services)
        self._by_uuid: dict[str, FakeAttribute] = {}
        for attr in self._attributes:
            self._by_uuid.setdefault(attr.spec.uuid, attr)
        if model is not None:
            model.attach(self)

    def _device_name_spec(self) -> CharacteristicSpec:
        return CharacteristicSpec(DEVICE_NAME_UUID, ("read",), on_read=lambda _server: self.name.encode())

    @staticmethod
    def _layout(services: Sequence[ServiceSpec]) -> list[FakeAttribute]:
        # Handles follow a real GATT table: service declaration, then per characteristic a
        # declaration, the value and (when subscribable) the CCCD.
        out: list[FakeAttribute] = []
        handle = 1
        for service in services:
            service_handle = handle
            handle += 1
            for spec in service.characteristics:
                value_handle = handle + 1
                cccd = value_handle + 1 if spec.subscribable else None
                out.append(FakeAttribute(service.uuid, service_handle, value_handle, cccd, spec))
                handle = (cccd or value_handle) + 1
        return out

    # ------------------------------------------------------------------ table
    @property
    def services(self) -> list[ServiceSpec]:
        """The GATT table, Generic Access first."""
        return list(self._services)

    @property
    def attributes(self) -> list[FakeAttribute]:
        """Characteristics with their handles, in handle order."""
        return list(self._attributes)

    def characteristic(self, uuid: str) -> CharacteristicSpec:
        """The spec of a characteristic, to script it (``spec.on_write = ...``).

        Raises
        ------
        KeyError
            No such characteristic.
        """
        return self._attribute(uuid).spec

    def _attribute(self, uuid: str) -> FakeAttribute:
        try:
            return self._by_uuid[normalize_uuid(uuid)]
        except KeyError:
            raise KeyError(f"{self.name} has no characteristic {uuid}") from None

    def advertisement(self) -> AdvertisementSpec:
        """What a scan sees now."""
        if self._advertisement is not None:
            return self._advertisement
        if self.model is not None:
            return self.model.advertisement()
        uuids = tuple(s.uuid for s in self._services[1:])
        return AdvertisementSpec(local_name=self.name, service_uuids=uuids)

    @property
    def advertising(self) -> bool:
        """True when a scanner can see the device: in range and not connected."""
        return self.in_range and self._link is None

    # ------------------------------------------------------------------ GattServer
    @property
    def is_connected(self) -> bool:
        """True while a central is connected."""
        return self._link is not None

    @property
    def att_mtu(self) -> int:
        """Negotiated ATT MTU, 23 when not connected."""
        return self._link.att_mtu if self._link is not None else ATT_DEFAULT_MTU

    def is_subscribed(self, uuid: str) -> bool:
        """True when the central subscribed to ``uuid``."""
        link = self._link
        return link is not None and self._attribute(uuid).handle in link.subscriptions

    def notify(self, uuid: str, data: bytes) -> bool:
        """Send a notification (truncated to ATT MTU - 3); False when it went nowhere."""
        return self._send(uuid, data)

    def indicate(self, uuid: str, data: bytes) -> bool:
        """Send an indication (truncated to ATT MTU - 3); False when it went nowhere."""
        return self._send(uuid, data)

    def _send(self, uuid: str, data: bytes) -> bool:
        link = self._link
        if link is None:
            return False
        sub = link.subscriptions.get(self._attribute(uuid).handle)
        if sub is None:
            return False
        # A real link cuts values to what one ATT PDU carries; MTU bugs must show up here too.
        payload = bytearray(data[: link.att_mtu - ATT_NOTIFY_OVERHEAD])
        asyncio.get_running_loop().call_soon(sub[0], payload)
        return True

    def disconnect(self) -> None:
        """Peripheral-initiated disconnect; the central's disconnected callback follows."""
        self._drop_link()

    # ------------------------------------------------------------------ script hooks
    def fail_next_connects(self, count: int, error: Callable[[], BaseException] = TimeoutError) -> None:
        """Make the next ``count`` connection attempts raise ``error()`` (default: a timeout).

        The failure is immediate rather than after the client's timeout, so retry tests stay fast.
        """
        self._failures.extend([error] * count)

    async def aclose(self) -> None:
        """Drop any link and stop the hosted model."""
        self._drop_link()
        if self.model is not None:
            await self.model.aclose()

    # ------------------------------------------------------------------ used by FakeClient
    async def accept(self, on_lost: Callable[[], None], request_mtu: int | None, timeout_s: float) -> None:
        """Establish the link for a connecting central.

        Raises
        ------
        TimeoutError
            Out of range (or already connected) for ``timeout_s``, or a scripted failure.
        """
        await asyncio.sleep(0)  # the connect request travels
        self.connect_attempts += 1
        if self._failures:
            raise self._failures.pop(0)()
        async with asyncio.timeout(timeout_s):
            while not self.advertising:
                await asyncio.sleep(0.005)
        if self.connect_delay_s > 0:
            await asyncio.sleep(self.connect_delay_s)
        mtu = ATT_DEFAULT_MTU if request_mtu is None else max(ATT_DEFAULT_MTU, min(request_mtu, self.max_att_mtu))
        self._link = _Link(mtu, on_lost)
        self.connect_count += 1
        _log.debug("%s: connected, ATT MTU %d", self.name, mtu)
        if self.model is not None:
            self.model.on_connect()

    def read(self, attr: FakeAttribute) -> bytes:
        """Serve a read request (handlers may raise GattError)."""
        return attr.spec.read(self)

    def write(self, attr: FakeAttribute, data: bytes, with_response: bool) -> None:
        """Serve a write request or command (handlers may raise GattError)."""
        self.writes.append(WriteRecord(attr.spec.uuid, bytes(data), with_response))
        attr.spec.write(self, data)

    def subscribe(self, attr: FakeAttribute, callback: NotifyCallback | None, kind: str) -> None:
        """Set (callback) or clear (None) the central's subscription to ``attr``."""
        link = self._link
        if link is None:
            return
        if callback is None:
            link.subscriptions.pop(attr.handle, None)
        else:
            link.subscriptions[attr.handle] = (callback, kind)

    def cccd_value(self, attr: FakeAttribute) -> bytes:
        """The CCCD as the central wrote it: bit 0 notify, bit 1 indicate."""
        sub = self._link.subscriptions.get(attr.handle) if self._link is not None else None
        if sub is None:
            return b"\x00\x00"
        return b"\x01\x00" if sub[1] == "notify" else b"\x02\x00"

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        if link is None:
            return
        _log.debug("%s: link dropped", self.name)
        if self.model is not None:
            self.model.on_disconnect()
        # After anything already queued, as a controller reports it after pending packets.
        try:
            asyncio.get_running_loop().call_soon(link.on_lost)
        except RuntimeError:  # no loop any more (teardown): nobody is left to tell
            link.on_lost()
