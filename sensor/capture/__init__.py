"""Capture logs: every raw BLE notification on disk, decoded again and replayed.

:mod:`~hipflex.sensor.capture.log` writes and reads the JSON Lines files,
:mod:`~hipflex.sensor.capture.decode` turns records into samples (live and replay alike),
:mod:`~hipflex.sensor.capture.replay` decodes a whole file, and
:mod:`~hipflex.sensor.capture.replay_source` yields its records again in time.
"""
