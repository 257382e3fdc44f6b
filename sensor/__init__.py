"""Devices and files to timestamped samples: recordings on disk, the simulator, live BLE sensors.

The parts, lowest first (each imports only those below it; ``tests/test_layers.py`` checks):

- :mod:`~hipflex.sensor.errors`, :mod:`~hipflex.sensor.format_spec`, :mod:`~hipflex.sensor.merge`:
  leaves (the exception family with its one root, what every file format shares, stream merging);
  :mod:`~hipflex.sensor.polar` and :mod:`~hipflex.sensor.metawear`: the vendor protocols.
- :mod:`~hipflex.sensor.files` (plain CSV, importers) and :mod:`~hipflex.sensor.capture`
  (capture logs of raw notifications, their decoding and replay).
- :mod:`~hipflex.sensor.formats` (one registry: ``load_samples``), :mod:`~hipflex.sensor.sim`
  (the simulator) and :mod:`~hipflex.sensor.live` (scan, open, stream live sensors).
- :mod:`~hipflex.sensor.emulate`: emulated sensors and radio backends for tests and demos.

This module re-exports what most callers need offline and the exception family's root
(``SensorLayerError``), and imports neither bleak nor the web stack; live streaming is in
:mod:`hipflex.sensor.live` (``scan_sensors``, ``find_sensor``, ``open_sensor``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hipflex.sensor.capture.log import read_capture
    from hipflex.sensor.capture.replay import decode_capture
    from hipflex.sensor.errors import SensorError, SensorLayerError
    from hipflex.sensor.files.column_presets import column_preset
    from hipflex.sensor.files.csv_io import write_csv
    from hipflex.sensor.format_spec import ColumnMap, InputError, LoadOptions
    from hipflex.sensor.formats import format_names, load_samples
    from hipflex.sensor.sim.simulate import simulate, simulate_drill

# Each name is imported on first use (PEP 562), so importing one part of the package -- as
# `hipflex analyze` does for the CSV reader -- does not also import the capture, replay and
# simulator modules (issue 17: start-up is part of every run).
_HOMES = {
    "read_capture": "hipflex.sensor.capture.log",
    "decode_capture": "hipflex.sensor.capture.replay",
    "SensorError": "hipflex.sensor.errors",
    "SensorLayerError": "hipflex.sensor.errors",
    "column_preset": "hipflex.sensor.files.column_presets",
    "write_csv": "hipflex.sensor.files.csv_io",
    "ColumnMap": "hipflex.sensor.format_spec",
    "InputError": "hipflex.sensor.format_spec",
    "LoadOptions": "hipflex.sensor.format_spec",
    "format_names": "hipflex.sensor.formats",
    "load_samples": "hipflex.sensor.formats",
    "simulate": "hipflex.sensor.sim.simulate",
    "simulate_drill": "hipflex.sensor.sim.simulate",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "ColumnMap",
    "InputError",
    "LoadOptions",
    "SensorError",
    "SensorLayerError",
    "column_preset",
    "decode_capture",
    "format_names",
    "load_samples",
    "read_capture",
    "simulate",
    "simulate_drill",
    "write_csv",
]
