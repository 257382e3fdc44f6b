"""The root of :mod:`hipflex.service`'s exceptions.

:class:`ServiceLayerError` is the root of every exception the service layer raises on
purpose, so ``except ServiceLayerError`` catches them all (as
:class:`hipflex.sensor.errors.SensorLayerError` does one layer down).  Each class keeps the
built-in base its callers catch:

- :class:`~hipflex.service.sources.SourceError` (``ValueError``): a source cannot be opened.
- :class:`~hipflex.service.devices.DeviceNotFound` (``LookupError``) and
  :class:`~hipflex.service.devices.DevicesUnavailable` (``RuntimeError``): the device list.
- :class:`~hipflex.service.live.TooManySessions`,
  :class:`~hipflex.service.analysis_pool.PoolBusy`,
  :class:`~hipflex.service.analysis_pool.Cancelled` (``RuntimeError``): admission and cancellation.
- :class:`~hipflex.service.datafolder.DatabaseRefused`,
  :class:`~hipflex.service.datalock.DataFolderLocked` (``RuntimeError``): the data folder.
- :class:`~hipflex.service.commands.UsageError`: bad command-line options.

A leaf: it imports nothing, so every service module can use it without an import cycle.
"""

from __future__ import annotations

__all__ = ["ServiceLayerError"]


class ServiceLayerError(Exception):
    """Root of every exception :mod:`hipflex.service` raises on purpose."""
