"""Sensor model: dense ideal signals -> the samples a real device would report.

Pipeline, in order (each step draws from its own random stream, so turning
one impairment on or off never changes the others):

1. **Sampling.**  The device samples uniformly at its true rate
   ``fs_hz * (1 + clock_drift_ppm * 1e-6)``, first sample half a period
   after the start of the dense signal.
2. **Anti-alias filter.**  Each sample is the average of the dense signal
   over one true sample period centred on the sample instant (the
   integrate-and-dump of an oversampling ADC; -3 dB at ~0.44 fs, first null
   at fs).  Centred, so it adds no delay: truth and samples share one time
   base.  Computed exactly from the running integral of the dense signal.
3. **Errors.**  Per-axis scale ``(1 + e)`` and constant bias (drawn once),
   gyro bias random walk, white noise.
4. **Quantisation** to the LSB, then **clipping** at +-range (so clipped
   values sit exactly on the range).
5. **Loss.**  Whole rows dropped in bursts: a two-state (good/lost) Markov
   chain with mean lost-burst length ``loss_burst_samples`` and stationary
   lost fraction ``loss_fraction`` (BLE drops whole notifications).
6. **Reported time** = ``time_offset_s`` + device time + jitter, where the
   device counts its samples at exactly ``1 / fs_hz`` each: a sample taken
   at true time t is reported at ``offset + t (1 + ppm * 1e-6)`` (positive
   ppm: the device samples fast, its timestamps run ahead of the truth
   grid).  Jitter is Gaussian (``jitter_s`` its std) or uniform
   (``jitter_s`` its half-width), clipped to +-``jitter_max_period`` sample
   periods (0.4 by default) so times stay increasing.
7. **Arrival-time stamps** (``notify_rows`` > 0, instead of jitter): the
   rows travel in notifications of ``notify_rows`` (+- ``notify_rows_var``)
   consecutive samples, and a phone logger stamps each row with the arrival
   time of its notification on the phone's clock (``time_offset_s`` + true
   time, so the device's clock drift shows): its last sample's time plus a
   latency uniform in ``[0, notify_latency_s]``, plus a small increasing
   spread (up to ``notify_spread_s``) across its rows: near-equal or equal
   stamps, then a jump.  Lost rows leave the rest of their notification.
8. **File faults**: ``duplicate_rows`` rows repeated verbatim (same time,
   same values) and ``swapped_pairs`` pairs of neighbouring rows written in
   the wrong order (what a logger's buffer can do; loaders repair both).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples

__all__ = ["SampledSignals", "SensorErrors", "SensorModel", "sample_signals"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SensorModel:
    """A sensor's sampling, error and transport characteristics.

    Attributes
    ----------
    fs_hz : float
        Nominal output data rate, Hz.
    has_gyro : bool
        False for accelerometer-only devices (``gyr_dps`` is then None).
    acc_range_g, gyr_range_dps : float
        Full-scale range; values clip at +-range.
    acc_bias_g, gyr_bias_dps : float
        Standard deviation of the per-axis constant bias.
    acc_scale_err, gyr_scale_err : float
        Standard deviation of the per-axis scale error (0.01 = 1 %).
    acc_noise_g, gyr_noise_dps : float
        White noise standard deviation per sample.
    acc_lsb_g, gyr_lsb_dps : float
        Quantisation step (0 disables quantisation).
    gyr_bias_walk_dps : float
        Gyro bias random walk, deg/s per sqrt(s).
    loss_fraction : float
        Fraction of rows lost, in bursts (0 <= f < 1).
    loss_burst_samples : int
        Mean length of a lost burst, samples.
    jitter_s : float
        Standard deviation of the reported-time jitter, seconds.
    time_offset_s : float
        Origin of the reported time column, seconds.
    clock_drift_ppm : float
        True rate = ``fs_hz * (1 + ppm * 1e-6)``.
    jitter_kind : str
        ``"gaussian"`` (``jitter_s`` is the std) or ``"uniform"`` (``jitter_s``
        is the half-width).
    jitter_max_period : float
        Jitter is clipped to +- this many sample periods (< 0.5).
    notify_rows : int
        Rows per notification stamped on arrival (0: stamped when sampled).
    notify_rows_var : int
        Each notification's row count varies uniformly by up to this many rows.
    notify_latency_s : float
        Largest arrival latency of a notification after its last sample, s.
    notify_spread_s : float
        Largest spread of the stamps within one notification, s (0: equal).
    duplicate_rows : int
        Rows written twice (same time, same values).
    swapped_pairs : int
        Pairs of neighbouring rows written in swapped order.
    """

    fs_hz: float
    has_gyro: bool = True
    acc_range_g: float = 8.0
    gyr_range_dps: float = 2000.0
    acc_bias_g: float = 0.02
    acc_scale_err: float = 0.01
    acc_noise_g: float = 0.008
    acc_lsb_g: float = 0.001
    gyr_bias_dps: float = 1.0
    gyr_bias_walk_dps: float = 0.02
    gyr_scale_err: float = 0.01
    gyr_noise_dps: float = 0.3
    gyr_lsb_dps: float = 0.07
    loss_fraction: float = 0.0
    loss_burst_samples: int = 10
    jitter_s: float = 0.0
    time_offset_s: float = 0.0
    clock_drift_ppm: float = 0.0
    jitter_kind: str = "gaussian"
    jitter_max_period: float = 0.4
    notify_rows: int = 0
    notify_rows_var: int = 0
    notify_latency_s: float = 0.0
    notify_spread_s: float = 0.0
    duplicate_rows: int = 0
    swapped_pairs: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fs_hz) and 0 < self.fs_hz <= 500):
            raise ValueError(f"fs_hz must be in (0, 500] (the dense grid is 1 kHz), got {self.fs_hz!r}")
        non_negative = (
            "acc_bias_g acc_scale_err acc_noise_g acc_lsb_g gyr_bias_dps gyr_bias_walk_dps "
            "gyr_scale_err gyr_noise_dps gyr_lsb_dps jitter_s"
        ).split()
        for name in non_negative:
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        for name in ("acc_range_g", "gyr_range_dps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0.0 <= self.loss_fraction < 1.0:
            raise ValueError(f"loss_fraction must be in [0, 1), got {self.loss_fraction!r}")
        if self.loss_burst_samples < 1:
            raise ValueError(f"loss_burst_samples must be >= 1, got {self.loss_burst_samples!r}")
        if not (np.isfinite(self.time_offset_s) and np.isfinite(self.clock_drift_ppm)):
            raise ValueError("time_offset_s and clock_drift_ppm must be finite")
        if abs(self.clock_drift_ppm) >= 1e4:
            raise ValueError(f"clock_drift_ppm must be within +-1e4, got {self.clock_drift_ppm!r}")
        self._check_timing()

    def _check_timing(self) -> None:
        if self.jitter_kind not in ("gaussian", "uniform"):
            raise ValueError(f"jitter_kind must be 'gaussian' or 'uniform', got {self.jitter_kind!r}")
        if not 0.0 <= self.jitter_max_period < 0.5:
            raise ValueError(f"jitter_max_period must be in [0, 0.5), got {self.jitter_max_period!r}")
        for name in ("notify_rows", "notify_rows_var", "duplicate_rows", "swapped_pairs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.notify_rows and self.notify_rows_var >= self.notify_rows:
            raise ValueError("notify_rows_var must be smaller than notify_rows")
        for name in ("notify_latency_s", "notify_spread_s"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")

    @classmethod
    def polar_h10(cls, fs_hz: float = 200.0) -> SensorModel:
        """Polar H10 chest strap: accelerometer only, +-8 g, 16-bit mG samples (25/50/100/200 Hz)."""
        return cls(fs_hz=fs_hz, has_gyro=False, acc_range_g=8.0, acc_bias_g=0.02, acc_noise_g=0.006, acc_lsb_g=0.001)

    @classmethod
    def verity_sense(cls, fs_hz: float = 52.0) -> SensorModel:
        """Polar Verity Sense (default mode): acc +-8 g in mG; gyro +-2000 deg/s, 16-bit (0.061 dps LSB)."""
        return cls(
            fs_hz=fs_hz,
            acc_range_g=8.0,
            acc_lsb_g=0.001,
            gyr_range_dps=2000.0,
            gyr_lsb_dps=2000.0 / 32768.0,
            gyr_bias_dps=1.0,
            gyr_noise_dps=0.3,
        )

    @classmethod
    def metamotion(cls, fs_hz: float = 100.0) -> SensorModel:
        """MbientLab MetaMotion (BMI160/BMI270): acc +-16 g (2048 LSB/g); gyro +-2000 deg/s (16.4 LSB/dps)."""
        return cls(
            fs_hz=fs_hz,
            acc_range_g=16.0,
            acc_bias_g=0.015,
            acc_noise_g=0.004,
            acc_lsb_g=1.0 / 2048.0,
            gyr_range_dps=2000.0,
            gyr_lsb_dps=1.0 / 16.4,
            gyr_bias_dps=0.5,
            gyr_noise_dps=0.1,
        )

    @classmethod
    def ideal(cls, fs_hz: float, has_gyro: bool = True) -> SensorModel:
        """No errors, no quantisation, no clipping to speak of (+-1000 g / 1e6 deg/s), no loss."""
        return cls(
            fs_hz=fs_hz,
            has_gyro=has_gyro,
            acc_range_g=1000.0,
            gyr_range_dps=1e6,
            acc_bias_g=0.0,
            acc_scale_err=0.0,
            acc_noise_g=0.0,
            acc_lsb_g=0.0,
            gyr_bias_dps=0.0,
            gyr_bias_walk_dps=0.0,
            gyr_scale_err=0.0,
            gyr_noise_dps=0.0,
            gyr_lsb_dps=0.0,
        )


@dataclass(frozen=True, eq=False)
class SensorErrors:
    """The errors drawn for one simulated device (per axis, sensor frame).

    ``acc_bias_g`` (3,), ``acc_scale`` (3,) multiplicative ``1 + e``;
    ``gyr_bias_dps`` (3,) the constant part of the gyro bias and
    ``gyr_bias_walk_dps`` (m, 3) its random-walk part at each kept row;
    ``gyr_scale`` (3,).  Gyro fields are None without a gyro.
    """

    acc_bias_g: FloatArray
    acc_scale: FloatArray
    gyr_bias_dps: FloatArray | None = None
    gyr_scale: FloatArray | None = None
    gyr_bias_walk_dps: FloatArray | None = None


@dataclass(frozen=True, eq=False)
class SampledSignals:
    """What :func:`sample_signals` produced.

    ``samples`` is the device output; ``device_index`` (m,) the device's
    sample counter of each kept row (gaps show the lost rows);
    ``true_time_s`` (m,) the true sampling instants on the dense grid's
    time axis (no offset, no jitter); ``errors`` the drawn errors.
    """

    samples: ImuSamples
    device_index: NDArray[np.int64]
    true_time_s: FloatArray
    errors: SensorErrors


def _boxcar_sample(t_s: FloatArray, x: FloatArray, at_s: FloatArray, width_s: float) -> FloatArray:
    """Average of ``x`` (n, k) over ``[at - w/2, at + w/2]`` via its running (trapezoid) integral."""
    dt = np.diff(t_s)[:, None]
    integral = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(0.5 * (x[1:] + x[:-1]) * dt, axis=0)])
    lo, hi = at_s - 0.5 * width_s, at_s + 0.5 * width_s
    cols = [np.interp(hi, t_s, integral[:, j]) - np.interp(lo, t_s, integral[:, j]) for j in range(x.shape[1])]
    return np.stack(cols, axis=1) / width_s


def _quantise_clip(x: FloatArray, lsb: float, rng_max: float) -> FloatArray:
    if lsb > 0:
        x = np.round(x / lsb) * lsb
    return np.clip(x, -rng_max, rng_max)


def _keep_mask(n: int, fraction: float, burst: int, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Rows kept by a good/lost Markov chain with lost fraction ``fraction`` and mean burst ``burst``."""
    keep = np.ones(n, dtype=bool)
    if fraction <= 0.0 or n == 0:
        return keep
    mean_good = burst * (1.0 - fraction) / fraction
    p_good, p_bad = min(1.0, 1.0 / max(mean_good, 1e-9)), 1.0 / burst
    # Draw alternating run lengths in blocks until they cover n rows.
    pos = int(rng.geometric(p_good) * rng.random())  # start somewhere inside a good run
    while pos < n:
        m = max(16, int(2 * n / (mean_good + burst)) + 1)
        bad, good = rng.geometric(p_bad, m), rng.geometric(p_good, m)
        starts = pos + np.concatenate([[0], np.cumsum(bad + good)[:-1]])
        for s0, b in zip(starts, bad, strict=True):
            if s0 >= n:
                break
            keep[s0 : s0 + b] = False
        pos = int(starts[-1] + bad[-1] + good[-1])
    return keep


