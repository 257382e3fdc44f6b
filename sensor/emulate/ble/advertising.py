"""Advertising data bytes (Core Supplement Part A) to and from :class:`AdvertisementSpec`.

Used by the bumble tier, whose peripherals advertise real AD structures over the link
and whose scanner has to turn them back into bleak's ``AdvertisementData`` fields.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Final

from hipflex.sensor.emulate.ble.model import AdvertisementSpec, normalize_uuid

__all__ = ["decode_advertising_data", "encode_advertising_data"]

_FLAGS: Final = 0x01
_UUID_LISTS: Final = {0x02: 2, 0x03: 2, 0x04: 4, 0x05: 4, 0x06: 16, 0x07: 16}
_SHORT_NAME, _COMPLETE_NAME, _TX_POWER = 0x08, 0x09, 0x0A
_SERVICE_DATA: Final = {0x16: 2, 0x20: 4, 0x21: 16}
_MANUFACTURER: Final = 0xFF
# LE General Discoverable + BR/EDR not supported: what a sensor in pairing-free mode sends.
_FLAGS_LE_ONLY_GENERAL: Final = 0x06
_SIG_BASE_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"


def _short_form(uuid: str) -> bytes:
    """Little-endian bytes, 2 long for SIG-base 16-bit UUIDs, else 16."""
    if uuid.endswith(_SIG_BASE_SUFFIX) and uuid.startswith("0000"):
        return int(uuid[4:8], 16).to_bytes(2, "little")
    return uuidlib.UUID(uuid).bytes[::-1]


def _from_le(raw: bytes) -> str:
    if len(raw) == 16:
        return str(uuidlib.UUID(bytes=raw[::-1]))
    return normalize_uuid(int.from_bytes(raw, "little"))


def _ad(kind: int, payload: bytes) -> bytes:
    if len(payload) > 254:
        raise ValueError(f"AD structure 0x{kind:02X} of {len(payload)} bytes is too long")
    return bytes([len(payload) + 1, kind]) + payload


def encode_advertising_data(spec: AdvertisementSpec) -> bytes:
    """AD structures for ``spec``: flags, name, service UUID lists, TX power, service and manufacturer data.

    The result may exceed the 31 bytes of a legacy advertisement (a real device would move
    part of it into the scan response); bumble's link carries it whole, as extended advertising.
    """
    out = [_ad(_FLAGS, bytes([_FLAGS_LE_ONLY_GENERAL]))]
    if spec.local_name:
        out.append(_ad(_COMPLETE_NAME, spec.local_name.encode()))
    short = [u for u in spec.service_uuids if len(_short_form(u)) == 2]
    long_ = [u for u in spec.service_uuids if len(_short_form(u)) == 16]
    if short:
        out.append(_ad(0x03, b"".join(_short_form(u) for u in short)))
    if long_:
        out.append(_ad(0x07, b"".join(_short_form(u) for u in long_)))
    if spec.tx_power_dbm is not None:
        out.append(_ad(_TX_POWER, spec.tx_power_dbm.to_bytes(1, "little", signed=True)))
    for uuid, payload in spec.service_data.items():
        key = _short_form(uuid)
        out.append(_ad(0x16 if len(key) == 2 else 0x21, key + payload))
    for company, payload in spec.manufacturer_data.items():
        out.append(_ad(_MANUFACTURER, company.to_bytes(2, "little") + payload))
    return b"".join(out)


def decode_advertising_data(data: bytes, rssi_dbm: int = -60) -> AdvertisementSpec:
    """Parse AD structures; unknown types are skipped and a truncated tail is ignored."""
    name: str | None = None
    uuids: list[str] = []
    manufacturer: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    tx_power: int | None = None
    pos = 0
    while pos + 1 < len(data):
        length = data[pos]
        if length == 0 or pos + 1 + length > len(data):
            break
        kind, payload = data[pos + 1], bytes(data[pos + 2 : pos + 1 + length])
        pos += 1 + length
        if kind in _UUID_LISTS:
            size = _UUID_LISTS[kind]
            uuids += [_from_le(payload[i : i + size]) for i in range(0, len(payload) - size + 1, size)]
        elif kind == _COMPLETE_NAME or (kind == _SHORT_NAME and name is None):
            name = payload.decode("utf-8", errors="replace")
        elif kind == _TX_POWER and payload:
            tx_power = int.from_bytes(payload[:1], "little", signed=True)
        elif kind in _SERVICE_DATA and len(payload) >= _SERVICE_DATA[kind]:
            size = _SERVICE_DATA[kind]
            service_data[_from_le(payload[:size])] = payload[size:]
        elif kind == _MANUFACTURER and len(payload) >= 2:
            manufacturer[int.from_bytes(payload[:2], "little")] = payload[2:]
    return AdvertisementSpec(name, tuple(uuids), manufacturer, service_data, tx_power, rssi_dbm)
