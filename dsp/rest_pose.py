"""Which still pose is the rest pose: the evidence of the session so far, read from the angle.

The rest pose is learned at the first still stretch (:mod:`hipflex.dsp.learning_flow`),
which need not be the rest: a recording may start inside a hold (the first
still stretch is the top of the first rep) or lying down in a pose close to
a hold's.  Then the standing rest reads as a deep "excursion" and every rep
is counted the wrong way round.  What tells the two apart, whatever the
drill, is where the thigh waits between sets: a set ends with a pause of at
least ``set_gap_s`` (that is what splits sets), and that pause is taken in
the rest pose.  A hold may pause at the top for seconds, but the person
rests between sets; a pose the thigh has once waited in between movements
is a rest pose.  (A session may hold several: drills on the side, on the
back, standing; each set's axes then follow its own, see ``_kern_axis``.)

:class:`DwellState` follows the flexion angle block by block and measures
every *dwell*: a stretch where the thigh settles (its angle stays within
``_SETTLE_DEG`` for ``_SETTLE_S``) and then stays near that level (its mean
over ``_LEVEL_S`` within ``_DWELL_DEG``: a walk between sets is part of the
wait), entered from an excursion (the thigh came from more than
``_DWELL_DEG`` away; the still stretch a recording starts in is no wait
between movements) and left by one.  A dwell of ``set_gap_s`` or more far
(``_OTHER_POSE_DEG``) from the calibrated pose before any such dwell in
the calibrated pose means the calibration was in the wrong pose: :func:`feed_dwells` returns its rows, and the pipeline
re-learns the rest pose there and analyses the session again from its
first row.  Each decision is made at the block where a dwell ends, from
complete blocks on a fixed time grid, so it depends on rows alone, never
on where chunks ended.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hipflex.dsp._jit import njit_borrowed
from hipflex.dsp._kern_axis import _MAX_HOLD_S

__all__ = [
    "REVISE_WITHIN_S",
    "DwellState",
    "feed_dwells",
    "first_wait_elsewhere_s",
    "new_dwell_state",
    "wait_window_s",
    "watch_until_s",
]

#: The rest pose may be revised only on dwells within this of the first row,
#: s; until then the rows are kept to analyse again (at 400 Hz with a gyro,
#: about 20 MB).
REVISE_WITHIN_S = 900.0

# Blocks the angle is summarised in (min, max), s: fine enough to see a
# dwell start within a fraction of a second, coarse enough to make the
# scan cheap (one Python step per block).
_BLOCK_S = 0.25
# A dwell starts once the angle has stayed within this for _SETTLE_S, deg:
# a hold sags 2-6 deg over 3 s and trembles a fraction of a degree, a
# standing rest sways by less.
_SETTLE_DEG = 5.0
_SETTLE_S = 1.0
# A dwell lasts while the angle's mean over _LEVEL_S stays within this of
# its settled level, deg: fidgets and weight shifts of a rest move the thigh
# a few degrees, and a walk between sets swings it about the standing line
# (some 10 deg behind to 20 in front, a stride a second: on the mean a few
# degrees); a rep, a hold or the pose another set is done in moves the mean
# much more.  Half of lock_deg's default.
_DWELL_DEG = 15.0
_LEVEL_S = 2.0
# A dwell this far from the calibrated pose is in another pose, deg (as in
# learning_flow: halfway to a right angle).
_OTHER_POSE_DEG = 45.0
# The newest rows' angle is not scanned until this old, s: a hold the axis
# watch may still decide (at most _MAX_HOLD_S after its first row) reads
# the rows from its first again under the new axes; twice that for rows
# lost in the hold.  Only the scan's decisions wait; the angle does not.
_DECIDED_LAG_S = 2.0 * _MAX_HOLD_S
# Settled blocks looked back over to see whether a dwell was entered from an
# excursion, s: an approach that never settles is a movement, not a wait.
_LOOKBACK_S = 10.0


@dataclass(frozen=True)
class DwellState:
    """The scan of the angle for dwells (see the module docstring).

    Attributes
    ----------
    t0_s : float
        Time of the first row; block ``k`` covers ``[t0_s + k * _BLOCK_S, t0_s + (k + 1) * _BLOCK_S)``.
    tail_t, tail_theta : ndarray
        Rows of the block not yet complete (time s, angle deg).
    next_block : int
        Index of the next block to scan.
    recent : ndarray, shape (n, 4)
        (min, max, sum, count) of the angle in the last blocks scanned, deg
        (min and max NaN for an empty block), newest last.
    run_first, run_last : int
        First and last block of the open dwell (-1 if none).
    run_level_deg : float
        The open dwell's settled level, deg.
    run_entered : bool
        The open dwell was entered from an excursion.
    longest_rest_s : float
        The longest dwell in the calibrated pose so far, s.
    first_rest_s : (float, float) or None
        Start and end of the first dwell in the calibrated pose (a rest
        between sets), s, once one has ended.
    """

    t0_s: float
    tail_t: np.ndarray
    tail_theta: np.ndarray
    next_block: int = 0
    recent: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    run_first: int = -1
    run_last: int = -1
    run_level_deg: float = math.nan
    run_entered: bool = False
    longest_rest_s: float = 0.0
    first_rest_s: tuple[float, float] | None = None


def new_dwell_state(t0_s: float) -> DwellState:
    """A scan starting at the row at ``t0_s``."""
    return DwellState(t0_s, np.zeros(0), np.zeros(0))


@njit_borrowed
def _block_stats(t: np.ndarray, theta: np.ndarray, t0_s: float, first: int, out: np.ndarray) -> int:
    """(min, max, sum, count) of the finite angles of blocks ``first ..`` into ``out``; the rows used.

    Block of a row: ``floor((t - t0_s) / _BLOCK_S)`` (sorted times, so a
    block is a run of rows); rows of blocks past ``out`` are left (the
    caller's tail).  A block without a finite angle keeps NaN min and max
    and a count of 0.  One pass instead of a dozen numpy passes: this runs
    over every row of a session's first 15 minutes.  Twin:
    ``tests/naive.py:dwell_block_stats``.
    """
    n_out = out.shape[0]
    for b in range(n_out):
        out[b, 0] = math.nan
        out[b, 1] = math.nan
        out[b, 2] = 0.0
        out[b, 3] = 0.0
    for i in range(t.shape[0]):
        b = math.floor((t[i] - t0_s) / _BLOCK_S) - first
        if b >= n_out:
            return i
        v = theta[i]
        if b < 0 or not math.isfinite(v):  # b < 0 cannot happen (the tail holds one block at most)
            continue
        if out[b, 3] == 0.0:
            out[b, 0] = v
            out[b, 1] = v
        else:
            out[b, 0] = min(out[b, 0], v)
            out[b, 1] = max(out[b, 1], v)
        out[b, 2] += v
        out[b, 3] += 1.0
    return t.shape[0]


def _blocks(state: DwellState, t: np.ndarray, theta: np.ndarray, upto_s: float) -> tuple[DwellState, np.ndarray]:
    """(min, max, sum, count) of the angle in every block done by the rows before ``upto_s``; the rest stays in tail.

    An empty block (a gap, or only dropped rows) has NaN min and max and a count of 0.
    """
    t = np.concatenate([state.tail_t, t]) if state.tail_t.size else t
    theta = np.concatenate([state.tail_theta, theta]) if state.tail_theta.size else theta
    if t.size == 0:
        return state, np.zeros((0, 4))
    # The newest row's block is not complete yet; nor is upto_s's.
    last = math.floor((min(float(t[-1]), upto_s) - state.t0_s) / _BLOCK_S)
    n_new = last - state.next_block
    if n_new <= 0:
        return dataclasses.replace(state, tail_t=t, tail_theta=theta), np.zeros((0, 4))
    out = np.empty((n_new, 4))
    done = _block_stats(
        np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(theta, dtype=np.float64),
        float(state.t0_s),
        int(state.next_block),
        out,
    )
    state = dataclasses.replace(state, tail_t=t[done:], tail_theta=theta[done:], next_block=last)
    return state, out


def feed_dwells(
    state: DwellState, t: np.ndarray, theta: np.ndarray, set_gap_s: float, upto_s: float = math.inf
) -> tuple[DwellState, tuple[float, float] | None]:
    """Scan the next rows' angle; the times of a dwell that shows the rest pose is elsewhere, if one ended.

    Parameters
    ----------
    state : DwellState
    t : ndarray
        The rows' times, s (after those already fed).
    theta : ndarray
        Their flexion angle, deg (NaN for dropped rows).
    set_gap_s : float
        The pause that splits sets, s: the shortest dwell that is a rest between sets.
    upto_s : float
        Only blocks that end by this time are scanned, s; later rows are
        kept for the next call (the angle of the newest rows may still be
        read again under other axes, see :func:`watch_until_s`).

    Returns
    -------
    state : DwellState
    found : (start_s, end_s) or None
        The first dwell far from the calibrated pose, of ``set_gap_s`` or
        more, before any such dwell in the calibrated pose; the
        scan stops there (the caller re-learns and starts a new scan).
    """
    state, blocks = _blocks(state, t, theta, upto_s)
    if blocks.shape[0] == 0:
        return state, None
    settle_n = round(_SETTLE_S / _BLOCK_S)
    level_n = round(_LEVEL_S / _BLOCK_S)
    look_n = round(_LOOKBACK_S / _BLOCK_S)
    m = state.recent.shape[0]
    allb = np.concatenate([state.recent, blocks]) if m else blocks
    lo, hi, total, count = allb.T
    n_all = allb.shape[0]
    # For every block, over the blocks ending at it: the range over settle_n
    # (NaN if any is empty) and the mean angle over level_n.
    spread = np.full(n_all, np.nan)
    mid = np.full(n_all, np.nan)
    if n_all >= settle_n:
        wlo = sliding_window_view(lo, settle_n).min(axis=1)
        whi = sliding_window_view(hi, settle_n).max(axis=1)
        spread[settle_n - 1 :] = whi - wlo
        mid[settle_n - 1 :] = 0.5 * (wlo + whi)
    c_tot = np.concatenate([[0.0], np.cumsum(total)])
    c_cnt = np.concatenate([[0.0], np.cumsum(count)])
    j0 = np.maximum(np.arange(n_all) - level_n + 1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c_tot[1:] - c_tot[j0]) / (c_cnt[1:] - c_cnt[j0])
    # The run (first, last, level, entered, longest) in, the run after the scan out.
    rest = (-1.0, -1.0)
    if state.first_rest_s is not None:
        a_s, b_s = state.first_rest_s
        rest = (round((a_s - state.t0_s) / _BLOCK_S), round((b_s - state.t0_s) / _BLOCK_S) - 1)
    run = np.array(
        [
            state.run_first,
            state.run_last,
            state.run_level_deg,
            1.0 if state.run_entered else 0.0,
            state.longest_rest_s,
            *rest,
        ]
    )
    base = state.next_block - n_all  # block index of allb[0]
    j = _scan_dwells(np.ascontiguousarray(allb), spread, mean, mid, m, base, set_gap_s, settle_n, look_n, run)
    first, last, level, entered, longest = int(run[0]), int(run[1]), float(run[2]), bool(run[3] > 0.0), float(run[4])
    first_rest = None
    if run[5] >= 0.0:
        first_rest = (state.t0_s + run[5] * _BLOCK_S, state.t0_s + (run[6] + 1) * _BLOCK_S)
    found = None
    if j < n_all:  # the scan stopped at the block where the dwell elsewhere ended
        found = (state.t0_s + first * _BLOCK_S, state.t0_s + (last + 1) * _BLOCK_S)
    else:
        j = n_all - 1
    keep_n = max(look_n + settle_n, level_n)
    state = dataclasses.replace(
        state,
        recent=allb[: j + 1][-keep_n:],
        run_first=first,
        run_last=last,
        run_level_deg=level,
        run_entered=entered,
        longest_rest_s=longest,
        first_rest_s=first_rest,
    )
    return state, found


@njit_borrowed
def _scan_dwells(
    allb: np.ndarray,
    spread: np.ndarray,
    mean: np.ndarray,
    mid: np.ndarray,
    m: int,
    base: int,
    set_gap_s: float,
    settle_n: int,
    look_n: int,
    run: np.ndarray,
) -> int:
    """Follow the open dwell over blocks ``m ..`` of ``allb``; the index of the block where it stopped.

    ``allb`` (min, max, sum, count per block; the blocks before ``m`` are
    the look-back), ``spread`` the range over the ``settle_n`` blocks ending at
    each, ``mid`` its middle and ``mean`` the mean angle over the level
    window (NaN where unknown); ``base`` the block index of ``allb[0]``.
    ``run`` holds (first, last, level, entered, longest) of the open dwell
    (the fields of :class:`DwellState`) and the first and last block of the
    first rest in the calibrated pose (-1 before one ended), and is updated
    in place.  Returns
    ``allb.shape[0]`` when every block was scanned, else the block at which
    a dwell far from the calibrated pose ended before any rest in the
    calibrated pose: ``run[0]``, ``run[1]`` then hold that dwell's first and last block.
    The per-block state machine of the scan, compiled: in Python it cost
    ~1 us per 0.25 s block, over the first 15 minutes of every session.
    Twin: ``tests/naive.py:scan_dwells``.
    """
    first = int(run[0])
    last = int(run[1])
    level = run[2]
    entered = run[3] > 0.0
    longest = run[4]
    n_all = allb.shape[0]
    stop = n_all
    for j in range(m, n_all):
        k = base + j
        empty = math.isnan(allb[j, 0])
        if first >= 0:
            if empty or abs(mean[j] - level) <= _DWELL_DEG:
                if not empty:
                    last = k
            else:
                # The thigh left the dwell: a wait between two movements if it came from one.
                dur_s = (last + 1 - first) * _BLOCK_S
                if entered and dur_s >= set_gap_s:
                    if abs(level) < _OTHER_POSE_DEG:
                        longest = max(longest, dur_s)
                        if run[5] < 0.0:
                            run[5] = first
                            run[6] = last
                    elif longest <= 0.0:
                        stop = j
                        break
                first = -1
        if first < 0 and spread[j] <= _SETTLE_DEG:  # False where NaN
            first = k - settle_n + 1
            last = k
            level = mid[j]
            # Entered from an excursion: a block before the settled ones, within
            # the look-back, lies outside the dwell's band (empty blocks do not count).
            entered = False
            for b in range(max(0, j + 1 - look_n - settle_n), j + 1 - settle_n):
                if abs(allb[b, 0] - level) > _DWELL_DEG or abs(allb[b, 1] - level) > _DWELL_DEG:
                    entered = True
                    break
    run[0] = first
    run[1] = last
    run[2] = level
    run[3] = 1.0 if entered else 0.0
    run[4] = longest
    return stop


def watch_until_s(t0_s: float, newest_s: float, wait_elsewhere_s: float | None) -> float:
    """Up to when the angle can be scanned, s: rows read in the axes they keep.

    Parameters
    ----------
    t0_s : float
        Time of the scan's first row, s.
    newest_s : float
        Time of the newest row, s.
    wait_elsewhere_s : float or None
        :func:`first_wait_elsewhere_s`, if the axis watch reported one.

    Returns
    -------
    float
        ``REVISE_WITHIN_S`` after the first row at most; before a wait
        elsewhere (the angle after it is measured from that pose, not the
        calibrated one); else ``_DECIDED_LAG_S`` before the newest row (a
        hold still undecided may re-read the angle after its first row).
        Depends on rows alone: a hold's first row lies after the limit of
        any earlier call, so every block is scanned once in the same axes
        whatever the chunks.
    """
    end_s = t0_s + REVISE_WITHIN_S
    if wait_elsewhere_s is not None and wait_elsewhere_s < end_s:
        return wait_elsewhere_s
    return min(end_s, newest_s - _DECIDED_LAG_S)


def first_wait_elsewhere_s(up: np.ndarray, times_s: list[float], ups: list[np.ndarray]) -> float | None:
    """The first set the axis watch started from a wait in another pose than ``up``, its time, s (else None).

    The axis watch (``dsp/_kern_axis.py``) re-locks a set's axes after a
    wait of ``set_gap_s`` within ``lock_deg`` of one still pose: standing,
    and walking about standing (a walk swings the thigh some 10 deg behind
    to 20 in front of it), are one wait to it.  The pose it takes is that
    wait's; more than ``_OTHER_POSE_DEG`` from the calibrated ``up``, the
    thigh waited between sets elsewhere (as a dwell of :func:`feed_dwells`,
    which a walk, short stands and a hold's sag can break up).

    Parameters
    ----------
    up : ndarray, shape (3,)
        The calibrated rest pose ("up", sensor frame).
    times_s : list of float
        The re-locks' times (their sets' first held row), s, in order.
    ups : list of ndarray
        Their rest poses ("up", sensor frame).
    """
    cos_far = math.cos(math.radians(_OTHER_POSE_DEG))
    for time_s, u in zip(times_s, ups, strict=True):
        if float(np.dot(u, up)) < cos_far:
            return time_s
    return None


def wait_window_s(wait_elsewhere_s: float, set_gap_s: float) -> tuple[float, float]:
    """Where to learn the rest pose in the wait before :func:`first_wait_elsewhere_s`, (start, end) s.

    The axis watch's wait lasted ``set_gap_s`` at least before the set's
    first held row; it counts from the first row within ``lock_deg`` of the
    pose, still on the way down from the last rep, so the first ``_SETTLE_S``
    (as a dwell here starts once the angle has settled) is left out.
    """
    return wait_elsewhere_s - set_gap_s + _SETTLE_S, wait_elsewhere_s
