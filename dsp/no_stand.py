"""Accelerometer only: the rest pose of a recording that never stood still, moved to where it started.

A recording cut tightly around one rep (CMU-MBL's one-rep files, the
one-rep clips of :mod:`hipflex.sensor.sim.clip`) has no stand: the
calibration falls back to the quietest window, or to a short one, and both
lie at the rep's slow turn, 40-80 deg up a squat.  The accelerometer-only
filter reads the thigh's lever from that pose (:mod:`hipflex.dsp._kern_pendulum`:
the hip lies along ``-u``), so its centripetal and tangential terms pointed
60-80 deg off the thigh, the identified lever fitted them at a grid corner
and the trace left the force's direction (tuning clips traced a 60 deg
squat as a rise, a dip and a rise of 10-25 deg each, counted 0).  Where the
force's direction shows the calibrated pose inside one rep
(:func:`hipflex.dsp.flexion_sign._at_pose_once`) in a recording hardly
longer than a calibration window, the rest pose moves to the first row's
(the person started moving from a stand, a rep's low or on its way up),
the kernel starts there, the sign is the way the force turned from there,
and gravity is the force's median magnitude.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.flexion_sign import _at_pose_once, _maybe_a_turn
from hipflex.dsp.learn import Axes, Calibration
from hipflex.dsp.stream_state import StreamState

__all__ = ["rest_at_first_row"]

# Only a recording no longer than this many calibration windows is taken for
# one rep and nothing else (CMU-MBL's squat and step-up files: 1.0-1.7 s; the
# clips: 0.96-1.7 s).  A longer one holds more than its rep: CMU-MBL's lunges
# (3.4-3.8 s) step forward first and back after, and from the first row the
# filter traced the step's landing as a rep of its own (Lunge 3 and 4
# counted 2), where from the turn it was held at the extension bound.
_MAX_SPAN_WINDOWS = 2.0

# The force's direction is averaged over this long (s) before it is read for
# the one-rep test and the sign.
_SMOOTH_S = 0.1


def rest_at_first_row(
    settings: Settings, state: StreamState, cal: Calibration, axes: Axes, stop: int
) -> tuple[Calibration, Axes]:
    """``cal`` and ``axes`` with the rest pose at the first row's, where a one-rep recording never stood still.

    Accelerometer only, where the calibration may be a rep's slow turn
    (:func:`hipflex.dsp.flexion_sign._maybe_a_turn`), rows ``0:stop`` span
    at most ``_MAX_SPAN_WINDOWS`` calibration windows, and the angle of the
    force's direction in the swing's plane over them shows that pose inside
    one rep (:func:`hipflex.dsp.flexion_sign._at_pose_once`); else ``cal``
    and ``axes`` unchanged.  Moved: ``up`` is the first finite row's force in
    the swing's plane, ``start_row`` that row (the kernel starts there),
    ``gravity_g`` the rows' median force and ``from_first_row`` true; the
    axes keep ``a``'s line, signed so that the rep reads as flexion.

    Returns
    -------
    (Calibration, Axes)
    """
    if state.has_gyro or cal.from_first_row or not _maybe_a_turn(settings, cal):
        return cal, axes
    t = state.buf_t[:stop]
    if t.size == 0 or t[-1] - t[0] > _MAX_SPAN_WINDOWS * settings.calib_still_s:
        return cal, axes
    acc = state.buf_acc[:stop]
    seen_deg = np.degrees(np.arctan2(acc @ axes.w, acc @ axes.u))
    finite = np.flatnonzero(np.isfinite(seen_deg))
    if finite.size == 0:
        return cal, axes
    # The force's direction carries the thigh's own acceleration (0.1-0.2 g in a
    # brisk rep) and the sensor's noise: unsmoothed, a 200 Hz clip's trace
    # crossed candidate_deg four times on its way to the turn and back.
    rows = max(1, round(_SMOOTH_S / cal.period_s)) if cal.period_s > 0.0 else 1
    smooth = np.convolve(seen_deg[finite], np.ones(rows) / rows, mode="valid")
    if not _at_pose_once(smooth, settings.candidate_deg):
        return cal, axes
    first = math.radians(float(seen_deg[finite[0]]))
    c, s = math.cos(first), math.sin(first)
    up = c * axes.u + s * axes.w
    w = c * axes.w - s * axes.u
    # Nor does a window the thigh turned through measure gravity: its mean force
    # is shortened by the turn, or lengthened by a turn's centripetal term
    # (tuning clips: 0.93-1.11 g where the sensor read 0.95-1.04 g), and the
    # filter read the difference as the thigh's acceleration (tuning clip 16:
    # 1.06 g for the sensor's 1.035 g, the fall traced short, counted 0).  The
    # median over the rows the rep is seen in is the sensor's.
    gravity_g = float(np.median(np.linalg.norm(acc[finite], axis=1)))
    moved = dataclasses.replace(cal, up=up, gravity_g=gravity_g, from_first_row=True, start_row=int(finite[0]))
    # Seen from where it started, the one rep goes one way and comes back:
    # that way is flexion (the sign rule of hipflex.dsp.flexion_sign, on the
    # force's direction, not on a trace through a lever read from the turn).
    from_first = smooth - math.degrees(first)
    if np.sum(np.maximum(from_first, 0.0)) >= np.sum(np.maximum(-from_first, 0.0)):
        return moved, Axes(up, w, axes.a)
    return moved, Axes(up, -w, -axes.a)
