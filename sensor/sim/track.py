"""Smooth signals with exact derivatives, the building blocks of the simulator.

Every motion in the simulator (thigh angle, hip position, soft-tissue
wobble) is a :class:`Track`: a signal sampled on the dense time grid together
with its exact first and second time derivatives.  Tracks are built from

* quintic Hermite keyframe splines (value, velocity and acceleration given at
  each keyframe; C2 everywhere, so accelerations are continuous),
* smooth random wander (a keyframe spline through random values),
* sinusoids and damped oscillations with smooth onsets, and
* Gaussian bumps (impacts),

and combined linearly or by the product rule, so the derivatives stay exact
and the rigid-body maths never needs a numerical derivative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "KeyBuilder",
    "Keys",
    "Track",
    "add_damped_bursts",
    "add_gaussian_bumps",
    "add_stance_bounces",
    "add_windowed_sinusoid",
    "quintic_track",
    "sinusoid",
    "smooth_noise",
    "window",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Track:
    """A signal and its exact first and second time derivatives.

    Parameters
    ----------
    y : ndarray, shape (n,) or (n, 3)
        Value on the dense time grid (any unit U).
    dy : ndarray, same shape
        First time derivative, U/s.
    ddy : ndarray, same shape
        Second time derivative, U/s^2.
    """

    y: FloatArray
    dy: FloatArray
    ddy: FloatArray

    @classmethod
    def zeros(cls, n: int, width: int | None = None) -> Track:
        """An all-zero track of ``n`` samples (``width`` columns if given)."""
        shape: tuple[int, ...] = (n,) if width is None else (n, width)
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape))

    def __add__(self, other: Track) -> Track:
        return Track(self.y + other.y, self.dy + other.dy, self.ddy + other.ddy)

    def scaled(self, k: float) -> Track:
        """The track multiplied by a constant."""
        return Track(self.y * k, self.dy * k, self.ddy * k)

    def times(self, other: Track) -> Track:
        """Pointwise product of two scalar tracks (product rule for the derivatives)."""
        return Track(
            self.y * other.y,
            self.dy * other.y + self.y * other.dy,
            self.ddy * other.y + 2.0 * self.dy * other.dy + self.y * other.ddy,
        )

    def outer(self, direction: FloatArray) -> Track:
        """A scalar track times a constant 3-vector: shape (n,) -> (n, 3)."""
        d = np.asarray(direction, dtype=np.float64)
        return Track(np.outer(self.y, d), np.outer(self.dy, d), np.outer(self.ddy, d))


@dataclass(frozen=True, eq=False)
class Keys:
    """Keyframes of a quintic spline: times (s), value, velocity, acceleration."""

    t_s: FloatArray
    y: FloatArray
    dy: FloatArray
    ddy: FloatArray


@dataclass
class KeyBuilder:
    """Collects keyframes in time order (a small mutable helper used while planning).

    A keyframe at the same time as the previous one is merged (it must then
    carry the same value); an earlier one is a programming error.
    """

    t_s: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    dy: list[float] = field(default_factory=list)
    ddy: list[float] = field(default_factory=list)

    def add(self, t_s: float, y: float, dy: float = 0.0, ddy: float = 0.0) -> None:
        """Append a keyframe at ``t_s`` seconds."""
        if self.t_s:
            last = self.t_s[-1]
            if abs(t_s - last) < 1e-9:
                if abs(y - self.y[-1]) > 1e-9:
                    raise ValueError(f"conflicting keyframes at t={t_s:.6f} s")
                return
            if t_s < last:
                raise ValueError(f"keyframe at {t_s:.6f} s is before the previous one at {last:.6f} s")
        self.t_s.append(float(t_s))
        self.y.append(float(y))
        self.dy.append(float(dy))
        self.ddy.append(float(ddy))

    def extend(self, keys: Keys) -> None:
        """Append all keyframes of ``keys``."""
        for t, y, v, a in zip(keys.t_s, keys.y, keys.dy, keys.ddy, strict=True):
            self.add(float(t), float(y), float(v), float(a))

    @property
    def last_y(self) -> float:
        """Value of the latest keyframe (0 when empty)."""
        return self.y[-1] if self.y else 0.0

    def build(self) -> Keys:
        """Freeze into :class:`Keys`."""
        return Keys(np.array(self.t_s), np.array(self.y), np.array(self.dy), np.array(self.ddy))


def quintic_track(t_s: FloatArray, keys: Keys) -> Track:
    """Evaluate a C2 quintic Hermite spline through keyframes.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Evaluation times, seconds, increasing.
    keys : Keys
        Keyframes with strictly increasing times.  Before the first and after
        the last keyframe the spline holds the end value; give end keyframes
        zero velocity and acceleration to keep that C2.

    Returns
    -------
    Track
        Value and exact derivatives, shape (n,).
    """
    kt = keys.t_s
    n = t_s.shape[0]
    if kt.shape[0] == 0:
        return Track.zeros(n)
    if kt.shape[0] == 1:
        return Track(np.full(n, keys.y[0]), np.zeros(n), np.zeros(n))
    if np.any(np.diff(kt) <= 0):
        raise ValueError("keyframe times must be strictly increasing")
    h = np.diff(kt)
    p0, p1 = keys.y[:-1], keys.y[1:]
    v0, v1 = keys.dy[:-1] * h, keys.dy[1:] * h
    a0, a1 = keys.ddy[:-1] * h * h, keys.ddy[1:] * h * h
    dp = p1 - p0
    # Coefficients in the normalised segment time tau in [0, 1]; the unique
    # quintic matching value, slope and curvature at both ends.
    c = np.stack(
        [
            p0,
            v0,
            0.5 * a0,
            10.0 * dp - 6.0 * v0 - 4.0 * v1 - 1.5 * a0 + 0.5 * a1,
            -15.0 * dp + 8.0 * v0 + 7.0 * v1 + 1.5 * a0 - a1,
            6.0 * dp - 3.0 * v0 - 3.0 * v1 - 0.5 * a0 + 0.5 * a1,
        ]
    )
    seg = np.clip(np.searchsorted(kt, t_s, side="right") - 1, 0, kt.shape[0] - 2)
    hs = h[seg]
    tau = np.clip((t_s - kt[seg]) / hs, 0.0, 1.0)
    c0, c1, c2, c3, c4, c5 = (ci[seg] for ci in c)
    y = c0 + tau * (c1 + tau * (c2 + tau * (c3 + tau * (c4 + tau * c5))))
    dy = (c1 + tau * (2.0 * c2 + tau * (3.0 * c3 + tau * (4.0 * c4 + tau * 5.0 * c5)))) / hs
    ddy = (2.0 * c2 + tau * (6.0 * c3 + tau * (12.0 * c4 + tau * 20.0 * c5))) / (hs * hs)
    outside = (t_s < kt[0]) | (t_s > kt[-1])
    dy[outside] = 0.0
    ddy[outside] = 0.0
    return Track(y, dy, ddy)


def smooth_noise(
    t_s: FloatArray,
    rng: np.random.Generator,
    spacing_s: float,
    std_fn: Sequence[tuple[float, float, float]] | float,
) -> Track:
    """Smooth random wander: a C2 spline through random values at regular knots.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Dense time grid, seconds.
    rng : numpy.random.Generator
        Source of the knot values.
    spacing_s : float
        Knot spacing, seconds (sets the bandwidth: ~1 / (2 spacing) Hz).
    std_fn : float or sequence of (start_s, end_s, std)
        Standard deviation of the knot values; a sequence gives it per time
        interval (knots outside every interval use the last entry's std;
        knots next to a quieter interval take its std).
        Values are clipped at 2 std so a rare draw cannot become a rep-sized
        excursion.

    Returns
    -------
    Track
        Shape (n,).
    """
    t0, t1 = float(t_s[0]) - spacing_s, float(t_s[-1]) + spacing_s
    kt = np.arange(t0, t1 + spacing_s, spacing_s)
    if isinstance(std_fn, float | int):
        std = np.full(kt.shape, float(std_fn))
    else:
        std = np.full(kt.shape, std_fn[-1][2] if std_fn else 0.0)
        for a, b, s in std_fn:
            std[(kt >= a) & (kt < b)] = s
        # A knot takes the smallest std of itself and its neighbours, so the
        # spline pieces touching a quiet interval stay quiet up to its edge.
        std = np.minimum(std, np.minimum(np.roll(std, 1), np.roll(std, -1)))
    y = np.clip(rng.standard_normal(kt.shape[0]), -2.0, 2.0) * std
    v = np.zeros_like(y)
    # Catmull-Rom slopes keep the wander from stopping at every knot; zero
    # acceleration at the knots keeps it C2.
    v[1:-1] = (y[2:] - y[:-2]) / (kt[2:] - kt[:-2])
    return quintic_track(t_s, Keys(kt, y, v, np.zeros_like(y)))


def window(t_s: FloatArray, start_s: float, end_s: float, ramp_s: float) -> Track:
    """A C2 window: 0 before ``start_s``, smooth rise over ``ramp_s``, 1, smooth fall to 0 at ``end_s``."""
    ramp = min(ramp_s, 0.5 * (end_s - start_s))
    b = KeyBuilder()
    b.add(start_s, 0.0)
    b.add(start_s + ramp, 1.0)
    b.add(end_s - ramp, 1.0)
    b.add(end_s, 0.0)
    return quintic_track(t_s, b.build())


def sinusoid(t_s: FloatArray, amp: float, freq_hz: float, phase_rad: float) -> Track:
    """``amp * sin(2 pi f t + phase)`` with exact derivatives, shape (n,)."""
    w = 2.0 * np.pi * freq_hz
    arg = w * t_s + phase_rad
    s, c = np.sin(arg), np.cos(arg)
    return Track(amp * s, amp * w * c, -amp * w * w * s)


def _span(t_s: FloatArray, a: float, b: float) -> slice:
    return slice(int(np.searchsorted(t_s, a)), int(np.searchsorted(t_s, b)))


def add_windowed_sinusoid(
    out: Track,
    t_s: FloatArray,
    start_s: float,
    end_s: float,
    ramp_s: float,
    amp: float,
    freq_hz: float,
    phase_rad: float,
) -> None:
    """Add ``window(start, end, ramp) * amp sin(2 pi f t + phase)`` in place (tremor, leg shakes).

    Only the samples inside the window are touched, so many short bursts
    stay cheap on a long grid.
    """
    sl = _span(t_s, start_s, end_s)
    ts = t_s[sl]
    if ts.size == 0:
        return
    piece = window(ts, start_s, end_s, ramp_s).times(sinusoid(ts, amp, freq_hz, phase_rad))
    out.y[sl] += piece.y
    out.dy[sl] += piece.dy
    out.ddy[sl] += piece.ddy


def add_damped_bursts(
    out: Track,
    t_s: FloatArray,
    onsets_s: FloatArray,
    amps: FloatArray,
    freq_hz: float,
    decay_s: float,
    rise_s: float = 0.004,
) -> None:
    """Add damped oscillations ``amp * w(tau) exp(-tau/decay) sin(2 pi f tau)`` in place.

    ``tau`` is the time since each onset and ``w(tau) = 1 - exp(-(tau/rise)^3)``
    a smooth onset that makes each burst C2 at its start (a bare damped sine
    would start with a velocity jump).  Each burst is cut after 16 decay
    times (amplitude < 1.2e-7 of the start).

    Parameters
    ----------
    out : Track
        Scalar track, shape (n,), modified in place.
    t_s : ndarray, shape (n,)
        Dense time grid, seconds.
    onsets_s, amps : ndarray, shape (k,)
        Burst start times (s) and amplitudes (unit of ``out``).
    freq_hz, decay_s, rise_s : float
        Oscillation frequency, exponential decay time and onset time.
    """
    lam = complex(-1.0 / decay_s, 2.0 * np.pi * freq_hz)
    r3 = rise_s**3
    for t0, amp in zip(onsets_s, amps, strict=True):
        sl = _span(t_s, float(t0), float(t0) + 16.0 * decay_s)
        tau = t_s[sl] - t0
        e = np.exp(-(tau**3) / r3)
        w = 1.0 - e
        w1 = 3.0 * tau**2 / r3 * e
        w2 = (6.0 * tau / r3 - 9.0 * tau**4 / (r3 * r3)) * e
        z = np.exp(lam * tau)
        out.y[sl] += amp * np.imag(w * z)
        out.dy[sl] += amp * np.imag((w1 + lam * w) * z)
        out.ddy[sl] += amp * np.imag((w2 + 2.0 * lam * w1 + lam * lam * w) * z)


def add_stance_bounces(
    out: Track,
    t_s: FloatArray,
    starts_s: FloatArray,
    contacts_s: FloatArray,
    steps_s: FloatArray,
    scales: FloatArray,
    g_mps2: float,
) -> None:
    """Add the vertical hip motion of running steps (metres) in place.

    In each step the ground pushes for ``contact`` s as a half-sine whose
    mean over the step carries the body weight (a peak specific force of
    ``g pi step / (2 contact)``), then the body is in free fall (specific
    force 0, acceleration ``-g``) until the next landing: the acceleration
    averages to zero over a step, so the hip returns to its height.  Scaled
    by ``scale`` (ramping in and out).  Velocity and height are integrated
    on the grid ``t_s`` (uniform).
    """
    if starts_s.size == 0:
        return
    acc = np.zeros(t_s.shape[0])
    # Sample spans of the steps; a step that ends where the next begins ends
    # at the very sample the next one starts (t0 + step may miss it by an ulp,
    # which would count a sample twice or not at all: a 1 g glitch).
    i0 = np.searchsorted(t_s, starts_s)
    i1 = np.searchsorted(t_s, starts_s + steps_s)
    joined = np.abs(starts_s[:-1] + steps_s[:-1] - starts_s[1:]) < 1e-9
    i1[:-1] = np.where(joined, i0[1:], i1[:-1])
    for a, b, t0, c, step, k in zip(i0, i1, starts_s, contacts_s, steps_s, scales, strict=True):
        sl = slice(int(a), int(b))
        tau = t_s[sl] - t0
        push = np.where(tau < c, g_mps2 * np.pi * step / (2.0 * c) * np.sin(np.pi * np.minimum(tau, c) / c), 0.0)
        acc[sl] += k * (push - g_mps2)
    dt = float(t_s[1] - t_s[0])
    vel = np.cumsum(acc) * dt
    out.ddy[:] += acc
    out.dy[:] += vel
    out.y[:] += np.cumsum(vel) * dt


def add_gaussian_bumps(
    out: Track, t_s: FloatArray, centres_s: FloatArray, amps: FloatArray, sigmas_s: FloatArray
) -> None:
    """Add displacement bumps ``amp * exp(-u^2/2)``, ``u = (t - c)/sigma``, in place.

    The second derivative at the centre is ``-amp / sigma^2``: a bump of
    displacement ``-G sigma^2`` is an acceleration spike of ``+G`` whose net
    velocity and displacement changes are zero (an impact that leaves nothing
    behind).  Each bump is cut at 6 sigma.
    """
    for c, amp, sig in zip(centres_s, amps, sigmas_s, strict=True):
        sl = _span(t_s, float(c) - 6.0 * sig, float(c) + 6.0 * sig)
        u = (t_s[sl] - c) / sig
        g = amp * np.exp(-0.5 * u * u)
        out.y[sl] += g
        out.dy[sl] += -u / sig * g
        out.ddy[sl] += (u * u - 1.0) / (sig * sig) * g
