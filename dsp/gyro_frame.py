"""Check that the gyro turns gravity the way the accelerometer sees it turn.

A gyro whose frame disagrees with its accelerometer's -- an axis mirrored
(Eurobench's thigh units report z the other way round), two axes swapped,
rad/s given as deg/s, a scale error -- still counts reps as long as the
flexion axis happens to lie along an untouched axis, and silently gives wrong
counts and angles otherwise.  The data can tell: standing still the
accelerometer reads gravity, and as the thigh turns, the gravity direction it
reads turns exactly as the gyro says (``dg/dt = g x omega`` in the sensor
frame).  So over the rows of the learning phase (the calibration stand and
the motion until the flexion sign is confirmed) the gravity direction is
propagated with the gyro -- with each candidate correction ``M`` applied to
the rate -- and compared with the accelerometer's.

Both directions pass through the same first-order low-pass before they are
compared: the filter's lag then cancels, and what it removes from the
accelerometer (the thigh's tangential acceleration, which averages out over
a swing, and noise) it removes from nothing that matters.  What remains
(the centripetal term along the thigh, the gyro's bias drift) is the same
for every candidate, so candidates are judged against each other: a
correction is applied only when its residual is a small fraction of the
residual of the gyro as given, and that in turn is large compared to the
judged motion.

Candidates: the 48 signed permutations of the axes (swaps, and mirrors,
which make the gyro frame improper against the accelerometer's), each with
the scale 1 or 180/pi (rad/s read as deg/s), then a free scalar scale fitted
for the best few of them.  Ties go to the simpler correction, so a flip of
an axis the motion does not use never replaces the identity.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hipflex.dsp._kern_gyro_frame import _fit_lever, _lowpass_rows, _model_rows
from hipflex.dsp._layout import RAD
from hipflex.dsp.types import GyroFrameCheck

__all__ = [
    "GyroCandidate",
    "accelerometer_floor_deg",
    "candidates",
    "check_gyro_frame",
    "fit_residual",
    "lever_direction",
    "lowpass_rows",
]

# Time constant of the low-pass model and measurement pass through, s: it
# averages out impacts and noise, not the motion.
LP_TAU_S = 0.2
# Only this much of the learning phase is judged, s from its first row: the
# gyro's bias drifts, and a broken gyro can hold the lock back for long.
MAX_JUDGE_S = 30.0
# Rows after the first step longer than this are not judged, s, unless the
# thigh was still across it (turned less than MAX_GAP_TURN_DEG, deg): what
# it did in the gap is unknown to the gyro.
MAX_GAP_S = 0.1
MAX_GAP_TURN_DEG = 3.0
# The fit runs on rows averaged over blocks about this long, s (and the
# least squares on low-passed rows this far apart): the low-pass leaves
# nothing faster to see.
JUDGE_STEP_S = 0.02
# The best correction must turn gravity at least this far for the motion to
# tell candidates apart, deg.
MIN_MOTION_DEG = 20.0
# A correction must leave at most this fraction of the residual of the gyro
# as given ("clearly better": a sound gyro's residual is what the rigid
# model leaves out, a wrong frame's the whole wrong rotation on top).
MAX_RESIDUAL_RATIO = 0.4
# The gyro as given is blind to the motion when it turns less than this
# fraction of the accelerometer's low-passed tilt.
GYRO_BLIND_FRACTION = 1.0 / 3.0
# A correction explains the accelerometer when the rigid model's residual
# with it is at most this fraction of the turn judged; it must, to be applied.
MAX_FIT_FRACTION = 0.1


def accelerometer_floor_deg(gravity_g: float) -> float:
    """Residual the rigid model cannot go below with this accelerometer, deg.

    A still accelerometer reading ``gravity_g`` instead of 1 g has offsets
    or per-axis gains of about ``|gravity_g - 1|`` g, which turn the
    directions it reads by up to about ``atan(|gravity_g - 1|)`` as the
    thigh turns: no gyro, however right, fits it better.  (Eurobench
    subject 03's thigh unit reads 1.31 g seated, 1.12-1.33 g in its other
    poses: every correction, any scale or per-axis gains included, leaves
    12-15 deg, the sound units of 01 and 02 about 3 deg.)
    """
    if not math.isfinite(gravity_g):
        return 0.0
    return math.degrees(math.atan(abs(gravity_g - 1.0)))


# Scales of the free fit are searched within this factor of the base
# scales 1 and 180/pi.
SCALE_SPAN = 3.0
# A fitted scale replaces its base only when it reduces the residual by
# this factor.
SCALE_GAIN = 0.6
# Residuals within this factor of the best, plus TIE_DEG, are not told
# apart; the simplest correction among them wins.  The rigid model leaves
# a few degrees unexplained (hip motion, gaps, the sensor's errors), and
# motion mostly about one axis tells little about the others: a sound gyro
# at 100 Hz with packet loss fits "y and z swapped, y mirrored" 2.6 deg and
# itself 3.7 deg; Eurobench 01 read raw fits "z mirrored" 3.2 deg, the next
# 4.5 deg.  Below the band a difference in residual is a difference in fit.
TIE_FACTOR = 1.5
TIE_DEG = 0.5
# A fitted scale within this fraction of its base is not called a fault:
# sound units' gyros are calibrated to a few per cent (per axis), and the
# rigid model's own bias is of that order too.
MIN_SCALE_ERROR = 0.1
# Candidates are screened on rows averaged over blocks this long, s, and
# the best N_FINE of them fitted on the fine rows.
SCREEN_STEP_S = 0.05
N_FINE = 6
# The free scale is fitted for this many of the best candidates.
N_REFINE = 2


@dataclass(frozen=True)
class GyroCandidate:
    """A candidate correction of the gyro: ``rate_true = matrix @ rate_given``.

    Attributes
    ----------
    matrix : ndarray, shape (3, 3)
    complexity : int
        Number of elementary changes (a mirror, a swap, a scale); ties go to
        the smaller.
    description : str
        Short text for ``quality``, e.g. ``"z axis mirrored"``.
    """

    matrix: np.ndarray
    complexity: int
    description: str


def _describe_perm(perm: tuple[int, ...], signs: tuple[float, ...]) -> tuple[int, str]:
    names = "xyz"
    parts: list[str] = []
    moved = [i for i in range(3) if perm[i] != i]
    complexity = 0
    if len(moved) == 2:
        parts.append(f"{names[moved[0]]} and {names[moved[1]]} swapped")
        complexity += 1
    elif len(moved) == 3:
        order = ", ".join(f"{names[i]}<-{names[perm[i]]}" for i in range(3))
        parts.append(f"axes rotated ({order})")
        complexity += 2
    flipped = [names[i] for i in range(3) if signs[i] < 0]
    if len(flipped) == 3:
        parts.append("all axes mirrored (rotation sense reversed)")
        complexity += 1
    elif flipped:
        parts.append(" and ".join(flipped) + (" axis mirrored" if len(flipped) == 1 else " axes mirrored"))
        complexity += len(flipped)
    return complexity, ", ".join(parts)


def candidates() -> list[GyroCandidate]:
    """The 48 signed permutations (identity first), scale 1.

    Row ``i`` of a matrix picks given axis ``perm[i]`` with sign
    ``signs[i]`` as true axis ``i`` (the description names true axes).
    Built once (with their texts, ~0.3 ms per recording); the matrices are
    read-only, the list is the caller's.
    """
    return list(_candidates())


@functools.cache  # on first use, not at import
def _candidates() -> tuple[GyroCandidate, ...]:
    out: list[GyroCandidate] = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            for i in range(3):
                m[i, perm[i]] = signs[i]
            m.flags.writeable = False
            complexity, text = _describe_perm(perm, signs)
            out.append(GyroCandidate(m, complexity, text))
    out.sort(key=lambda c: c.complexity)
    return tuple(out)


def lowpass_rows(time_s: np.ndarray, x: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order low-pass of each column of ``x`` over time (see ``_lowpass_rows``).

    Parameters
    ----------
    time_s : ndarray, shape (n,)
    x : ndarray, shape (n, m)
    tau_s : float
        Time constant, s (> 0).

    Returns
    -------
    ndarray, shape (n, m)
    """
    t = np.ascontiguousarray(time_s, dtype=np.float64)
    xx = np.ascontiguousarray(x, dtype=np.float64)
    if xx.ndim != 2 or xx.shape[0] != t.shape[0]:
        raise ValueError(f"x must have shape ({t.shape[0]}, m), got {xx.shape}")
    if not tau_s > 0.0:
        raise ValueError(f"tau_s must be positive, got {tau_s}")
    out = np.empty_like(xx)
    _lowpass_rows(t, xx, float(tau_s), out)
    return out


