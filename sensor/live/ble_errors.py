"""bleak's, D-Bus' and the OS's exceptions as the live sensor errors, with messages a user can act on.

bleak, bleak-retry-connector, D-Bus and the operating system raise many unrelated
exception types for the same few situations (no adapter, no permission, device gone,
device taken by another app).  The live clients translate them at the boundary with
:func:`translate_ble_error`, so callers catch :class:`SensorError` and show its message.

The classification is by type first and by message text second, because bleak's
BlueZ backend reports most conditions as :class:`~bleak.exc.BleakDBusError` whose
only distinguishing feature is the D-Bus error name (``org.bluez.Error.NotReady``).
"""

from __future__ import annotations

import asyncio
from typing import Final

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

from hipflex.sensor.errors import (
    DeviceBusy,
    NoAdapter,
    PermissionDenied,
    SensorError,
    SensorNotFound,
    StreamFailed,
)

__all__ = ["translate_ble_error"]


_NO_ADAPTER_HINT: Final = (
    "on Linux check that the bluetooth service runs (systemctl status bluetooth) and that "
    "`bluetoothctl list` shows a powered adapter"
)
_PERMISSION_HINT: Final = (
    "on Linux run as a user in the 'bluetooth' group (or allow it in the D-Bus policy); on macOS allow "
    "Bluetooth for your terminal in System Settings > Privacy & Security > Bluetooth"
)
_BUSY_HINT: Final = "close other apps that use the sensor (phone apps, Polar Flow, MetaBase) and try again"

# D-Bus error names (and fragments of bleak / retry-connector messages) per class.
_NO_ADAPTER_TEXT: Final = (
    "org.bluez.error.notready",
    "org.freedesktop.dbus.error.serviceunknown",
    "org.freedesktop.dbus.error.noserver",
    "no bluetooth adapters found",
    "bluetooth adapter",
    "no such file or directory",  # the D-Bus system socket is missing
    "powered off",
)
_PERMISSION_TEXT: Final = ("accessdenied", "notpermitted", "not permitted", "permission denied", "not authorized")
_BUSY_TEXT: Final = (
    "org.bluez.error.inprogress",
    "in progress",
    "already connected",
    "connection slot",
    "out of connection slots",
    "busy",
)
_NOT_FOUND_TEXT: Final = ("not found", "was not found", "no longer reachable", "unknownobject")


def _text(exc: BaseException) -> str:
    parts = [type(exc).__name__, str(exc)]
    if isinstance(exc, BleakDBusError):
        parts.append(exc.dbus_error)
    return " ".join(parts).lower()


def _described(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def translate_ble_error(exc: BaseException, *, doing: str, target: str = "") -> SensorError:
    """The :class:`SensorError` a bleak, D-Bus or OS exception stands for.

    Parameters
    ----------
    exc : BaseException
        What bleak (or bleak-retry-connector, or the OS) raised.  A :class:`SensorError`
        is returned unchanged.
    doing : str
        What was attempted, for the message: ``"scan"``, ``"connect to"``, ...
    target : str
        The sensor's name or address, when there is one.

    Returns
    -------
    SensorError
        The most specific subclass that fits; the message names the situation, the
        sensor and what to try, followed by the original error in parentheses.
    """
    if isinstance(exc, SensorError):
        return exc
    what = f"{doing} {target}".strip()
    original = _described(exc)
    text = _text(exc)
    if isinstance(exc, BleakBluetoothNotAvailableError):
        denied = {
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        }
        if exc.reason in denied:
            return PermissionDenied(f"cannot {what}: Bluetooth permission denied; {_PERMISSION_HINT} ({original})")
        return NoAdapter(f"cannot {what}: Bluetooth is not available; {_NO_ADAPTER_HINT} ({original})")
    if isinstance(exc, PermissionError) or any(s in text for s in _PERMISSION_TEXT):
        return PermissionDenied(f"cannot {what}: Bluetooth permission denied; {_PERMISSION_HINT} ({original})")
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError) or any(s in text for s in _NO_ADAPTER_TEXT):
        return NoAdapter(
            f"cannot {what}: no Bluetooth adapter available (BlueZ/D-Bus not running, or no adapter); "
            f"{_NO_ADAPTER_HINT} ({original})"
        )
    if any(s in text for s in _BUSY_TEXT) or type(exc).__name__ in (
        "BleakOutOfConnectionSlotsError",
        "BleakAbortedError",
    ):
        return DeviceBusy(f"cannot {what}: the sensor or the adapter is busy; {_BUSY_HINT} ({original})")
    if isinstance(exc, BleakDeviceNotFoundError) or type(exc).__name__ == "BleakNotFoundError":
        return SensorNotFound(
            f"cannot {what}: the sensor did not answer; wake it (strap it on, press its button), bring it "
            f"closer, and make sure no other app is connected to it ({original})"
        )
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return SensorNotFound(
            f"cannot {what}: timed out; the sensor is out of range, asleep, or connected to another app ({original})"
        )
    if any(s in text for s in _NOT_FOUND_TEXT):
        return SensorNotFound(f"cannot {what}: the sensor is gone ({original})")
    if isinstance(exc, BleakError):
        return StreamFailed(f"cannot {what}: Bluetooth error ({original})")
    return StreamFailed(f"cannot {what}: {original}")
