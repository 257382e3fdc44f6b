"""A bleak backend over a bumble central on bumble's in-process link: real ATT, no radio.

``BleakClient(device, backend=BumbleClient)`` drives a bumble host stack whose software
controller shares a :class:`bumble.link.LocalLink` with emulated peripherals
(:class:`~hipflex.sensor.emulate.ble.bumble_peripheral.BumblePeripheral`).  Everything bleak asks
for goes over ATT: MTU exchange (247 by default; ``request_mtu=None`` keeps 23 so
notifications are cut to 20 bytes), discovery, reads, writes with and without response,
CCCD writes for notifications and indications, and link loss into bleak's
``disconnected_callback``.  bumble's UUIDs are normalised to bleak's 128-bit lower-case form.

Example
-------
>>> async with BumbleAir() as air:                                          # doctest: +SKIP
...     await air.add_peripheral(PolarPmdPeripheral(H10_PROFILE))
...     dev = await BleakScanner.find_device_by_filter(f, backend=air.scanner_backend)
...     async with BleakClient(dev, backend=BumbleClient) as client: ...

``BLEDevice.details`` from :class:`BumbleScanner` is the :class:`BumbleAir`; for a bare
address pass ``air=`` or use :attr:`BumbleAir.client_backend`.  Like BlueZ, the disconnected
callback fires on every disconnect, our own included.  This module needs ``bumble``; the
rest of :mod:`hipflex.sensor` never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar, cast

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy, DescriptorProxy
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from hipflex.sensor.emulate.ble.advertising import decode_advertising_data
from hipflex.sensor.emulate.ble.bumble_peripheral import BumblePeripheral
from hipflex.sensor.emulate.ble.model import (
    ATT_DEFAULT_MTU,
    ATT_NOTIFY_OVERHEAD,
    AdvertisementSpec,
    PeripheralModel,
    ServiceSpec,
    normalize_uuid,
)

__all__ = ["BumbleAir", "BumbleClient", "BumblePeripheral", "BumbleScanner"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
_CENTRAL_ADDRESS = "C0:00:00:00:00:01"


def bleak_uuid(uuid: core.UUID) -> str:
    """bumble UUID (``str()`` is decorated, e.g. ``UUID-16:1800 (Generic Access)``) -> bleak form."""
    return normalize_uuid(uuid.to_hex_str().lower())


class BumbleAir:
    """bumble's in-process "air": one LocalLink, the emulated peripherals and the host's central.

    Use as ``async with BumbleAir() as air`` so every controller is powered off at the end.
    """

    def __init__(self) -> None:
        self.link = LocalLink()
        self._peripherals: dict[str, BumblePeripheral] = {}
        self._central: Device | None = None
        self._central_lock: asyncio.Lock | None = None
        self._scanners = 0
        self._next = 1
        self._client_cls: type[BumbleClient] | None = None
        self._scanner_cls: type[BumbleScanner] | None = None

    async def add_peripheral(
        self,
        model: PeripheralModel | None = None,
        *,
        services: Sequence[ServiceSpec] = (),
        address: str | None = None,
        name: str | None = None,
        advertisement: AdvertisementSpec | None = None,
        max_att_mtu: int | None = None,
    ) -> BumblePeripheral:
        """Create, start and register a peripheral hosting ``model`` (or a plain ``services`` table)."""
        if address is None:
            address = f"F0:00:00:00:00:{self._next:02X}"
            self._next += 1
        if address.upper() in self._peripherals:
            raise ValueError(f"address {address} is already on the air")
        peripheral = BumblePeripheral(
            self, address, services, name=name, advertisement=advertisement, model=model, max_att_mtu=max_att_mtu
        )
        self._peripherals[peripheral.address] = peripheral
        await peripheral.start()
        return peripheral

    def peripheral(self, address: str) -> BumblePeripheral | None:
        """The peripheral at ``address`` (any case), if any."""
        return self._peripherals.get(address.upper())

    async def central(self) -> Device:
        """The host's central device (one adapter shared by every client and scanner)."""
        if self._central_lock is None:
            self._central_lock = asyncio.Lock()
        async with self._central_lock:
            if self._central is None:
                controller = Controller("central", link=self.link, public_address=_CENTRAL_ADDRESS)
                device = Device(
                    name="hipflex",
                    address=hci.Address(_CENTRAL_ADDRESS),
                    host=Host(controller, AsyncPipeSink(controller)),
                )
                await device.power_on()
                self._central = device
            return self._central

    async def connect(self, peripheral: BumblePeripheral, timeout_s: float) -> Connection:
        """Connect the central to ``peripheral`` (one connect at a time, as one adapter).

        Raises
        ------
        TimeoutError
            The peripheral did not advertise within ``timeout_s``.
        """
        central = await self.central()
        assert self._central_lock is not None
        async with self._central_lock:
            # bumble's controller cannot cancel a pending connection, so the connect is only
            # issued once the peripheral advertises; the wait is what times out.
            async with asyncio.timeout(timeout_s):
                while not peripheral.advertising:
                    await asyncio.sleep(0.005)
            return await central.connect(hci.Address(peripheral.address), timeout=None)

    async def start_scanning(self) -> Device:
        """Reference-counted scan start on the shared central."""
        central = await self.central()
        self._scanners += 1
        if self._scanners == 1:
            await central.start_scanning(filter_duplicates=False)
        return central

    async def stop_scanning(self) -> None:
        """Reference-counted scan stop."""
        self._scanners = max(0, self._scanners - 1)
        if self._scanners == 0 and self._central is not None and self._central.is_scanning:
            await self._central.stop_scanning()

    @property
    def client_backend(self) -> type[BumbleClient]:
        """A :class:`BumbleClient` subclass bound to this air, for code that only passes ``backend=``."""
        if self._client_cls is None:
            self._client_cls = cast(type[BumbleClient], type("BumbleClient", (BumbleClient,), {"air": self}))
        return self._client_cls

    @property
    def scanner_backend(self) -> type[BumbleScanner]:
        """A :class:`BumbleScanner` subclass bound to this air."""
        if self._scanner_cls is None:
            self._scanner_cls = cast(type[BumbleScanner], type("BumbleScanner", (BumbleScanner,), {"air": self}))
        return self._scanner_cls

    async def aclose(self) -> None:
        """Stop every peripheral and power off every controller."""
        for p in list(self._peripherals.values()):
            await p.aclose()
        central, self._central = self._central, None
        if central is not None:
            if central.is_scanning:
                await central.stop_scanning()
            await central.power_off()

    async def __aenter__(self) -> BumbleAir:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class BumbleClient(BaseBleakClient):
    """:class:`~bleak.backends.client.BaseBleakClient` driving a bumble central.

    Extra keyword arguments (through ``BleakClient`` or ``establish_connection``):

    Parameters
    ----------
    air : BumbleAir or None
        The link to use when ``BLEDevice.details`` does not carry it.
    request_mtu : int or None
        ATT MTU to request after connecting (247); ``None`` skips the exchange (MTU 23).
    """

    air: ClassVar[BumbleAir | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Any = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        air: BumbleAir | None = None,
        request_mtu: int | None = 247,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        self._air = air or (details if isinstance(details, BumbleAir) else None) or type(self).air
        self._service_filter = services
        self._request_mtu = request_mtu
        self._connection: Connection | None = None
        self._lost: asyncio.Future[None] | None = None
        self._ready = False
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """Device name of the peripheral."""
        p = self._air.peripheral(self.address) if self._air is not None else None
        return p.name if p is not None else self.address

    @property
    def mtu_size(self) -> int:
        """ATT MTU of the link."""
        return self._connection.att_mtu if self._connection is not None else ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect over the link, exchange the MTU, discover services, characteristics, descriptors.

        Raises
        ------
        BleakDeviceNotFoundError
            No peripheral with this address on the air.
        TimeoutError
            The peripheral did not advertise within the timeout, or a scripted failure.
        """
        if self._connection is not None:
            return
        air = self._air
        peripheral = air.peripheral(self.address) if air is not None else None
        if air is None or peripheral is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        if pair:
            _log.debug("bumble backend: pairing not requested from the emulated peripheral")
        failure = peripheral.take_connect_failure()
        if failure is not None:
            await asyncio.sleep(0)
            raise failure
        connection = await air.connect(peripheral, float(kwargs.get("timeout", self._timeout)))
        self._connection = connection
        self._lost = asyncio.get_running_loop().create_future()
        connection.on(connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection(connection))
        peer = Peer(connection)
        self._peer = peer
        try:
            if self._request_mtu is not None:
                mtu = self._request_mtu
                await self._att(lambda: peer.request_mtu(mtu))
            self.services = await self._discover(peer)
        except BaseException:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            raise
        self._ready = True

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for proxy in await self._att(peer.discover_services):
            uuid = bleak_uuid(proxy.uuid)
            if self._service_filter is not None and uuid not in self._service_filter:
                continue
            service = BleakGATTService(proxy, proxy.handle, uuid)
            collection.add_service(service)
            for char_proxy in await self._att(functools.partial(peer.discover_characteristics, service=proxy)):
                props = [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if char_proxy.properties & bit]
                char = BleakGATTCharacteristic(
                    char_proxy,
                    char_proxy.handle,
                    bleak_uuid(char_proxy.uuid),
                    props,
                    lambda: self.mtu_size - ATT_NOTIFY_OVERHEAD,
                    service,
                )
                collection.add_characteristic(char)
                for desc in await self._att(functools.partial(peer.discover_descriptors, char_proxy)):
                    collection.add_descriptor(BleakGATTDescriptor(desc, desc.handle, bleak_uuid(desc.type), char))
        return collection

    def _on_disconnection(self, connection: Connection) -> None:
        if connection is not self._connection:
            return
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        was_ready, self._ready = self._ready, False
        _log.debug("bumble backend: %s disconnected", self.address)
        # A link lost while connecting fails connect(); only an established link reports a drop.
        if was_ready and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        """Disconnect; the disconnected callback fires (as on BlueZ)."""
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(core.BaseBumbleError):
                await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pairing is not emulated; accepted as a no-op."""

    async def unpair(self) -> None:
        """Pairing is not emulated; accepted as a no-op."""

    async def _att(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run a bumble GATT operation on the live link, with bleak's exceptions.

        bumble's GATT client neither fails requests sent after the link dropped nor always
        cancels one in flight, so each operation races the link-loss future.
        """
        lost = self._lost
        if lost is None or lost.done():
            raise BleakError("Not connected")
        task = asyncio.ensure_future(operation())
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done() or task.cancelled():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise BleakError("Not connected: the link dropped during a GATT operation")
        err = task.exception()
        if err is None:
            return task.result()
        if isinstance(err, att.ATT_Error):
            raise BleakGATTProtocolError(err.error_code) from err
        if isinstance(err, core.TimeoutError):
            raise TimeoutError(str(err)) from err
        raise err

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        """ATT read (with blob reads for long values)."""
        peer = self._require_peer()
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        return bytearray(await self._att(lambda: peer.read_value(proxy)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """ATT write request (``response=True``) or write command; the local checks a stack makes first."""
        peer = self._require_peer()
        value = bytes(data)
        if not response:
            if "write-without-response" not in characteristic.properties:
                raise BleakError(f"{characteristic.uuid} does not support write without response")
            if len(value) > self.mtu_size - ATT_NOTIFY_OVERHEAD:
                raise BleakError(f"write without response of {len(value)} bytes exceeds ATT MTU {self.mtu_size} - 3")
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        await self._att(lambda: peer.write_value(proxy, value, response))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD (notifications preferred over indications, as bleak does)."""
        peer = self._require_peer()

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        self._subscribers[characteristic.handle] = subscriber
        await self._att(lambda: peer.gatt_client.subscribe(proxy, subscriber, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Clear the CCCD."""
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        proxy = cast(CharacteristicProxy[bytes], characteristic.obj)
        await self._att(lambda: peer.gatt_client.unsubscribe(proxy, subscriber))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        """ATT read of a descriptor."""
        peer = self._require_peer()
        proxy = cast(DescriptorProxy, descriptor.obj)
        return bytearray(await self._att(lambda: peer.read_value(proxy)))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """ATT write request to a descriptor."""
        peer = self._require_peer()
        proxy = cast(DescriptorProxy, descriptor.obj)
        value = bytes(data)
        await self._att(lambda: peer.write_value(proxy, value, True))


class BumbleScanner(BaseBleakScanner):
    """:class:`~bleak.backends.scanner.BaseBleakScanner` over the shared bumble central.

    Advertising reports become bleak ``AdvertisementData`` (name, service UUIDs, manufacturer
    and service data, TX power, RSSI); ``BLEDevice.details`` is the :class:`BumbleAir`.
    """

    air: ClassVar[BumbleAir | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        air: BumbleAir | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        air = air or type(self).air
        if air is None:
            raise BleakError("BumbleScanner needs an air: pass air=BumbleAir() or use BumbleAir.scanner_backend")
        self._air_obj = air
        self._central: Device | None = None

    async def start(self) -> None:
        """Start scanning on the shared central."""
        self.seen_devices = {}
        if self._central is None:
            self._central = await self._air_obj.start_scanning()
            self._central.on(self._central.EVENT_ADVERTISEMENT, self._on_advertisement)

    async def stop(self) -> None:
        """Stop scanning."""
        central, self._central = self._central, None
        if central is not None:
            central.remove_listener(central.EVENT_ADVERTISEMENT, self._on_advertisement)
            await self._air_obj.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        spec = decode_advertising_data(advertisement.data_bytes, advertisement.rssi)
        adv = AdvertisementData(
            local_name=spec.local_name,
            manufacturer_data=dict(spec.manufacturer_data),
            service_data=dict(spec.service_data),
            service_uuids=list(spec.service_uuids),
            tx_power=spec.tx_power_dbm,
            rssi=spec.rssi_dbm,
            platform_data=(advertisement,),
        )
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = str(advertisement.address).split("/")[0].upper()
        device = self.create_or_update_device(address, address, spec.local_name, self._air_obj, adv)
        self.call_detection_callbacks(device, adv)
