"""MetaWear protocol (MetaMotion): commands, data notifications, sample timing.

Pure byte-level code with no I/O: the live client (:mod:`hipflex.sensor.live.metawear_client`),
the capture decoder, the simulator and the emulated devices all build on it.
"""
