"""What a stream's state says as a result: the sets described, the quality, the :class:`Analysis`.

Split from :mod:`hipflex.dsp.pipeline` (which feeds the state) so that the
stepping and the reporting stay small modules: :func:`described_sets` names
the sets as they close (the pipeline calls it from its event absorption and
at the end), :func:`result` builds the contract's answer from the state at
any moment.
"""

from __future__ import annotations

import bisect
import math
from typing import Literal

import numpy as np

from hipflex import __version__
from hipflex.dsp import _layout as L
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.drill_prototypes import NEEDS_GYRO
from hipflex.dsp.gait import walks_so_far
from hipflex.dsp.identify import LeverFit, lies_across
from hipflex.dsp.learn import Calibration
from hipflex.dsp.posture import FlatPrior, describe_sets
from hipflex.dsp.stream_state import StreamState
from hipflex.dsp.types import Analysis, Quality, RepSet

__all__ = ["described_sets", "result"]


def described_sets(settings: Settings, state: StreamState, sets: tuple[RepSet, ...]) -> tuple[RepSet, ...]:
    """``sets`` with a description (dsp.posture) where they have none yet.

    A set is described when it closes, so a live ``SetEvent`` carries what
    the final result says: the lever sums over its span are complete by
    then (it closes ``set_gap_s`` after its last rep), and the rest pose
    and axis are those of the analysis that counted it.
    """
    todo = tuple(s for s in sets if s.description is None)
    if not todo:
        return sets
    up = None if state.cal is None else state.cal.up
    axis = None if state.axes is None else state.axes.a
    frames = None
    # The sets named before these, each in its frame: a session's sets in other poses tell the mounting's
    # geometry (dsp.posture_scores._session_fit), those in the same frame the pose (dsp.posture._pooled).
    first = min(s.index for s in todo)
    earlier: list[tuple[RepSet, np.ndarray | None, np.ndarray | None]] = [
        (s, up, axis) for s in state.closed_sets if s.index < first and s.description is not None
    ]
    if state.relocks:
        # A set after a re-lock is measured, and so named, in the axes of the last one before it.
        starts = [r.time_s for r in state.relocks]

        def frame(s: RepSet) -> tuple[np.ndarray | None, np.ndarray | None]:
            i = bisect.bisect_right(starts, s.start_s)
            return (up, axis) if i == 0 else (state.relocks[i - 1].axes.u, state.relocks[i - 1].axes.a)

        frames = [frame(s) for s in todo]
        earlier = [(s, *frame(s)) for s, _, _ in earlier]
    named = iter(
        describe_sets(
            todo,
            state.lever_blocks.rows,
            up,
            axis,
            FlatPrior.from_settings(settings),
            frames,
            earlier,
            None if state.gyro_frame is None else state.gyro_frame.lever,
            not state.has_gyro,  # acc_only (positional: stand-ins that take the sets and *args stay valid)
        )
    )
    return tuple(next(named) if s.description is None else s for s in sets)


def _pendulum_model(lever: LeverFit | None) -> str:
    text = "thigh pendulum EKF (gravity + tangential + centripetal acceleration)"
    if lever is None or not lever.identified:
        return text + "; sensor position from the settings"
    if lies_across(lever):
        # A lying thigh's lever, across the rest pose's "up" (identify.py): no place on the strap to name.
        return (
            text + f"; lever {100 * abs(lever.sensor_offset_m):.1f} cm across the rest pose's vertical,"
            f" {100 * lever.lever_arm_m:.1f} cm along it (a thigh lying down), identified from the first motion"
        )
    side = "in front of" if lever.sensor_offset_m >= 0.0 else "behind"
    return (
        text + f"; sensor {100 * lever.lever_arm_m:.1f} cm below the hip, {100 * abs(lever.sensor_offset_m):.1f} cm"
        f" {side} the femur, identified from the first motion"
    )


def _calibration_kind(
    settings: Settings, cal: Calibration | None
) -> Literal["quiet window", "short quiet window", "quietest window"] | None:
    if cal is None:
        return None
    if not cal.quiet:
        return "quietest window"
    return "short quiet window" if cal.window_s < settings.calib_still_s else "quiet window"


def result(settings: Settings, state: StreamState, source: str = "") -> Analysis:
    """The analysis so far (complete after :func:`finish`)."""
    kern = state.kernel
    lost = float(kern.fstate[L.F_LOST_S]) if kern is not None else 0.0
    # Rows the timeline found lost only from a block's envelope rising (their
    # place unknown, so no gap marks them) count as lost time too.
    lost += state.timeline.late_lost_s
    clipped = int(kern.ist[L.I_CLIPPED]) if kern is not None else 0
    period = state.timeline.period_s
    has_cal = not math.isnan(state.cal_time_s)
    duration = state.last_time_s - state.first_time_s if state.rows else 0.0
    cal = state.cal if has_cal else None
    quality = Quality(
        gaps=len(state.gaps),
        lost_s=lost,
        clipped_samples=clipped,
        orientation="gyro+acc" if state.has_gyro else "acc-only",
        angle_model=(
            "gyro tilt filter, accelerometer-corrected with hip-rotation compensation"
            if state.has_gyro
            else _pendulum_model(state.lever)
        ),
        calibrated_at_s=state.cal_time_s if has_cal else None,
        # Every row is analysed once calibrated; before, none is.
        skipped_before_calibration_s=0.0 if has_cal else duration,
        gap_list=state.gaps,
        rejections=state.rejections,
        rest_mismatch_deg=float(kern.fstate[L.F_REST_DIFF_DEG]) if kern is not None and state.has_gyro else None,
        gyro_frame=state.gyro_frame,
        calibration=_calibration_kind(settings, cal),
        calibration_window_s=None if cal is None else cal.window_s,
        calibration_motion=None if cal is None or not math.isfinite(cal.motion) else cal.motion,
        analysed_before_calibration_s=(state.cal_time_s - state.first_time_s) if has_cal else 0.0,
        recalibrated_from_s=state.recalibrated_from_s,
        walks=walks_so_far(settings, state.gait),
        needs_gyro=() if state.has_gyro else NEEDS_GYRO,
    )
    return Analysis(
        source=source,
        settings=settings,
        sample_rate_hz=1.0 / period if period > 0 else math.nan,
        duration_s=duration,
        has_gyro=state.has_gyro,
        quality=quality,
        sets=described_sets(settings, state, state.sets),
        version=__version__,
    )
