"""Devices and files to timestamped samples: BLE clients, decoders, importers, simulator."""
