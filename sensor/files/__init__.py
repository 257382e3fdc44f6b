"""Recordings from other tools: plain CSV and the importers (MetaBase, Polar Sensor Logger).

Each module exposes ``FORMATS``; :mod:`hipflex.sensor.formats` registers them.
"""
