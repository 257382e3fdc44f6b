"""Polar PMD protocol in one import: data frames, sample timing and the control point.

The implementation is split by concern; this module re-exports the public names so
that clients can write ``from hipflex.sensor.polar_pmd import decode_pmd_frame, build_start``.

- :mod:`hipflex.sensor.pmd_frames`: data notifications to samples, and encoders.
- :mod:`hipflex.sensor.pmd_timing`: per-sample timestamps and loss detection.
- :mod:`hipflex.sensor.pmd_control`: control-point requests, responses, features.
"""

from __future__ import annotations

from hipflex.sensor import pmd_control, pmd_frames, pmd_timing
from hipflex.sensor.pmd_control import *  # noqa: F403
from hipflex.sensor.pmd_frames import *  # noqa: F403
from hipflex.sensor.pmd_timing import *  # noqa: F403

__all__ = [*pmd_frames.__all__, *pmd_timing.__all__, *pmd_control.__all__]
