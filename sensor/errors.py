"""The exception family of :mod:`hipflex.sensor`: one root, and the live sensors' user-facing errors.

:class:`SensorLayerError` is the root of every exception the sensor layer raises on
purpose, so ``except SensorLayerError`` catches them all; each class also keeps the
built-in base its callers catch (``InputError`` and the decoders' errors are
``ValueError``, ``CaptureWriteError`` is ``OSError``).  The family:

- :class:`SensorError`: a live sensor client could not do its job (below); ``str()`` is a
  message a user can act on.  :func:`hipflex.sensor.live.ble_errors.translate_ble_error`
  turns bleak's, D-Bus' and the operating system's exceptions into these.
- :class:`~hipflex.sensor.format_spec.InputError` (with
  :class:`~hipflex.sensor.capture.records.CaptureFormatError` and
  :class:`~hipflex.sensor.capture.replay.CaptureDecodeError`): a recording cannot be read.
- :class:`~hipflex.sensor.capture.log.CaptureWriteError`: a capture log cannot be written.
- :class:`~hipflex.sensor.polar.frames.PmdDecodeError`,
  :class:`~hipflex.sensor.polar.control.PmdStatusError`,
  :class:`~hipflex.sensor.metawear.protocol.MetaWearDecodeError`: protocol errors.

A leaf: it imports nothing (not even bleak), so every part of the layer can use it.
"""

from __future__ import annotations

__all__ = [
    "DeviceBusy",
    "NoAdapter",
    "PermissionDenied",
    "SensorError",
    "SensorLayerError",
    "SensorNotFound",
    "StreamFailed",
]


class SensorLayerError(Exception):
    """Root of every exception :mod:`hipflex.sensor` raises on purpose."""


class SensorError(SensorLayerError):
    """Base class of every error a live sensor client raises; ``str()`` is the user message."""


class NoAdapter(SensorError):
    """No usable Bluetooth adapter: none present, powered off, or BlueZ/D-Bus not running."""


class PermissionDenied(SensorError):
    """The operating system refused access to Bluetooth."""


class SensorNotFound(SensorError):
    """No matching sensor answered (not advertising, out of range, asleep)."""


class DeviceBusy(SensorError):
    """The sensor or the adapter is taken (another app holds the link, no free connection slot)."""


class StreamFailed(SensorError):
    """Connected, but the sensor would not stream (refused settings, MTU too small, silent)."""
