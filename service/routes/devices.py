"""Bluetooth sensors: scan, list, connect, disconnect, status."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from hipflex.service.deps import DevicesDep, StoreDep
from hipflex.service.devices import DeviceInfo, DeviceNotFound
from hipflex.service.schemas import ADDRESS_PATTERN, DeviceList, DeviceOut, ErrorOut

__all__ = ["router"]

router = APIRouter(prefix="/devices", tags=["devices"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown device."},
    503: {"model": ErrorOut, "description": "Bluetooth is not available (no adapter, or no permission)."},
}

Address = Annotated[str, Path(pattern=ADDRESS_PATTERN, description="Bluetooth address or macOS device UUID.")]


def _out(info: DeviceInfo | None, row: dict[str, Any] | None) -> DeviceOut:
    """Live status where the backend has it, else what the store remembers."""
    known = row or {}

    def pick(name: str) -> Any:
        value = getattr(info, name) if info is not None else None
        return value if value is not None else known.get(name)

    return DeviceOut(
        address=info.address if info is not None else known["address"],
        name=pick("name"),
        kind=pick("kind") or "unknown",
        rssi_dbm=pick("rssi_dbm"),
        connected=bool(info is not None and info.connected),
        battery_pct=pick("battery_pct"),
        last_seen=known.get("last_seen"),
    )


def _remember(store: StoreDep, info: DeviceInfo) -> None:
    store.upsert_device(info.address, info.name, info.kind, info.rssi_dbm, info.battery_pct)


@router.post("/scan", summary="Scan for sensors", responses=_ERRORS)
async def scan(
    devices: DevicesDep,
    store: StoreDep,
    timeout_s: Annotated[float, Query(gt=0, le=30, description="How long to listen, seconds.")] = 5.0,
) -> DeviceList:
    """Listen for advertising sensors (Polar, MetaWear and others); found devices are remembered.

    A POST: it uses the radio and writes to the store, so a foreign web page must not trigger it
    (see the Origin check)."""
    found = await devices.scan(timeout_s)
    for info in found:
        await asyncio.to_thread(_remember, store, info)
    return DeviceList(items=[_out(info, store.device(info.address)) for info in found])


@router.get("/scan", include_in_schema=False)
async def scan_by_get() -> None:
    """405, not the device ``scan``: a GET must not use the radio or write the store."""
    raise HTTPException(405, "scanning is a POST (it uses the radio and remembers what it finds)")


@router.get("", summary="Known sensors")
async def list_devices(devices: DevicesDep, store: StoreDep) -> DeviceList:
    """Every sensor seen by a scan or a connection, most recently seen first, with live status."""
    rows = await asyncio.to_thread(store.devices)
    return DeviceList(items=[_out(devices.status(r["address"]), r) for r in rows])


@router.get("/{address}", summary="One sensor's status", responses=_ERRORS)
async def get_device(address: Address, devices: DevicesDep, store: StoreDep) -> DeviceOut:
    """Connection state and battery level of one sensor."""
    info, row = devices.status(address), await asyncio.to_thread(store.device, address)
    if info is None and row is None:
        raise HTTPException(404, f"device {address!r} not known; scan first")
    return _out(info, row)


@router.post("/{address}/connect", summary="Connect a sensor", responses=_ERRORS)
async def connect(address: Address, devices: DevicesDep, store: StoreDep) -> DeviceOut:
    """Connect and stay connected (a ``device`` session then streams it)."""
    info = await devices.connect(address)
    await asyncio.to_thread(_remember, store, info)
    return _out(info, await asyncio.to_thread(store.device, address))


@router.post("/{address}/disconnect", summary="Disconnect a sensor", responses=_ERRORS)
async def disconnect(address: Address, devices: DevicesDep, store: StoreDep) -> DeviceOut:
    """Disconnect (a running device session on it ends)."""
    try:
        info = await devices.disconnect(address)
    except DeviceNotFound:
        raise HTTPException(404, f"device {address!r} not known") from None
    return _out(info, await asyncio.to_thread(store.device, address))
