"""Grouping reps into sets and the per-set summaries (cadence, velocity loss).

A set also counts the swings that lost packets hid completely (a 25 Hz
Polar H10 packs over a second of samples into one notification, and a
march or stride swing lasts less than that).  Such a swing leaves no
samples, so it has no metrics; it is inferred from the set's rhythm only
where the evidence is plain:

* the set has at least ``_MIN_CLEAN`` intervals between consecutive peaks
  with no lost packets in them within ``_RHYTHM_TOL`` of the median ``P`` of
  all such intervals, and they are at least ``_STEADY_SHARE`` of them (a
  steady tempo: one stride read early or late elsewhere in the set, a first
  swing out of the rest or a last one back to it, does not unsettle it);
* the interval around a gap is close (``_FIT_TOL``) to ``k + 1`` periods
  for some ``k >= 1``;
* each of the ``k`` evenly spaced peaks it implies falls inside a gap
  (or within ``_GAP_MARGIN`` P of one: the swing's top half may be lost
  while its edges were sampled).

A pause in a set without lost packets is never filled, nor is a swing lost
at either end of a set (nothing brackets it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hipflex.dsp.types import Gap, Rep, RepSet

__all__ = ["cadence_rpm", "hidden_peaks", "make_set", "velocity_loss_pct"]

_MIN_CLEAN = 3
_RHYTHM_TOL = 0.3
#: Share of a set's clean intervals that must keep its tempo.  Every one of them was required
#: until session 24 (stride33): at 25 Hz one stride read 0.2-0.3 s early or late (a peak in a
#: 0.36 s gap, a last swing back to standing) then vetoed the tempo of the whole set, and swings
#: a 1.5 s gap hid went uncounted (tuning 917, 1582: 13 clean intervals, one off by 36 %).
_STEADY_SHARE = 0.8
_FIT_TOL = 0.2
_GAP_MARGIN = 0.25


def cadence_rpm(peak_times_s: Sequence[float]) -> float | None:
    """Reps per minute from peak times: 60 (n - 1) / (last - first); None for n < 2."""
    n = len(peak_times_s)
    if n < 2:
        return None
    span = float(peak_times_s[-1]) - float(peak_times_s[0])
    return 60.0 * (n - 1) / span if span > 0 else None


def velocity_loss_pct(peak_velocities_dps: Sequence[float]) -> float:
    """(fastest - last) / fastest * 100 on peak flexion velocity; 0 for one rep."""
    # Python floats, not a numpy array: a set's dozen values cost more to
    # convert than to compare (make_set runs once per set).  np.max's NaN
    # propagation kept: any NaN makes the fastest NaN.
    v = [float(x) for x in peak_velocities_dps]
    if not v:
        return 0.0
    fastest = math.nan if any(x != x for x in v) else max(v)
    if fastest <= 0:
        return 0.0
    return (fastest - v[-1]) / fastest * 100.0


def hidden_peaks(peak_times_s: Sequence[float], gaps: Sequence[Gap]) -> tuple[float, ...]:
    """Peak times of swings that gaps hid completely, inferred from the set's tempo.

    Parameters
    ----------
    peak_times_s : sequence of float, shape (n,)
        The measured peaks of one set, increasing, s.
    gaps : sequence of Gap
        Lost-packet gaps of the recording (any; those outside the set are ignored).

    Returns
    -------
    tuple of float
        Estimated peak times, s, increasing; empty unless the module's
        conditions hold.
    """
    if len(peak_times_s) < _MIN_CLEAN + 1 or not gaps:
        return ()  # before any array is made: most sets have no gap
    pk = np.asarray(peak_times_s, dtype=np.float64)
    spans = [(g.start_s, g.end_s) for g in gaps if g.end_s > pk[0] and g.start_s < pk[-1]]
    if not spans:
        return ()
    iv = np.diff(pk)
    gapped = np.array([any(a < pk[i + 1] and b > pk[i] for a, b in spans) for i in range(iv.size)])
    clean = iv[~gapped]
    if clean.size < _MIN_CLEAN:
        return ()
    period = float(np.median(clean))
    if period <= 0.0:
        return ()
    steady = int(np.count_nonzero(np.abs(clean / period - 1.0) <= _RHYTHM_TOL))
    if steady < _MIN_CLEAN or steady < _STEADY_SHARE * clean.size:
        return ()
    margin = _GAP_MARGIN * period
    out: list[float] = []
    for i in np.flatnonzero(gapped):
        k = round(float(iv[i]) / period) - 1
        if k < 1 or abs(float(iv[i]) / ((k + 1) * period) - 1.0) > _FIT_TOL:
            continue
        step = float(iv[i]) / (k + 1)
        implied = [float(pk[i]) + j * step for j in range(1, k + 1)]
        if all(any(a - margin <= t <= b + margin for a, b in spans) for t in implied):
            out.extend(implied)
    return tuple(out)


def make_set(index: int, reps: Sequence[Rep], gaps: Sequence[Gap] = ()) -> RepSet:
    """A :class:`RepSet` from its reps (already indexed within the set) and the gaps so far.

    The cadence counts the swings :func:`hidden_peaks` infers: they are
    interior, so they change ``n`` but not the first or last peak.
    """
    if not reps:
        raise ValueError("a set needs at least one rep")
    peaks = [r.peak_s for r in reps]
    hidden = hidden_peaks(peaks, gaps)
    return RepSet(
        index=index,
        start_s=reps[0].start_s,
        end_s=reps[-1].end_s,
        cadence_rpm=cadence_rpm(sorted([*peaks, *hidden])),
        velocity_loss_pct=velocity_loss_pct([r.peak_flexion_velocity_dps for r in reps]),
        reps=tuple(reps),
        hidden_peaks_s=hidden,
    )
