"""The emulation tier for tests, demos and benchmarks: BLE radio backends and emulated sensors.

:mod:`~hipflex.sensor.emulate.ble` holds the GATT model and the radio backends (in-memory fake,
bumble), :mod:`~hipflex.sensor.emulate.devices` the emulated Polar and MetaWear sensors,
:mod:`~hipflex.sensor.emulate.world` the ``--ble-world`` switch and
:mod:`~hipflex.sensor.emulate.pump` manual-time driving.  Only this tier and the service import it.
"""
