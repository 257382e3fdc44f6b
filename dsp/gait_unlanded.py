"""Two swings with no foot landing at all confirm no walk (accelerometer only).

Part of the gait tracker (``hipflex.dsp.gait``).  In walking the foot lands
once a stride, at or just after the thigh's peak flexion, and the rep
detector reports the largest jolt in the swing's top half after its peak
(``strike_g``: what the pendulum filter's swing model did not explain).
A soft landing still jolts: the steps of the wide simulator's walks
(tuning seeds 0-400, accelerometer only, 12.5-400 Hz) jolt 0.15 g at their
5th percentile and 0.45-0.97 g at their median, and of 1698 pairs of
consecutive steps in its walks 8 have both under 0.12 g; real heel strikes
at the thigh are larger still (10th percentile 0.6 g, Marpino;
``gait`` module docstring).  A standing strength set lands on nothing: its
reps jolt 0.08 g at the median.  Where such reps read their lows a few
degrees behind standing (a hanging lever at 200 Hz: the mixed session's
strength sets, tuning seeds 11 and 31, lows -2..-5 degrees, peaks 40-45, two
swings 1.8-2.3 s apart, onsets 2.1 s apart) they pass every other test of a
walk's pair, and the set lost two or three reps to a "walk"
(benchmarks/README.md, drills18).

So, without a gyro, a swing does not join a run that is not yet a walk when
neither it nor the rep before it (the run's last swing) jolted at least
``UNLANDED_G``: the pair is judged no walk, as ``gait_swing.slow_onset``
judges a pair whose onsets are too far apart.  A walk already confirmed is
not judged (a soft step inside it still counts as its stride), nor a swing
whose jolt was not measured (NaN).
"""

from __future__ import annotations

from hipflex.dsp.gait_swing import GaitState

__all__ = ["UNLANDED_G", "unlanded_pair"]

#: Below this jolt (g) in a swing's top half after its peak no foot landed at all: a fifth of the
#: heel strike's ``STRIKE_G`` and half the softest landing ``gait_swing`` reads (``_LANDED_G``, 0.2 g);
#: strength reps jolt 0.08 g at the median, 5 % of the wide simulator's walk steps under 0.15 g.
UNLANDED_G = 0.1


def unlanded_pair(g: GaitState, has_gyro: bool, strike_g: float) -> bool:
    """True when a swing and the run's last swing, a rep, both landed on nothing (module docstring).

    Parameters
    ----------
    g : GaitState
        The tracker's state before the swing is fed.
    has_gyro : bool
        The angle has a gyro behind it (then never true: the jolt is an accelerometer-only reading).
    strike_g : float
        The swing's jolt in its top half after its peak, g (NaN: not measured).

    Returns
    -------
    bool
        True when the run is not yet a walk, its last swing is the latest rep, and both jolted less than
        ``UNLANDED_G``.
    """
    last = g.last_rep
    if has_gyro or g.walking or last is None or not g.peaks_s or last.peak_s != g.peaks_s[-1]:
        return False
    return strike_g < UNLANDED_G and g.rep_strike_g < UNLANDED_G
