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

from hipflex.sensor.capture.log import read_capture
from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.errors import SensorError, SensorLayerError
from hipflex.sensor.files.csv_io import column_preset, write_csv
from hipflex.sensor.format_spec import ColumnMap, InputError, LoadOptions
from hipflex.sensor.formats import format_names, load_samples
from hipflex.sensor.sim.simulate import simulate, simulate_drill

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