def sample_signals(
    t_s: FloatArray,
    acc_g: FloatArray,
    gyr_dps: FloatArray | None,
    model: SensorModel,
    seed: np.random.SeedSequence,
) -> SampledSignals:
    """Sample dense ideal signals like ``model`` would.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Dense time grid (uniform), seconds from the session start.
    acc_g : ndarray, shape (n, 3)
        Ideal specific force, sensor axes, g.
    gyr_dps : ndarray, shape (n, 3) or None
        Ideal angular rate, sensor axes, deg/s (ignored unless ``model.has_gyro``).
    model : SensorModel
        The device.
    seed : numpy.random.SeedSequence
        Root of the per-impairment random streams.

    Returns
    -------
    SampledSignals
    """
    rs = [np.random.default_rng(s) for s in seed.spawn(9)]
    fs_true = model.fs_hz * (1.0 + model.clock_drift_ppm * 1e-6)
    width = 1.0 / fs_true
    first = float(t_s[0]) + 0.5 * width
    n = int(np.floor((float(t_s[-1]) - 0.5 * width - first) * fs_true)) + 1
    k = np.arange(max(n, 0))
    t_true = first + k / fs_true

    acc_scale = 1.0 + model.acc_scale_err * rs[0].standard_normal(3)
    acc_bias = model.acc_bias_g * rs[0].standard_normal(3)
    acc = _boxcar_sample(t_s, acc_g, t_true, width) * acc_scale + acc_bias
    acc += model.acc_noise_g * rs[1].standard_normal(acc.shape)
    acc = _quantise_clip(acc, model.acc_lsb_g, model.acc_range_g)

    gyr = None
    gyr_scale = gyr_bias = walk = None
    if model.has_gyro and gyr_dps is not None:
        gyr_scale = 1.0 + model.gyr_scale_err * rs[2].standard_normal(3)
        gyr_bias = model.gyr_bias_dps * rs[2].standard_normal(3)
        walk = np.cumsum(model.gyr_bias_walk_dps * np.sqrt(width) * rs[3].standard_normal((k.size, 3)), axis=0)
        gyr = _boxcar_sample(t_s, gyr_dps, t_true, width) * gyr_scale + gyr_bias + walk
        gyr += model.gyr_noise_dps * rs[4].standard_normal(gyr.shape)
        gyr = _quantise_clip(gyr, model.gyr_lsb_dps, model.gyr_range_dps)

    keep = _keep_mask(k.size, model.loss_fraction, model.loss_burst_samples, rs[5])
    # The device counts nominal periods: its clock runs (1 + ppm) fast against true time.
    device_s = model.time_offset_s + t_true * (fs_true / model.fs_hz)
    if model.notify_rows > 0:
        # A phone stamps on its own clock: the device's drift shows in the stamps.
        reported = _arrival_stamps(model.time_offset_s + t_true, model, rs[7])
    else:
        reported = device_s + _jitter(k.size, model, rs[6])

    samples = ImuSamples(reported[keep], acc[keep], None if gyr is None else gyr[keep])
    errors = SensorErrors(
        acc_bias_g=acc_bias,
        acc_scale=acc_scale,
        gyr_bias_dps=gyr_bias,
        gyr_scale=gyr_scale,
        gyr_bias_walk_dps=None if walk is None else walk[keep],
    )
    index = k[keep].astype(np.int64)
    order = _file_faults(len(samples), model, rs[8])
    if order is not None:
        g = samples.gyr_dps
        samples = ImuSamples(samples.time_s[order], samples.acc_g[order], None if g is None else g[order])
        index = index[order]
        t_kept = t_true[keep][order]
        walk_kept = None if walk is None else walk[keep][order]
        errors = dataclasses.replace(errors, gyr_bias_walk_dps=walk_kept)
        return SampledSignals(samples, index, t_kept, errors)
    return SampledSignals(samples, index, t_true[keep], errors)


