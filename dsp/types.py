"""Typed values passed between pipeline stages.

Everything here is a frozen dataclass: inputs (:class:`ImuSamples`), the
analysis settings (:class:`~hipflex.dsp.analysis_settings.Settings`) and the results (:class:`Rep`,
:class:`RepSet`, :class:`Quality`, :class:`Analysis`).  The JSON contract of
``hipflex analyze`` is :meth:`Analysis.to_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.set_description import SetDescription

__all__ = [
    "REP_COLUMNS",
    "SCHEMA",
    "SET_COLUMNS",
    "UNRELIABLE_REST_MISMATCH_DEG",
    "Analysis",
    "Gap",
    "GyroFrameCheck",
    "ImuSamples",
    "Quality",
    "Rejection",
    "Rep",
    "RepSet",
    "Walk",
]

SCHEMA = "hipflex.analysis/2"

FloatArray = NDArray[np.float64]

#: Columns of the per-rep table (:meth:`Analysis.rep_columns`) and their kinds (int, float, str).
#: Numbers are 1-based (``set_number``, ``rep_number``: what people and the CLI tables see; the JSON
#: contract's ``index`` fields count from 0); ``drill`` is the set's drill once the analysis names one.
REP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "str"), ("set_number", "int"), ("rep_number", "int"), ("rep_number_in_recording", "int"),
    ("drill", "str"), ("start_s", "float"), ("peak_s", "float"), ("end_s", "float"),
    ("peak_flexion_deg", "float"), ("rom_deg", "float"), ("flexion_time_s", "float"),
    ("peak_flexion_velocity_dps", "float"), ("mean_flexion_velocity_dps", "float"), ("hold_s", "float"),
    ("confidence", "float"),
)  # fmt: skip
#: Columns of the per-set table (:meth:`Analysis.set_columns`): the set's contract fields, then means
#: and bests over its measured reps, each named for what it is (``mean_``, ``best_``, ``longest_``).
SET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "str"), ("set_number", "int"), ("drill", "str"), ("start_s", "float"), ("end_s", "float"),
    ("duration_s", "float"), ("rep_count", "int"), ("measured_rep_count", "int"), ("hidden_rep_count", "int"),
    ("cadence_rpm", "float"), ("velocity_loss_pct", "float"),
    ("mean_peak_flexion_deg", "float"), ("best_peak_flexion_deg", "float"),
    ("mean_rom_deg", "float"), ("best_rom_deg", "float"),
    ("mean_peak_flexion_velocity_dps", "float"), ("best_peak_flexion_velocity_dps", "float"),
    ("mean_flexion_time_s", "float"), ("best_flexion_time_s", "float"),
    ("mean_hold_s", "float"), ("longest_hold_s", "float"), ("mean_confidence", "float"),
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ImuSamples:
    """A block of timestamped IMU samples from one sensor.

    Parameters
    ----------
    time_s : ndarray, shape (n,)
        Sample times in seconds, any origin, non-decreasing (rows stamped
        together on arrival may share a time).  Gaps (lost
        samples) and jitter are allowed; the core reconstructs the timeline.
    acc_g : ndarray, shape (n, 3)
        Specific force in g (1 g = 9.80665 m/s^2), sensor frame.
    gyr_dps : ndarray, shape (n, 3) or None
        Angular rate in degrees per second, sensor frame; ``None`` for
        accelerometer-only sensors such as the Polar H10.

    Notes
    -----
    Arrays are converted to contiguous float64 on construction.  NaN marks a
    dropped value; a row with any NaN in ``acc_g`` is treated as lost.
    """

    time_s: FloatArray
    acc_g: FloatArray
    gyr_dps: FloatArray | None = None

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.time_s, dtype=np.float64).reshape(-1)
        a = np.ascontiguousarray(self.acc_g, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"acc_g must have shape (n, 3), got {a.shape}")
        if a.shape[0] != t.shape[0]:
            raise ValueError(f"acc_g has {a.shape[0]} rows but time_s has {t.shape[0]}")
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "acc_g", a)
        if self.gyr_dps is not None:
            g = np.ascontiguousarray(self.gyr_dps, dtype=np.float64)
            if g.shape != a.shape:
                raise ValueError(f"gyr_dps must have shape {a.shape}, got {g.shape}")
            object.__setattr__(self, "gyr_dps", g)

    def __len__(self) -> int:
        return int(self.time_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        """True when angular rate is present."""
        return self.gyr_dps is not None

    def slice(self, start: int, stop: int) -> ImuSamples:
        """Rows ``start:stop`` as a new block (views, no copy)."""
        g = None if self.gyr_dps is None else self.gyr_dps[start:stop]
        return ImuSamples(self.time_s[start:stop], self.acc_g[start:stop], g)


@dataclass(frozen=True)
class Rep:
    """One hip-flexion rep; times in the input's own time base.

    Attributes
    ----------
    index : int
        Position of the rep within its set (0-based).
    start_s, peak_s, end_s : float
        Onset of the rise, maximum of theta, and return, seconds.
    peak_flexion_deg : float
        Flexion angle at the peak, degrees.
    rom_deg : float
        Peak angle minus the low the rise started from, degrees.
    flexion_time_s : float
        Time from 10 % to 90 % of the rise, seconds.
    peak_flexion_velocity_dps, mean_flexion_velocity_dps : float
        Largest d(theta)/dt between start and peak, and rom / (peak - start),
        deg/s.
    hold_s : float
        Time within ``hold_band_deg`` of the peak between start and end, s.
    confidence : float
        0..1; lowered by interpolated or clipped samples inside the rep and,
        for accelerometer-only sensors, by the filter's angle uncertainty.
    """

    index: int
    start_s: float
    peak_s: float
    end_s: float
    peak_flexion_deg: float
    rom_deg: float
    flexion_time_s: float
    peak_flexion_velocity_dps: float
    mean_flexion_velocity_dps: float
    hold_s: float
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping in contract field order."""
        return {
            "index": self.index,
            "start_s": _r(self.start_s, 4),
            "peak_s": _r(self.peak_s, 4),
            "end_s": _r(self.end_s, 4),
            "peak_flexion_deg": _r(self.peak_flexion_deg, 2),
            "rom_deg": _r(self.rom_deg, 2),
            "flexion_time_s": _r(self.flexion_time_s, 4),
            "peak_flexion_velocity_dps": _r(self.peak_flexion_velocity_dps, 1),
            "mean_flexion_velocity_dps": _r(self.mean_flexion_velocity_dps, 1),
            "hold_s": _r(self.hold_s, 3),
            "confidence": _r(self.confidence, 3),
        }


