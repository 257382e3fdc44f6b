"""The streaming core's state: everything carried from one chunk to the next (see :mod:`hipflex.dsp.pipeline`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hipflex.dsp._kernel_setup import _EMPTY3, _Kernel
from hipflex.dsp.angle_rate_lever import RateLast
from hipflex.dsp.gait import GaitState
from hipflex.dsp.identify import LeverFit
from hipflex.dsp.learn import Axes, Calibration
from hipflex.dsp.lever_sums import LeverBlocks, empty_lever_blocks
from hipflex.dsp.quiet_window import new_quiet_state
from hipflex.dsp.rest_pose import DwellState
from hipflex.dsp.sets import make_set
from hipflex.dsp.timeline import Timeline
from hipflex.dsp.types import Gap, GyroFrameCheck, Rejection, Rep, RepSet

__all__ = ["Relock", "StreamState"]


@dataclass(frozen=True, eq=False)
class Relock:
    """New axes the axis watch took for a set in another plane or pose (``dsp/_kern_axis.py``).

    ``time_s`` is the time of that set's first held row: the reps from it
    on (up to the next re-lock) are measured in ``axes``, so their sets are
    named in them (:mod:`hipflex.dsp.posture`).
    """

    time_s: float
    axes: Axes


@dataclass(frozen=True, eq=False)
class StreamState:
    """Everything the core carries from one chunk to the next.

    Create it with :func:`init_state`; never mutate it.  Rows first pass
    the timeline (``timeline``), which holds them until the sample period is
    bootstrapped and then releases them re-timed on a regular grid.  While learning
    (before calibration and the axis lock) rows are buffered; afterwards the
    kernel arrays in ``kernel`` carry the filters, the timeline and the
    detector, and only results are accumulated here.  Until the rest pose
    is settled (:mod:`hipflex.dsp.rest_pose`, at most ``REVISE_WITHIN_S``
    from the first row) the raw re-timed rows are also kept (``kept``, in
    chunks) with the scan of the angle for dwells (``dwell``), so that the
    session can be analysed again from its first row in the right pose;
    ``announced`` says a calibration was announced (a later one revises it).
    """

    has_gyro: bool
    timeline: Timeline = field(default_factory=Timeline)
    rows: int = 0
    first_time_s: float = math.nan
    last_time_s: float = math.nan
    buf_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    buf_acc: np.ndarray = field(default_factory=lambda: _EMPTY3)
    buf_gyr: np.ndarray | None = None
    qstate: np.ndarray = field(default_factory=new_quiet_state)
    lstate: np.ndarray | None = None
    cal: Calibration | None = None
    cal_time_s: float = math.nan
    axes: Axes | None = None
    lever: LeverFit | None = None
    gyro_frame: GyroFrameCheck | None = None
    recalibrated_from_s: tuple[float, ...] = ()
    # The calibration's gyro bias is the one measured at the first rest (pipeline._rebias).
    rest_bias: bool = False
    kernel: _Kernel | None = None
    n_reps: int = 0
    closed_sets: tuple[RepSet, ...] = ()
    open_reps: tuple[Rep, ...] = ()
    gaps: tuple[Gap, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    gait: GaitState = field(default_factory=GaitState)
    finished: bool = False
    # Per-second sums of |w|^2 and |a|^2 (gyro only): the lever sign of each set (dsp.posture).
    lever_blocks: LeverBlocks = field(default_factory=empty_lever_blocks)
    # Without a gyro the same sums take the angle's rate for |w| (dsp.angle_rate_lever); the last row summed.
    rate_last: RateLast = field(default_factory=RateLast)
    kept: tuple[tuple[np.ndarray, np.ndarray, np.ndarray | None], ...] | None = None
    dwell: DwellState | None = None
    announced: bool = False
    # The axes each set from a re-lock on is measured in (gyro only; in time order).
    relocks: tuple[Relock, ...] = ()

    @property
    def running(self) -> bool:
        """True once calibration and the axis lock are done."""
        return self.kernel is not None

    @property
    def rep_count(self) -> int:
        """Reps so far: every completed rep plus the swings closed sets found hidden in gaps."""
        return self.n_reps + sum(len(s.hidden_peaks_s) for s in self.closed_sets)

    @property
    def sets(self) -> tuple[RepSet, ...]:
        """Closed sets plus the set in progress."""
        if not self.open_reps:
            return self.closed_sets
        return (*self.closed_sets, make_set(len(self.closed_sets), self.open_reps, self.gaps))