def _jitter(n: int, model: SensorModel, rng: np.random.Generator) -> FloatArray:
    """Reported-time jitter of each sample, s."""
    lim = model.jitter_max_period / model.fs_hz
    if model.jitter_kind == "uniform":
        return np.clip(rng.uniform(-model.jitter_s, model.jitter_s, n), -lim, lim)
    return np.clip(model.jitter_s * rng.standard_normal(n), -lim, lim)


def _arrival_stamps(host_s: FloatArray, model: SensorModel, rng: np.random.Generator) -> FloatArray:
    """Stamps of a phone logger: every row of a notification gets (about) its arrival time, s."""
    n = host_s.size
    out = np.empty(n)
    pos = 0
    while pos < n:
        var = model.notify_rows_var
        size = model.notify_rows + (int(rng.integers(-var, var + 1)) if var else 0)
        stop = min(n, pos + size)
        arrival = host_s[stop - 1] + rng.uniform(0.0, model.notify_latency_s)
        spread = np.sort(rng.uniform(0.0, model.notify_spread_s, stop - pos)) if model.notify_spread_s else 0.0
        out[pos:stop] = arrival + spread
        pos = stop
    # A notification arriving early cannot be stamped before the one before it.
    return np.maximum.accumulate(out)


def _file_faults(n: int, model: SensorModel, rng: np.random.Generator) -> NDArray[np.int64] | None:
    """Row order with duplicated rows and swapped neighbours (None: none asked for)."""
    if not (model.duplicate_rows or model.swapped_pairs) or n < 4:
        return None
    order = np.arange(n)
    swaps = rng.choice(np.arange(1, n - 2, 3), size=min(model.swapped_pairs, (n - 3) // 3), replace=False)
    for i in swaps:  # pairs spaced at least three rows apart never overlap
        order[i], order[i + 1] = order[i + 1], order[i]
    dups = np.sort(rng.choice(n, size=min(model.duplicate_rows, n), replace=False))
    return np.insert(order, dups + 1, order[dups])
