"""Polar PMD protocol (H10, Verity Sense): control point, data frames, sample timing.

Pure byte-level code with no I/O: the live client (:mod:`hipflex.sensor.live.polar_client`),
the capture decoder, the simulator and the emulated devices all build on it.
"""