@dataclass(frozen=True)
class _Rows:
    """The rows a check is judged on (valid rows only)."""

    time_s: np.ndarray
    acc_g: np.ndarray
    rate_dps: np.ndarray  # bias removed, in the gyro's own frame
    accel_dps2: np.ndarray  # its derivative (central differences), deg/s^2; a correction turns it alike
    up: np.ndarray
    gravity_g: float
    acc_lp: np.ndarray  # low-passed accelerometer
    stride: int  # the fit uses every stride-th low-passed row (about JUDGE_STEP_S apart)


def fit_residual(rows: _Rows, matrix: np.ndarray) -> tuple[float, float]:
    """How well the gyro corrected by ``matrix`` explains what the accelerometer reads.

    The model of the accelerometer is rigid rotation about a fixed point
    (the hip): ``f = |g| g_dir + alpha x r + omega x (omega x r)``, with
    ``g_dir`` propagated by the corrected rate from the stand, ``alpha``
    its derivative, and the lever ``r`` fitted by least squares (it enters
    linearly).  (An accelerometer offset as a free term too made the
    candidates harder to tell apart: it absorbs part of a wrong rotation.)  Model and measurement
    pass through the same low-pass, which keeps the model exact and averages
    out what it leaves out (impacts, the hip's own brief accelerations).

    Returns
    -------
    residual_deg : float
        RMS angle between the low-passed accelerometer and the model, deg.
    turn_deg : float
        Largest angle of the propagated gravity from the stand's, deg.
    """
    n = rows.time_s.shape[0]
    cols = np.empty(((n + rows.stride - 1) // rows.stride, 12))
    m_c = np.ascontiguousarray(matrix, dtype=np.float64)
    turn = _model_rows(
        rows.time_s, rows.rate_dps, rows.accel_dps2, m_c, rows.up, rows.gravity_g, LP_TAU_S, rows.stride, cols
    )
    return _fit_lever(cols, rows.acc_lp, rows.stride), float(turn)


# The lever is taken as measured when its length is this many standard errors: its direction is then
# within ~15 deg (a slow raise from lying turns too little for the centripetal term, but its tangential
# term, alpha x r, is what fixes the lever: Bilkent's 25 Hz rehab raises 3-30 se).
LEVER_MIN_T = 4.0


def lever_direction(rows: _Rows, matrix: np.ndarray) -> np.ndarray | None:
    """Unit lever ``r`` (pivot to sensor) of the rigid model with the gyro corrected by ``matrix``, sensor frame.

    The least-squares lever of :func:`fit_residual` (the same model rows and
    ridge), with the standard error of its length from the residuals; None
    unless the length is ``LEVER_MIN_T`` standard errors.  Its direction is
    the thigh's long axis seen from the sensor (from the hip to the sensor
    for a thigh turning about the hip), fixed by the strap for the session:
    :mod:`hipflex.dsp.posture` compares it with each set's rest "up" (the
    thigh hangs along it, lies across it).
    """
    n = rows.time_s.shape[0]
    cols = np.empty(((n + rows.stride - 1) // rows.stride, 12))
    m_c = np.ascontiguousarray(matrix, dtype=np.float64)
    _model_rows(rows.time_s, rows.rate_dps, rows.accel_dps2, m_c, rows.up, rows.gravity_g, LP_TAU_S, rows.stride, cols)
    y = rows.acc_lp[:: rows.stride][: cols.shape[0]] - cols[:, :3]
    x = cols[:, 3:].reshape(-1, 3, 3)
    ok = np.isfinite(y).all(axis=1) & np.isfinite(x).all(axis=(1, 2))
    if np.count_nonzero(ok) < 10:
        return None
    y, x = y[ok], x[ok]
    a = np.einsum("nip,niq->pq", x, x)
    a = a + (1e-9 * np.trace(a) + 1e-300) * np.eye(3)
    r = np.linalg.solve(a, np.einsum("nip,ni->p", x, y))
    res = y - np.einsum("nip,p->ni", x, r)
    dof = max(1, res.size - 3)
    length = float(np.linalg.norm(r))
    if not length > 0.0:
        return None
    # Variance of the length: the covariance of r projected on its direction.
    var = float(np.sum(res * res)) / dof * float(r @ np.linalg.solve(a, r)) / (length * length)
    if not length > LEVER_MIN_T * math.sqrt(var):
        return None
    return r / length


def _rows(t: np.ndarray, acc: np.ndarray, rate: np.ndarray, up: np.ndarray, gravity_g: float) -> _Rows:
    return _Rows(
        t,
        acc,
        rate,
        np.ascontiguousarray(np.gradient(rate, t, axis=0)),
        np.ascontiguousarray(up / np.linalg.norm(up)),
        float(gravity_g),
        lowpass_rows(t, acc, LP_TAU_S),
        max(1, int(JUDGE_STEP_S / float(np.median(np.diff(t))))) if t.size > 1 else 1,
    )


def _block_means(
    t: np.ndarray, acc: np.ndarray, rate: np.ndarray, step_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows averaged over consecutive blocks about ``step_s`` long (contiguous float64).

    The fit needs no finer rows (its low-pass is ten times slower), and
    at 200 Hz this makes the check four times cheaper.
    """
    k = int(step_s / float(np.median(np.diff(t)))) if t.size > 1 else 1
    m = t.size // k if k > 1 else 0
    if m < 10:
        return (np.ascontiguousarray(t), np.ascontiguousarray(acc), np.ascontiguousarray(rate, dtype=np.float64))
    out = [np.ascontiguousarray(x[: m * k].reshape(m, k, -1).mean(axis=1)) for x in (t[:, None], acc, rate)]
    return np.ascontiguousarray(out[0][:, 0]), out[1], out[2]


def _still_across(gap_s: float, acc0: np.ndarray, acc1: np.ndarray, rate0: np.ndarray, rate1: np.ndarray) -> bool:
    """Whether the thigh can have turned less than ``MAX_GAP_TURN_DEG`` in a gap of ``gap_s``.

    Both the accelerometer's direction across the gap and the rate either
    side (as given, times the gap) must say so: a gyro in the wrong unit
    reads almost nothing while the thigh swings.
    """
    cos = float(acc0 @ acc1) / float(np.linalg.norm(acc0) * np.linalg.norm(acc1))
    acc_turn = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
    gyr_turn = max(float(np.linalg.norm(rate0)), float(np.linalg.norm(rate1))) * gap_s
    return acc_turn < MAX_GAP_TURN_DEG and gyr_turn < MAX_GAP_TURN_DEG


def _scale_text(scale: float) -> str:
    if abs(scale / RAD - 1.0) < 0.15:
        return f"rad/s read as deg/s (x{scale:.1f})"
    return f"scaled x{scale:.2f}"


def check_gyro_frame(
    time_s: np.ndarray,
    acc_g: np.ndarray,
    gyr_dps: np.ndarray,
    bias_dps: np.ndarray,
    up: np.ndarray,
    gravity_g: float = 1.0,
    acc_floor_deg: float = 0.0,
) -> GyroFrameCheck:
    """Find the correction of the gyro that makes it turn gravity as the accelerometer sees it turn.

    Parameters
    ----------
    time_s, acc_g, gyr_dps : ndarray, shapes (n,), (n, 3), (n, 3)
        The rows to judge on, starting at a still stand (the calibration);
        only the first ``MAX_JUDGE_S`` are used.
    bias_dps : ndarray, shape (3,)
        Gyro bias from the stand, deg/s, in the gyro's own frame.
    up : ndarray, shape (3,)
        Gravity direction during the stand.
    gravity_g : float
        Magnitude of the accelerometer's reading during the stand, g.
    acc_floor_deg : float
        What the accelerometer itself is known to leave unexplained, deg
        (:func:`accelerometer_floor_deg` of a still stand's reading; 0 when
        the stand was not still: its magnitude then says nothing about the
        sensor).  Allowed on top of ``MAX_FIT_FRACTION`` of the turn for a
        correction without a fitted scale.

    Returns
    -------
    GyroFrameCheck
        ``matrix`` is the identity unless ``verdict == "corrected"``.
    """
    t = np.asarray(time_s, dtype=np.float64)
    keep = np.isfinite(t) & np.isfinite(acc_g).all(axis=1) & np.isfinite(gyr_dps).all(axis=1)
    if t.size:
        keep &= t <= t[0] + MAX_JUDGE_S
        # The gyro cannot carry gravity across lost rows while the thigh
        # moves: judge up to the first long gap over which it may have turned.
        idx = np.flatnonzero(keep)
        for j in np.flatnonzero(np.diff(t[idx]) > MAX_GAP_S):
            a, b = idx[j], idx[j + 1]
            if not _still_across(t[b] - t[a], acc_g[a], acc_g[b], gyr_dps[a] - bias_dps, gyr_dps[b] - bias_dps):
                keep &= t <= t[a]
                break
    ident = np.eye(3)
    if np.count_nonzero(keep) < 10:
        return GyroFrameCheck("too_little_motion", None, ident, math.nan, math.nan, 0.0)
    acc_k = np.asarray(acc_g[keep], dtype=np.float64)
    rate_k = gyr_dps[keep] - np.asarray(bias_dps, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    rows, coarse = (
        _rows(*_block_means(t[keep], acc_k, rate_k, st), u, gravity_g) for st in (JUDGE_STEP_S, SCREEN_STEP_S)
    )
    r_id, id_turn = fit_residual(rows, ident)
    # The accelerometer's own tilt (low-passed: it understates a fast swing,
    # never overstates a turn by much) against the turn of the gyro as given:
    # a gyro that hardly turns while the thigh does is "blind".  Then only the
    # scale 180/pi can fit (rad/s read as deg/s), otherwise only scale 1: a
    # signed permutation keeps the rate's magnitude.
    cos_tilt = (rows.acc_lp @ rows.up) / np.linalg.norm(rows.acc_lp, axis=1)
    acc_tilt = float(np.degrees(np.arccos(np.clip(np.nanmin(cos_tilt), -1.0, 1.0))))
    blind = acc_tilt >= MIN_MOTION_DEG and id_turn < GYRO_BLIND_FRACTION * acc_tilt
    base = RAD if blind else 1.0
    # Every candidate is screened on coarser rows; the best few are fitted on
    # the fine rows, and only those are judged.  (residual, complexity,
    # matrix, text, turn) of each.
    screened: list[tuple[float, int, np.ndarray, str]] = []
    for c in candidates():
        if base == 1.0 and c.complexity == 0:
            continue
        text = c.description if base == 1.0 else ", ".join(filter(None, [c.description, _scale_text(base)]))
        screened.append((fit_residual(coarse, base * c.matrix)[0], c.complexity + (base != 1.0), base * c.matrix, text))
    scored: list[tuple[float, int, np.ndarray, str, float]] = [(r_id, 0, ident, "", id_turn)]
    for _, cx, m_c, text in sorted(screened, key=lambda v: v[0])[:N_FINE]:
        r_c, turn_c = fit_residual(rows, m_c)
        scored.append((r_c, cx, m_c, text, turn_c))
    # A free scale around the base (searched on the coarse rows), for the
    # identity (unless blind) and the best few others.
    others = sorted(scored[1:], key=lambda v: v[0])[:N_REFINE]
    for r_b, cx, m_b, text_b, _ in others if blind else [scored[0], *others]:
        perm = m_b / base

        def at_scale(sc: float, p: np.ndarray = perm) -> float:
            return fit_residual(coarse, sc * p)[0]

        s_best = _golden_log_scale(at_scale, base / SCALE_SPAN, base * SCALE_SPAN)[0]
        r_s, turn = fit_residual(rows, s_best * perm)
        if r_s < SCALE_GAIN * r_b and abs(math.log(s_best / base)) >= math.log1p(MIN_SCALE_ERROR):
            head = text_b if base == 1.0 else text_b.replace(_scale_text(base), "").rstrip(", ")
            text = ", ".join(filter(None, [head, _scale_text(s_best)]))
            scored.append((r_s, cx + (base == 1.0), s_best * perm, text, turn))
    best_r = min(v[0] for v in scored)
    # Near-ties go to the simplest correction (the identity first).
    r_best, cx_best, m_best, text, turn = min(
        (v for v in scored if v[0] <= TIE_FACTOR * best_r + TIE_DEG), key=lambda v: (v[1], v[0])
    )
    # A signed permutation has no free parameter: an accelerometer that is
    # itself off (it does not read 1 g while still) cannot make one fit by
    # chance, so its own floor is allowed on top.  A fitted scale can
    # absorb part of that error (a sound gyro then looks scaled), so it
    # gets no such allowance.
    allowance = acc_floor_deg if _is_signed_permutation(m_best) else 0.0
    explains = r_best <= MAX_FIT_FRACTION * turn + allowance
    if turn >= MIN_MOTION_DEG and cx_best > 0 and explains and r_best <= MAX_RESIDUAL_RATIO * r_id:
        return GyroFrameCheck("corrected", text, m_best, r_id, r_best, turn, lever_direction(rows, m_best))
    motion = max(turn, acc_tilt)
    # A blind gyro not corrected is a mismatch, even where no rigid model fits
    # (walking).  A mismatch also when some correction fits clearly better than the gyro
    # as given (it is outside the band of the best), yet none well enough to
    # apply.  When nothing fits better than the gyro as given, it is the rigid
    # model that fails (walking moves the hip), not the gyro.
    if blind:
        return GyroFrameCheck("mismatch", None, ident, r_id, r_best, motion)
    if turn >= MIN_MOTION_DEG and r_id > TIE_FACTOR * best_r + TIE_DEG:
        # Not blind: the gyro as given is used, and so is its lever where the fit is clear.
        return GyroFrameCheck("mismatch", None, ident, r_id, r_best, motion, lever_direction(rows, ident))
    if turn < MIN_MOTION_DEG:
        # Too little turn to judge the frame, not to fit a lever: the gyro as given is used, and a lever
        # it leaves unclear is dropped (a slow rehab raise of 10-20 deg fixes it by its tangential term).
        return GyroFrameCheck("too_little_motion", None, ident, r_id, r_best, motion, lever_direction(rows, ident))
    return GyroFrameCheck("consistent", None, ident, r_id, r_best, turn, lever_direction(rows, ident))


def _is_signed_permutation(m: np.ndarray) -> bool:
    """Whether ``m`` only swaps and mirrors axes (no scale)."""
    return bool(np.all(np.isin(m, (-1.0, 0.0, 1.0))) and np.all(np.count_nonzero(m, axis=1) == 1))


def _golden_log_scale(f: Callable[[float], float], lo: float, hi: float, iters: int = 10) -> tuple[float, float]:
    """Minimise ``f(scale)`` over ``[lo, hi]`` by golden-section search on log(scale)."""
    phi = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = math.log(lo), math.log(hi)
    c = b - phi * (b - a)
    d = a + phi * (b - a)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - phi * (b - a)
            fc = f(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + phi * (b - a)
            fd = f(math.exp(d))
    s = math.exp(0.5 * (a + b))
    return s, float(f(s))
