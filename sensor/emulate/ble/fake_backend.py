"""A pure in-memory bleak backend: ``BleakClient(..., backend=FakeClient)`` with no radio.

Production code uses the stock :class:`bleak.BleakClient`, :class:`bleak.BleakScanner`
and :func:`bleak_retry_connector.establish_connection`; tests inject these classes with
``backend=``.  Everything runs on the event loop, deterministically and in milliseconds.

Example
-------
>>> radio = FakeRadio()                                               # doctest: +SKIP
>>> radio.add(FakePeripheral("F0:00:00:00:00:01", [ServiceSpec(...)])) # doctest: +SKIP
>>> dev = await BleakScanner.find_device_by_name("H10", backend=radio.scanner_backend)
>>> async with BleakClient(dev, backend=FakeClient) as client: ...    # doctest: +SKIP

How a client finds its peripheral, in order: the ``peripheral=`` keyword; the
:class:`~bleak.backends.device.BLEDevice` ``details`` that :class:`FakeScanner` fills in; an
address lookup in the ``radio=`` keyword or in the radio a bound class
(:attr:`FakeRadio.client_backend`) carries.  Production code that only passes
``backend=`` therefore works with devices from a fake scan, or with a bound class.

Link semantics follow a real stack: the ATT MTU is ``min(request_mtu, peripheral max)``
(23 without an exchange) and notifications are cut to MTU - 3 bytes; a write command
longer than MTU - 3 or to a characteristic without ``write-without-response`` is refused
locally; handler errors come back as :class:`bleak.exc.BleakGATTProtocolError`; like BlueZ,
the disconnected callback fires on every disconnect, including our own ``disconnect()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar, Literal, cast

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from hipflex.sensor.emulate.ble.fake_peripheral import FakeAttribute, FakePeripheral, WriteRecord
from hipflex.sensor.emulate.ble.model import (
    ATT_DEFAULT_MTU,
    ATT_MAX_VALUE_BYTES,
    ATT_NOTIFY_OVERHEAD,
    CCCD_UUID,
    AttError,
    GattError,
    PeripheralModel,
)

__all__ = ["FakeClient", "FakePeripheral", "FakeRadio", "FakeScanner", "WriteRecord"]

_log = logging.getLogger(__name__)


class FakeRadio:
    """The "air" of the fake tier: the peripherals a scan can see and a connect can reach.

    Attributes
    ----------
    advertising_interval_s : float
        Host seconds between advertisement reports while scanning.
    """

    def __init__(self, advertising_interval_s: float = 0.01) -> None:
        self.advertising_interval_s = advertising_interval_s
        self._peripherals: dict[str, FakePeripheral] = {}
        self._client_cls: type[FakeClient] | None = None
        self._scanner_cls: type[FakeScanner] | None = None
        self._next = 1

    def add(self, peripheral: FakePeripheral | PeripheralModel, *, address: str | None = None) -> FakePeripheral:
        """Put a peripheral on the air; a model is wrapped in a :class:`FakePeripheral`."""
        if not isinstance(peripheral, FakePeripheral):
            if address is None:
                address = f"F0:00:00:00:00:{self._next:02X}"
                self._next += 1
            peripheral = FakePeripheral(address, model=peripheral)
        if peripheral.address in self._peripherals:
            raise ValueError(f"address {peripheral.address} is already on the air")
        self._peripherals[peripheral.address] = peripheral
        return peripheral

    def get(self, address: str) -> FakePeripheral | None:
        """The peripheral at ``address`` (any case), if any."""
        return self._peripherals.get(address.upper())

    @property
    def peripherals(self) -> list[FakePeripheral]:
        """All peripherals, in the order they were added."""
        return list(self._peripherals.values())

    @property
    def client_backend(self) -> type[FakeClient]:
        """A :class:`FakeClient` subclass bound to this radio, for code that only passes ``backend=``."""
        if self._client_cls is None:
            self._client_cls = cast(type[FakeClient], type("FakeClient", (FakeClient,), {"radio": self}))
        return self._client_cls

    @property
    def scanner_backend(self) -> type[FakeScanner]:
        """A :class:`FakeScanner` subclass bound to this radio."""
        if self._scanner_cls is None:
            self._scanner_cls = cast(type[FakeScanner], type("FakeScanner", (FakeScanner,), {"radio": self}))
        return self._scanner_cls

    async def aclose(self) -> None:
        """Drop every link and stop every hosted model."""
        for p in self._peripherals.values():
            await p.aclose()

    async def __aenter__(self) -> FakeRadio:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _protocol_error(err: GattError) -> BleakGATTProtocolError:
    return BleakGATTProtocolError(err.code)


class FakeClient(BaseBleakClient):
    """In-memory :class:`~bleak.backends.client.BaseBleakClient`.

    Keyword arguments beyond bleak's (pass them to ``BleakClient`` or ``establish_connection``):

    Parameters
    ----------
    peripheral : FakePeripheral or None
        Connect to this peripheral whatever the address says.
    radio : FakeRadio or None
        Look the address up here.
    request_mtu : int or None
        ATT MTU to ask for at connect (247 by default); ``None`` skips the exchange (MTU 23).
    """

    radio: ClassVar[FakeRadio | None] = None

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Any = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        peripheral: FakePeripheral | None = None,
        radio: FakeRadio | None = None,
        request_mtu: int | None = 247,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        self._explicit = (
            peripheral if peripheral is not None else (details if isinstance(details, FakePeripheral) else None)
        )
        self._radio = radio if radio is not None else type(self).radio
        self._service_filter = services
        self._request_mtu = request_mtu
        self._peripheral: FakePeripheral | None = None
        self._mtu = ATT_DEFAULT_MTU
        self._connected = False
        self._attrs: dict[int, FakeAttribute] = {}

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        """GAP device name of the peripheral (the address before it is known)."""
        p = self._peripheral or self._resolve()
        return p.name if p is not None else self.address

    @property
    def mtu_size(self) -> int:
        """Negotiated ATT MTU."""
        return self._mtu

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connected

    @property
    def peripheral(self) -> FakePeripheral | None:
        """The peripheral this client is (or was last) connected to."""
        return self._peripheral

    # ------------------------------------------------------------------ connection
    def _resolve(self) -> FakePeripheral | None:
        if self._explicit is not None:
            return self._explicit
        return self._radio.get(self.address) if self._radio is not None else None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU and build the service collection.

        Raises
        ------
        BleakDeviceNotFoundError
            No peripheral with this address exists.
        TimeoutError
            The peripheral stayed out of range (or busy) for the timeout, or a scripted failure.
        """
        if self._connected:
            return
        if pair:
            _log.debug("fake backend: pairing is not emulated; connecting without it")
        peripheral = self._resolve()
        if peripheral is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        timeout_s = float(kwargs.get("timeout", self._timeout))
        await peripheral.accept(self._on_link_lost, self._request_mtu, timeout_s)
        self._peripheral = peripheral
        self._mtu = peripheral.att_mtu
        self._connected = True
        self.services = self._build_services(peripheral)

    def _build_services(self, peripheral: FakePeripheral) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        self._attrs = {}
        for attr in peripheral.attributes:
            if self._service_filter is not None and attr.service_uuid not in self._service_filter:
                continue
            service = collection.get_service(attr.service_handle)
            if service is None:
                service = BleakGATTService(None, attr.service_handle, attr.service_uuid)
                collection.add_service(service)
            char = BleakGATTCharacteristic(
                attr,
                attr.handle,
                attr.spec.uuid,
                cast(Any, list(attr.spec.properties)),
                lambda: self._mtu - ATT_NOTIFY_OVERHEAD,
                service,
            )
            collection.add_characteristic(char)
            if attr.cccd_handle is not None:
                collection.add_descriptor(BleakGATTDescriptor(attr, attr.cccd_handle, CCCD_UUID, char))
            self._attrs[attr.handle] = attr
        return collection

    def _on_link_lost(self) -> None:
        if not self._connected:
            return
        self._connected = False
        _log.debug("fake backend: %s disconnected", self.address)
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        """Disconnect; the disconnected callback fires (as on BlueZ)."""
        if self._connected and self._peripheral is not None:
            self._peripheral.disconnect()
            await asyncio.sleep(0)  # let the disconnect event run, as the OS reports it

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pairing is not emulated; accepted as a no-op."""

    async def unpair(self) -> None:
        """Pairing is not emulated; accepted as a no-op."""

    # ------------------------------------------------------------------ GATT
    def _link(self, obj: Any) -> tuple[FakePeripheral, FakeAttribute]:
        if not self._connected or self._peripheral is None:
            raise BleakError("Not connected")
        if not isinstance(obj, FakeAttribute):
            raise BleakError(f"{obj!r} does not belong to the fake backend")
        return self._peripheral, obj

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        """Read a characteristic value (handler errors become BleakGATTProtocolError)."""
        peripheral, attr = self._link(characteristic.obj)
        await asyncio.sleep(0)
        if "read" not in attr.spec.properties:
            raise BleakGATTProtocolError(AttError.READ_NOT_PERMITTED)
        try:
            value = peripheral.read(attr)
        except GattError as err:
            raise _protocol_error(err) from err
        return bytearray(value[:ATT_MAX_VALUE_BYTES])

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """Write a request (``response=True``) or a command; checks properties and sizes like a stack."""
        peripheral, attr = self._link(characteristic.obj)
        value = bytes(data)
        props = attr.spec.properties
        if response:
            if "write" not in props:
                raise BleakGATTProtocolError(AttError.WRITE_NOT_PERMITTED)
            if len(value) > ATT_MAX_VALUE_BYTES:
                raise BleakGATTProtocolError(AttError.INVALID_ATTRIBUTE_VALUE_LENGTH)
        else:
            # A write command has no reply, so the local stack refuses what it cannot send.
            if "write-without-response" not in props:
                raise BleakError(f"{attr.spec.uuid} does not support write without response")
            if len(value) > self._mtu - ATT_NOTIFY_OVERHEAD:
                raise BleakError(f"write without response of {len(value)} bytes exceeds ATT MTU {self._mtu} - 3")
        await asyncio.sleep(0)
        try:
            peripheral.write(attr, value, response)
        except GattError as err:
            if response:
                raise _protocol_error(err) from err
            _log.debug("fake backend: write command to %s rejected (0x%02X), no reply", attr.spec.uuid, err.code)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (preferred, as bleak does) or indications."""
        peripheral, attr = self._link(characteristic.obj)
        props = attr.spec.properties
        kind: Literal["notify", "indicate"]
        if "notify" in props:
            kind = "notify"
        elif "indicate" in props:
            kind = "indicate"
        else:
            raise BleakError(f"characteristic {attr.spec.uuid} does not notify or indicate")
        await asyncio.sleep(0)
        peripheral.subscribe(attr, callback, kind)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications and indications."""
        peripheral, attr = self._link(characteristic.obj)
        await asyncio.sleep(0)
        peripheral.subscribe(attr, None, "notify")

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        """Read a descriptor; the fake table only has CCCDs."""
        peripheral, attr = self._link(descriptor.obj)
        await asyncio.sleep(0)
        return bytearray(peripheral.cccd_value(attr))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """bleak refuses CCCD writes before they get here; nothing else is writable."""
        self._link(descriptor.obj)
        raise BleakGATTProtocolError(AttError.WRITE_NOT_PERMITTED)


class FakeScanner(BaseBleakScanner):
    """In-memory :class:`~bleak.backends.scanner.BaseBleakScanner`.

    Reports every advertising peripheral of the radio (``radio=`` keyword or the bound
    class's radio) each :attr:`FakeRadio.advertising_interval_s` while scanning, with the
    name, service UUIDs, manufacturer data, service data, TX power and RSSI of its
    :class:`~hipflex.sensor.emulate.ble.model.AdvertisementSpec`.  ``BLEDevice.details`` is the
    :class:`FakePeripheral`, so a plain ``BleakClient(device, backend=FakeClient)`` finds it.
    """

    radio: ClassVar[FakeRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        radio: FakeRadio | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio_obj = radio if radio is not None else type(self).radio
        if self._radio_obj is None:
            raise BleakError("FakeScanner needs a radio: pass radio=FakeRadio() or use FakeRadio.scanner_backend")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start reporting advertisements."""
        self.seen_devices = {}
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop reporting advertisements."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        radio = self._radio_obj
        assert radio is not None
        while True:
            for peripheral in radio.peripherals:
                if peripheral.advertising:
                    self._report(peripheral)
            await asyncio.sleep(radio.advertising_interval_s)

    def _report(self, peripheral: FakePeripheral) -> None:
        spec = peripheral.advertisement()
        adv = AdvertisementData(
            local_name=spec.local_name,
            manufacturer_data=dict(spec.manufacturer_data),
            service_data=dict(spec.service_data),
            service_uuids=list(spec.service_uuids),
            tx_power=spec.tx_power_dbm,
            rssi=spec.rssi_dbm,
            platform_data=(peripheral,),
        )
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(peripheral.address, peripheral.address, spec.local_name, peripheral, adv)
        self.call_detection_callbacks(device, adv)
