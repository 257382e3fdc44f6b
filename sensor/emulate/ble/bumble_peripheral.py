"""Host a peripheral description on a bumble GATT server attached to bumble's in-process link.

:class:`BumblePeripheral` turns :class:`~hipflex.sensor.emulate.ble.model.ServiceSpec` tables (or a
:class:`~hipflex.sensor.emulate.ble.model.PeripheralModel` such as the Polar and MetaWear emulators)
into a bumble ``Device`` with its own software controller on a
:class:`~hipflex.sensor.emulate.ble.bumble_backend.BumbleAir`.  A central on the same air then talks
real ATT to it: MTU exchange, CCCD writes, notifications cut to MTU - 3 bytes, indications
that wait for confirmation, ATT error responses from handlers that raise
:class:`~hipflex.sensor.emulate.ble.model.GattError`.

Requires the ``bumble`` test dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bumble import att, gatt, hci
from bumble.controller import Controller
from bumble.device import Connection, Device
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from hipflex.sensor.emulate.ble.advertising import encode_advertising_data
from hipflex.sensor.emulate.ble.model import (
    ATT_DEFAULT_MTU,
    AdvertisementSpec,
    CharacteristicSpec,
    GattError,
    PeripheralModel,
    ServiceSpec,
    normalize_uuid,
)

__all__ = ["BumblePeripheral"]


class _Air(Protocol):
    """What a peripheral needs of :class:`~hipflex.sensor.emulate.ble.bumble_backend.BumbleAir`.

    A protocol rather than an import: the backend imports this module, so importing it back
    (even for type checking only) would close a cycle.
    """

    link: Any

_log = logging.getLogger(__name__)

_PROPERTY_FLAGS = {
    "broadcast": gatt.Characteristic.Properties.BROADCAST,
    "read": gatt.Characteristic.Properties.READ,
    "write-without-response": gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "write": gatt.Characteristic.Properties.WRITE,
    "notify": gatt.Characteristic.Properties.NOTIFY,
    "indicate": gatt.Characteristic.Properties.INDICATE,
}


class BumblePeripheral:
    """A bumble GATT server that hosts a peripheral description; implements ``GattServer``.

    Create it through :meth:`BumbleAir.add_peripheral`, which also starts it.

    Parameters
    ----------
    air : BumbleAir
        The link it lives on.
    address : str
        Random static address, ``"F0:00:00:00:00:01"``.
    services, name, advertisement, model
        As for :class:`~hipflex.sensor.emulate.ble.fake_peripheral.FakePeripheral`.
    max_att_mtu : int or None
        Largest ATT MTU the server accepts in an exchange; by default the model's
        ``max_att_mtu`` attribute, else 517.
    advertising_interval_ms : float
        Advertising interval on the link (bumble's floor is 10 ms).

    Attributes
    ----------
    connect_count : int
        Links established so far.
    """

    def __init__(
        self,
        air: _Air,
        address: str,
        services: Sequence[ServiceSpec] = (),
        *,
        name: str | None = None,
        advertisement: AdvertisementSpec | None = None,
        model: PeripheralModel | None = None,
        max_att_mtu: int | None = None,
        advertising_interval_ms: float = 20.0,
    ) -> None:
        self.air = air
        self.address = address.upper()
        self.model = model
        self._services = list(model.gatt_services() if model is not None else services)
        adv_name = advertisement.local_name if advertisement is not None else None
        self.name: str = name or (model.name if model is not None else None) or adv_name or self.address
        self._advertisement = advertisement
        self.max_att_mtu = max_att_mtu if max_att_mtu is not None else int(getattr(model, "max_att_mtu", 517))
        self.advertising_interval_ms = advertising_interval_ms
        self.connect_count = 0
        self._in_range = True
        self._failures: list[Callable[[], BaseException]] = []
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._connection: Connection | None = None
        self._chars: dict[str, gatt.Characteristic[Any]] = {}
        self._subscribed: set[str] = set()
        self._outbox: asyncio.Queue[tuple[bool, gatt.Characteristic[Any], bytes]] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        if model is not None:
            model.attach(self)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Power on the controller and host, publish the GATT table and advertise."""
        controller = Controller(f"periph-{self.address}", link=self.air.link, public_address=self.address)
        device = Device(
            name=self.name, address=hci.Address(self.address), host=Host(controller, AsyncPipeSink(controller))
        )
        device.gatt_server.max_mtu = self.max_att_mtu
        for service in self._services:
            device.add_service(gatt.Service(service.uuid, [self._bumble_char(c) for c in service.characteristics]))
        device.on(device.EVENT_CONNECTION, self._on_connection)
        self._device = device
        self._controller = controller
        await device.power_on()
        self._pump = asyncio.get_running_loop().create_task(self._send_loop())
        await self._advertise()

    def _bumble_char(self, spec: CharacteristicSpec) -> gatt.Characteristic[Any]:
        flags = gatt.Characteristic.Properties(0)
        for p in spec.properties:
            flags |= _PROPERTY_FLAGS[p]
        perms = gatt.Characteristic.Permissions.READABLE
        if "write" in spec.properties or "write-without-response" in spec.properties:
            perms |= gatt.Characteristic.Permissions.WRITEABLE

        def read(_connection: Any) -> bytes:
            try:
                return spec.read(self)
            except GattError as err:
                raise att.ATT_Error(err.code) from err

        def write(_connection: Any, value: bytes) -> None:
            try:
                spec.write(self, bytes(value))
            except GattError as err:
                raise att.ATT_Error(err.code) from err

        char: gatt.Characteristic[Any] = gatt.Characteristic(
            spec.uuid, flags, perms, gatt.CharacteristicValue(read=read, write=write)
        )
        if spec.subscribable:
            char.on(char.EVENT_SUBSCRIPTION, lambda _b, n, i, u=spec.uuid: self._on_subscription(u, n or i))
        self._chars[spec.uuid] = char
        return char

    async def _advertise(self) -> None:
        device = self._device
        if device is None or not self._in_range or self._connection is not None:
            return
        await device.start_advertising(
            advertising_data=encode_advertising_data(self.advertisement()),
            advertising_interval_min=self.advertising_interval_ms,
            advertising_interval_max=self.advertising_interval_ms,
            auto_restart=True,
        )

    async def aclose(self) -> None:
        """Stop the model, drop the link and power off."""
        if self.model is not None:
            await self.model.aclose()
        device, self._device = self._device, None
        if device is None:
            return
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.disconnect()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        with contextlib.suppress(Exception):
            await device.stop_advertising()
        await device.power_off()

    # ------------------------------------------------------------------ advertising state
    def advertisement(self) -> AdvertisementSpec:
        """What the peripheral advertises."""
        if self._advertisement is not None:
            return self._advertisement
        if self.model is not None:
            return self.model.advertisement()
        return AdvertisementSpec(local_name=self.name, service_uuids=tuple(s.uuid for s in self._services))

    @property
    def advertising(self) -> bool:
        """True while a central can connect: in range, powered and not connected."""
        device = self._device
        return device is not None and self._in_range and self._connection is None and device.is_advertising

    @property
    def in_range(self) -> bool:
        """While False the peripheral does not advertise, so connects time out."""
        return self._in_range

    async def set_in_range(self, in_range: bool) -> None:
        """Move the peripheral into or out of range (stops or restarts advertising)."""
        self._in_range = in_range
        if self._device is None:
            return
        if in_range:
            await self._advertise()
        elif self._device.is_advertising:
            await self._device.stop_advertising()

    def fail_next_connects(self, count: int, error: Callable[[], BaseException] = TimeoutError) -> None:
        """Make the next ``count`` connection attempts fail at once with ``error()``.

        bumble's emulated controller cannot cancel a pending connection, so a real timeout
        would wedge the central; the client checks this list before it starts connecting.
        """
        self._failures.extend([error] * count)

    def take_connect_failure(self) -> BaseException | None:
        """The next scripted connect failure, if any (used by the client backend)."""
        return self._failures.pop(0)() if self._failures else None

    # ------------------------------------------------------------------ GattServer
    @property
    def is_connected(self) -> bool:
        """True while a central is connected."""
        return self._connection is not None

    @property
    def att_mtu(self) -> int:
        """Negotiated ATT MTU of the current link, 23 otherwise."""
        return self._connection.att_mtu if self._connection is not None else ATT_DEFAULT_MTU

    def is_subscribed(self, uuid: str) -> bool:
        """True when the central enabled notifications or indications on ``uuid``."""
        return self._connection is not None and normalize_uuid(uuid) in self._subscribed

    def notify(self, uuid: str, data: bytes) -> bool:
        """Queue a notification; bumble truncates it to ATT MTU - 3."""
        return self._queue(uuid, data, indicate=False)

    def indicate(self, uuid: str, data: bytes) -> bool:
        """Queue an indication; it waits for the central's confirmation before the next value."""
        return self._queue(uuid, data, indicate=True)

    def _link_up(self) -> bool:
        # The controller drops the link before our host hears of it (the HCI event is
        # queued); sending in between only makes the controller complain.
        controller = self._controller
        return self._connection is not None and controller is not None and bool(controller.le_connections)

    def _queue(self, uuid: str, data: bytes, *, indicate: bool) -> bool:
        key = normalize_uuid(uuid)
        if not self._link_up() or key not in self._subscribed:
            return False
        # One ordered queue keeps responses and data in the order the device produced them.
        self._outbox.put_nowait((indicate, self._chars[key], bytes(data)))
        return True

    def disconnect(self) -> None:
        """Peripheral-initiated disconnect (remote user terminated connection)."""
        connection = self._connection
        if connection is not None:
            asyncio.get_running_loop().create_task(self._disconnect(connection))

    @staticmethod
    async def _disconnect(connection: Connection) -> None:
        with contextlib.suppress(Exception):
            await connection.disconnect()

    # ------------------------------------------------------------------ bumble events
    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.connect_count += 1
        connection.on(connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection(connection))
        _log.debug("%s: connected", self.name)
        if self.model is not None:
            self.model.on_connect()

    def _on_disconnection(self, connection: Connection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._subscribed.clear()
        while not self._outbox.empty():  # queued values die with the link
            self._outbox.get_nowait()
        _log.debug("%s: disconnected", self.name)
        if self.model is not None:
            self.model.on_disconnect()

    def _on_subscription(self, uuid: str, enabled: bool) -> None:
        if enabled:
            self._subscribed.add(uuid)
        else:
            self._subscribed.discard(uuid)

    async def _send_loop(self) -> None:
        while True:
            indicate, char, data = await self._outbox.get()
            device = self._device
            if device is None or not self._link_up():
                continue
            try:
                if indicate:
                    await device.indicate_subscribers(char, data)
                else:
                    await device.notify_subscribers(char, data)
            except Exception:  # the link went away mid-indication; the value is lost as on air
                _log.debug("%s: value for %s lost", self.name, char.uuid, exc_info=True)