@dataclass(frozen=True)
class RepSet:
    """A run of reps separated by less than ``set_gap_s``.

    ``cadence_rpm`` is 60 (n - 1) / (last peak - first peak), ``None`` for a
    single rep; ``velocity_loss_pct`` is (fastest - last) / fastest * 100 on
    peak flexion velocity.  ``hidden_peaks_s`` are the estimated peak times,
    s, of swings that lost packets hid completely, inferred from the set's
    tempo (see :mod:`hipflex.dsp.sets`); they count in ``rep_count`` and
    ``cadence_rpm`` but have no entry in ``reps`` (nothing was measured).
    ``description`` (schema 2) names the set's drill, pose and movement
    (:mod:`hipflex.dsp.posture`); it is added when the set closes (a live
    ``SetEvent`` carries it) and never changes a count; the set still open
    in a provisional result has none until the result is built.
    """

    index: int
    start_s: float
    end_s: float
    cadence_rpm: float | None
    velocity_loss_pct: float
    reps: tuple[Rep, ...]
    hidden_peaks_s: tuple[float, ...] = ()
    # Derived from the finished set, never part of what makes two sets equal (an open set has none yet).
    description: SetDescription | None = field(default=None, compare=False)

    @property
    def rep_count(self) -> int:
        """Reps in the set: the measured ones plus those hidden in gaps."""
        return len(self.reps) + len(self.hidden_peaks_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping in contract field order."""
        return {
            "index": self.index,
            "start_s": _r(self.start_s, 4),
            "end_s": _r(self.end_s, 4),
            "rep_count": self.rep_count,
            "cadence_rpm": None if self.cadence_rpm is None else _r(self.cadence_rpm, 2),
            "velocity_loss_pct": _r(self.velocity_loss_pct, 2),
            "hidden_peaks_s": [_r(t, 4) for t in self.hidden_peaks_s],
            "drill": None if self.description is None else self.description.to_dict(),
            "reps": [r.to_dict() for r in self.reps],
        }


@dataclass(frozen=True)
class Gap:
    """A stretch of lost samples found from the time column, seconds."""

    start_s: float
    end_s: float
    bridged: bool

    @property
    def duration_s(self) -> float:
        """Length of the gap, seconds."""
        return self.end_s - self.start_s


def _drill_name(s: RepSet) -> str | None:
    """The set's drill name for the tables (``None`` for a set built without a description)."""
    return None if s.description is None else s.description.drill


@dataclass(frozen=True)
class Walk:
    """A run of swings classified as walking (see :mod:`hipflex.dsp.gait`); its steps are not reps.

    ``start_s`` is the start of its first counted step, ``end_s`` the end of
    its last, s; ``strides`` counts every forward swing of the instrumented
    thigh in it, including those too small to be reps.
    """

    start_s: float
    end_s: float
    strides: int

    @property
    def duration_s(self) -> float:
        """Length of the walk, seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Rejection:
    """A candidate excursion that did not become a rep, and why.

    ``reason`` is one of ``rom_below_min`` (rose at least ``candidate_deg``
    but less than ``min_rom_deg``), ``gap`` (a long gap interrupted it),
    ``too_long`` (longer than the angle history), ``unfinished`` (the stream
    ended in the rise), ``walking`` (a step of a walk, :mod:`hipflex.dsp.gait`;
    ``time_s`` is its peak), ``rested`` (the rise ended in a rest and never came
    back down: the motion after the rest began a new rise, or the pause
    reached ``set_gap_s`` somewhere other than held at the top, as a stretch
    is) or ``contract:<kind>`` (the rep broke an invariant
    of the analysis contract, :mod:`hipflex.dsp.contract`; withheld, with a
    logged warning).
    """

    time_s: float
    reason: str
    rom_deg: float


#: Beyond this ``Quality.rest_mismatch_deg`` the angles are not to be trusted, deg.
#: Sound sensors: simulated sessions without lost packets stay below 9, the
#: Eurobench thigh units of subjects 01/02 below 3; the faulty one of 03 reads 28.
UNRELIABLE_REST_MISMATCH_DEG = 15.0


@dataclass(frozen=True, eq=False)
class GyroFrameCheck:
    """Whether the gyro turns gravity the way the accelerometer sees it turn (see ``dsp.gyro_frame``).

    Attributes
    ----------
    verdict : str
        ``consistent`` (the gyro as given fits), ``corrected`` (one
        correction clearly fits better and was applied to every row),
        ``mismatch`` (the gyro as given fits badly and no correction clearly
        fits: the angles are not to be trusted) or ``too_little_motion``
        (gravity did not turn far enough in the learning phase to judge).
    correction : str or None
        What was corrected, e.g. ``"z axis mirrored"``, ``"scaled x0.62"``,
        ``"rad/s read as deg/s (x57.3)"``; None unless corrected.
    matrix : ndarray, shape (3, 3)
        The correction applied: ``rate_used = matrix @ rate_given``.
    residual_deg : float
        RMS angle between the gravity direction propagated with the gyro as
        given and the accelerometer's, both low-passed, over the learning
        phase, deg.
    corrected_residual_deg : float
        The same for the best correction found (equal to ``residual_deg``
        when it is consistent or not judged), deg.
    motion_deg : float
        Largest turn of the accelerometer's low-passed gravity direction
        from the calibration stand over those rows, deg.
    lever : ndarray or None, shape (3,)
        Unit lever of the rigid model fitted over those rows (pivot to
        sensor, sensor frame: the thigh's long axis as the strap holds it),
        None where the gyro is not trusted or the fit leaves it unclear
        (``dsp.gyro_frame.lever_direction``).  Not in the JSON: the drill
        naming reads it (``SetFeatures.lever_up_cos``).
    """

    verdict: Literal["consistent", "corrected", "mismatch", "too_little_motion"]
    correction: str | None
    matrix: FloatArray
    residual_deg: float
    corrected_residual_deg: float
    motion_deg: float
    lever: FloatArray | None = None

    def __eq__(self, other: object) -> bool:
        """Field by field (the matrix element-wise), so that equal analyses compare equal."""
        if not isinstance(other, GyroFrameCheck):
            return NotImplemented
        return (
            (self.verdict, self.correction) == (other.verdict, other.correction)
            and np.array_equal(self.matrix, other.matrix)
            and (self.lever is None) == (other.lever is None)
            and (self.lever is None or other.lever is None or np.array_equal(self.lever, other.lever))
            and np.array_equal(
                [self.residual_deg, self.corrected_residual_deg, self.motion_deg],
                [other.residual_deg, other.corrected_residual_deg, other.motion_deg],
                equal_nan=True,
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (the matrix as a list of rows)."""
        return {
            "verdict": self.verdict,
            "correction": self.correction,
            "matrix": [[_r(float(v), 4) for v in row] for row in self.matrix],
            "residual_deg": _r(self.residual_deg, 1),
            "corrected_residual_deg": _r(self.corrected_residual_deg, 1),
            "motion_deg": _r(self.motion_deg, 1),
        }


@dataclass(frozen=True)
class Quality:
    """What the estimate rests on, and what went wrong in the input.

    ``rest_mismatch_deg`` (gyro+acc only, else None) is the largest
    difference between the accelerometer's flexion angle and the reported
    angle on rows where the thigh was at rest, deg.  A sound, firmly strapped
    sensor stays within a few degrees; beyond ``UNRELIABLE_REST_MISMATCH_DEG``
    the gyro's turns do not match the accelerometer's (a gyro scale error, or
    a sensor turning in its strap), and the angles are not to be trusted
    though the counts may be.

    ``gyro_frame`` (gyro+acc only, once learned, else None) says whether
    the gyro's frame agreed with the accelerometer's and what correction,
    if any, was applied to it; ``gyro_correction`` is its short text.

    The rest pose comes from the first window of ``calib_still_s`` that meets
    the stillness thresholds (``calibration`` "quiet window"); if none does
    within ``max_learn_s``, from the first quiet window of half or a quarter
    of that ("short quiet window"), else from the quietest full window
    ("quietest window").  ``calibration_window_s`` is the window's length;
    ``calibration_motion`` its largest deviation as a multiple of the
    thresholds (``still_acc_g``, ``still_gyr_dps``): at most 1 for a quiet
    window, the larger the less certain the rest pose and every angle.
    ``calibrated_at_s`` is where the window starts; the rows before it are
    analysed too (``analysed_before_calibration_s`` of them), so
    ``skipped_before_calibration_s`` is 0 once calibrated, and the whole
    recording when nothing could be calibrated (shorter than the window).
    The first still stretch need not be the rest pose (a recording that
    starts lying down, seated, or inside a hold): if over the span the sign
    is confirmed on the thigh comes to rest in a pose more than 45 deg from
    the calibrated one and for ``sign_confirm_s`` does not rest in the
    calibrated pose again, the rest pose is re-learned there (before any
    angle is reported); so it is, later, where the thigh waits between sets
    in another pose (:mod:`hipflex.dsp.rest_pose`: the session is then
    analysed again from its first row); ``recalibrated_from_s`` lists where the windows given
    up started (empty when the first one stood), ``calibrated_at_s`` is the
    window kept, and the rows before it are analysed from it.

    ``walks`` are the runs of swings classified as walking
    (:mod:`hipflex.dsp.gait`): their steps are not reps; each is also listed
    in ``rejections`` with reason ``walking``.

    ``needs_gyro`` names the drills this analysis cannot see, so counts none
    of: without a gyro, standing hip rotation
    (:data:`hipflex.dsp.drill_prototypes.NEEDS_GYRO`: a turn about the
    thigh's own long axis, which stands along gravity, leaves gravity where
    it is in the sensor's frame); empty with a gyro.  A session of them
    recorded without one reports no set rather than reps read from noise.
    """

    gaps: int
    lost_s: float
    clipped_samples: int
    orientation: Literal["gyro+acc", "acc-only"]
    angle_model: str
    calibrated_at_s: float | None
    skipped_before_calibration_s: float
    gap_list: tuple[Gap, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    rest_mismatch_deg: float | None = None
    calibration: Literal["quiet window", "short quiet window", "quietest window"] | None = None
    calibration_window_s: float | None = None
    calibration_motion: float | None = None
    analysed_before_calibration_s: float = 0.0
    gyro_frame: GyroFrameCheck | None = None
    recalibrated_from_s: tuple[float, ...] = ()

    walks: tuple[Walk, ...] = ()
    needs_gyro: tuple[str, ...] = ()

    @property
    def gyro_correction(self) -> str | None:
        """What was corrected in the gyro's frame (e.g. ``"z axis mirrored"``), or None."""
        return None if self.gyro_frame is None else self.gyro_frame.correction

    @property
    def gyro_frame_mismatch(self) -> bool:
        """True when the gyro fits its accelerometer badly and no correction clearly fits."""
        return self.gyro_frame is not None and self.gyro_frame.verdict == "mismatch"

    @property
    def walking_s(self) -> float:
        """Total time classified as walking, seconds."""
        return sum(w.duration_s for w in self.walks)

    @property
    def walking_strides(self) -> int:
        """Forward swings of the instrumented thigh in all walks."""
        return sum(w.strides for w in self.walks)

    @property
    def angles_reliable(self) -> bool:
        """False when ``rest_mismatch_deg`` exceeds ``UNRELIABLE_REST_MISMATCH_DEG``."""
        return self.rest_mismatch_deg is None or self.rest_mismatch_deg <= UNRELIABLE_REST_MISMATCH_DEG

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (contract fields first, then diagnostics)."""
        return {
            "gaps": self.gaps,
            "lost_s": _r(self.lost_s, 3),
            "clipped_samples": self.clipped_samples,
            "orientation": self.orientation,
            "angle_model": self.angle_model,
            "calibrated_at_s": None if self.calibrated_at_s is None else _r(self.calibrated_at_s, 4),
            "skipped_before_calibration_s": _r(self.skipped_before_calibration_s, 3),
            "calibration": self.calibration,
            "calibration_window_s": None if self.calibration_window_s is None else _r(self.calibration_window_s, 3),
            "calibration_motion": None if self.calibration_motion is None else _r(self.calibration_motion, 2),
            "analysed_before_calibration_s": _r(self.analysed_before_calibration_s, 3),
            "recalibrated_from_s": [_r(x, 4) for x in self.recalibrated_from_s],
            "rest_mismatch_deg": None if self.rest_mismatch_deg is None else _r(self.rest_mismatch_deg, 1),
            "gyro_correction": self.gyro_correction,
            "gyro_frame": None if self.gyro_frame is None else self.gyro_frame.to_dict(),
            "walking_s": _r(self.walking_s, 3),
            "walking_strides": self.walking_strides,
            "walks": [{"start_s": _r(w.start_s, 4), "end_s": _r(w.end_s, 4), "strides": w.strides} for w in self.walks],
            "rejected_candidates": [
                {"time_s": _r(r.time_s, 4), "reason": r.reason, "rom_deg": _r(r.rom_deg, 2)} for r in self.rejections
            ],
            "needs_gyro": list(self.needs_gyro),
        }


@dataclass(frozen=True)
class Analysis:
    """The result of analysing one recording."""

    source: str
    settings: Settings
    sample_rate_hz: float
    duration_s: float
    has_gyro: bool
    quality: Quality
    sets: tuple[RepSet, ...]
    version: str = field(default="")

    @property
    def rep_count(self) -> int:
        """Total reps over all sets."""
        return sum(s.rep_count for s in self.sets)

    @property
    def reps(self) -> tuple[Rep, ...]:
        """All reps in time order."""
        return tuple(r for s in self.sets for r in s.reps)

    def to_dict(self) -> dict[str, Any]:
        """The ``hipflex.analysis/2`` JSON document."""
        return {
            "schema": SCHEMA,
            "hipflex_version": self.version,
            "source": self.source,
            "settings": self.settings.to_dict(),
            "sample_rate_hz": _r(self.sample_rate_hz, 3),
            "duration_s": _r(self.duration_s, 3),
            "sensor": {"gyro": self.has_gyro},
            "quality": self.quality.to_dict(),
            "rep_count": self.rep_count,
            "sets": [s.to_dict() for s in self.sets],
        }

    def rep_columns(self) -> dict[str, list[Any]]:
        """The per-rep table as columns (:data:`REP_COLUMNS`), one entry per measured rep, in time order.

        Values are unrounded; NaN marks a metric that could not be computed.  ``set_number`` and
        ``rep_number`` (within its set) count from 1, ``rep_number_in_recording`` over all sets.
        """
        cols: dict[str, list[Any]] = {name: [] for name, _ in REP_COLUMNS}
        n = 0
        for s in self.sets:
            drill = _drill_name(s)
            for r in s.reps:
                n += 1
                row = (self.source, s.index + 1, r.index + 1, n, drill, r.start_s, r.peak_s, r.end_s,
                       r.peak_flexion_deg, r.rom_deg, r.flexion_time_s, r.peak_flexion_velocity_dps,
                       r.mean_flexion_velocity_dps, r.hold_s, r.confidence)  # fmt: skip
                for (name, _), value in zip(REP_COLUMNS, row, strict=True):
                    cols[name].append(value)
        return cols

    def set_columns(self) -> dict[str, list[Any]]:
        """The per-set table as columns (:data:`SET_COLUMNS`), one entry per set, in time order.

        ``set_number`` counts from 1.  The ``mean_*`` columns average the set's measured reps,
        ``best_*`` take the largest (``best_flexion_time_s`` the shortest: the quickest rise),
        ``longest_hold_s`` the longest hold; all NaN for a set whose reps were all hidden in gaps.
        """
        cols: dict[str, list[Any]] = {name: [] for name, _ in SET_COLUMNS}
        for s in self.sets:
            rows = np.array(
                [[r.peak_flexion_deg, r.rom_deg, r.peak_flexion_velocity_dps, r.flexion_time_s, r.hold_s,
                  r.confidence] for r in s.reps], dtype=np.float64,
            ).reshape(-1, 6)  # fmt: skip
            mean, big, small = _column_stats(rows)
            cadence = np.nan if s.cadence_rpm is None else s.cadence_rpm
            row = (self.source, s.index + 1, _drill_name(s), s.start_s, s.end_s, s.end_s - s.start_s,
                   s.rep_count, len(s.reps), len(s.hidden_peaks_s), cadence, s.velocity_loss_pct,
                   mean[0], big[0], mean[1], big[1], mean[2], big[2], mean[3], small[3], mean[4], big[4],
                   mean[5])  # fmt: skip
            for (name, _), value in zip(SET_COLUMNS, row, strict=True):
                cols[name].append(value)
        return cols

    def reps_frame(self) -> Any:
        """:meth:`rep_columns` as a ``pandas.DataFrame`` (pandas, an optional extra, is imported here)."""
        return _frame(self.rep_columns(), REP_COLUMNS)

    def sets_frame(self) -> Any:
        """:meth:`set_columns` as a ``pandas.DataFrame`` (pandas, an optional extra, is imported here)."""
        return _frame(self.set_columns(), SET_COLUMNS)


def _column_stats(rows: FloatArray) -> tuple[list[float], list[float], list[float]]:
    """Per column: mean, max and min over the finite values (NaN where there are none)."""
    out: tuple[list[float], list[float], list[float]] = ([], [], [])
    for k in range(rows.shape[1]):
        v = rows[:, k][np.isfinite(rows[:, k])]
        out[0].append(float(v.mean()) if v.size else np.nan)
        out[1].append(float(v.max()) if v.size else np.nan)
        out[2].append(float(v.min()) if v.size else np.nan)
    return out


def _frame(cols: dict[str, list[Any]], spec: tuple[tuple[str, str], ...]) -> Any:
    """A DataFrame with a fixed dtype per column kind, also when it has no rows.

    pandas is only imported here, when a frame is asked for: the core itself needs numpy alone.
    """
    import pandas as pd

    dtypes = {"int": "int64", "float": "float64", "str": "object"}
    return pd.DataFrame({name: pd.Series(cols[name], dtype=dtypes[kind]) for name, kind in spec})


def _r(x: float, nd: int) -> float | None:
    """Round for JSON; non-finite values become ``None`` (JSON has no NaN)."""
    xf = float(x)
    if not np.isfinite(xf):
        return None
    return round(xf, nd)
