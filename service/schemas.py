"""Pydantic models of the API: request bodies, responses and live stream messages.

Field names, units and rounding follow the analysis contract
(``hipflex.analysis/2``, see :meth:`hipflex.dsp.types.Analysis.to_dict`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.types import UNRELIABLE_REST_MISMATCH_DEG
from hipflex.sensor.sim.plan import Drill
from hipflex.service.devices import DeviceKind
from hipflex.service.live import SessionSpec

#: Largest ``min_rom_deg`` a session or upload may ask for, exclusive: a rep threshold must stay below
#: the flexion the pendulum model allows (the analysis refuses the settings otherwise).
MAX_MIN_ROM_DEG = Settings().pendulum_max_flexion_deg

__all__ = [
    "ADDRESS_PATTERN",
    "MAX_MIN_ROM_DEG",
    "AnalysisOut",
    "AngleMessage",
    "DeviceList",
    "DeviceOut",
    "ErrorOut",
    "FaceNormalAxis",
    "FieldError",
    "GyroFrameOut",
    "HealthOut",
    "QualityOut",
    "RepMessage",
    "RepOut",
    "RepPeakMessage",
    "RepRow",
    "SessionCreate",
    "SessionOut",
    "SessionPage",
    "SetDrillOut",
    "SetMessage",
    "SetOut",
    "SetRow",
    "StatusMessage",
    "StreamMessage",
    "TraceOut",
    "WalkOut",
]

#: A Bluetooth address (``A0:9E:1A:12:34:56``) or a CoreBluetooth UUID (macOS).
ADDRESS_PATTERN = r"^([0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})$"

#: ``Settings.face_normal_axis`` values (see :mod:`hipflex.dsp.mounting_prior`).
FaceNormalAxis = Literal["x", "y", "z", "+x", "+y", "+z", "-x", "-y", "-z"]

LiveState = Literal["calibrating", "running", "gap", "reconnecting", "stopped"]
SessionStatus = Literal["running", "stopped", "failed", "recovered"]

# The simulator's and replay's defaults have one home: the session value the API body becomes.
_SPEC = SessionSpec

_REP_EXAMPLE: dict[str, Any] = {
    "index": 0, "start_s": 12.31, "peak_s": 12.52, "end_s": 13.4, "peak_flexion_deg": 84.1, "rom_deg": 83.0,
    "flexion_time_s": 0.12, "peak_flexion_velocity_dps": 912.0, "mean_flexion_velocity_dps": 520.0,
    "hold_s": 0.31, "confidence": 0.98,
}  # fmt: skip


class FieldError(BaseModel):
    """One validation error."""

    loc: list[str | int] = Field(description="Where: ['body', 'fs_hz'], ['query', 'limit'], ...")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error response: one clear line in ``detail`` (validation errors add ``errors``)."""

    detail: str = Field(examples=["session 'abc' not found"])
    errors: list[FieldError] | None = Field(
        default=None, description="Validation errors (422 only): location, message and type of each."
    )


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"] = "ok"
    version: str = Field(examples=["0.1.0"])
    analysis: Literal["ready", "preparing"] = Field(
        default="ready", description="`preparing` while the server readies the analysis kernels (first start)."
    )


# ---------------------------------------------------------------------------- contract


class RepOut(BaseModel):
    """One rep (contract fields). Times in the input's time base; ``null`` where not computable."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REP_EXAMPLE]})

    index: int = Field(description="Position in its set, 0-based.")
    start_s: float | None = Field(description="Onset of the rise, s.")
    peak_s: float | None = Field(description="Maximum of the flexion angle, s.")
    end_s: float | None = Field(description="Return, s.")
    peak_flexion_deg: float | None = Field(description="Flexion angle at the peak, degrees.")
    rom_deg: float | None = Field(description="Peak minus the low the rise started from, degrees.")
    flexion_time_s: float | None = Field(description="10 % to 90 % of the rise: contraction speed, s.")
    peak_flexion_velocity_dps: float | None = Field(description="Largest dθ/dt on the rise, deg/s.")
    mean_flexion_velocity_dps: float | None = Field(description="rom / (peak - start), deg/s.")
    hold_s: float | None = Field(description="Time within hold_band_deg of the peak, s.")
    confidence: float | None = Field(description="0..1.")


class SetDrillOut(BaseModel):
    """What a set was (schema 2): drill, pose and movement, named from mounting-free features."""

    name: str = Field(description="Best-fitting drill, or 'unknown' when none fits.", examples=["side_lying_abduction"])
    confidence: float | None = Field(description="0..1: the drill's share of the likelihood over all drills.")
    pose: str = Field(description="standing, seated, supine, side, prone, all_fours (or unknown).")
    movement: str = Field(description="flexion, extension, abduction, adduction, rotation (or unknown).")
    pose_candidates: list[str] = Field(description="Every pose the sensor cannot tell apart from the named one.")
    movement_candidates: list[str] = Field(description="Every movement the sensor cannot tell apart.")
    recognised_from: str = Field(description="What the name rests on: lever sign, rep axis, ROM, tempo, holds.")


class SetOut(BaseModel):
    """One set with its reps (contract fields)."""

    index: int
    start_s: float | None
    end_s: float | None
    rep_count: int
    cadence_rpm: float | None = Field(description="60 (n-1) / (last peak - first peak); null for one rep.")
    velocity_loss_pct: float | None = Field(description="(fastest - last) / fastest * 100, peak velocity.")
    hidden_peaks_s: list[float] = Field(
        default_factory=list,
        description="Estimated peak times of swings lost packets hid completely, inferred from the set's tempo; "
        "counted in rep_count and cadence_rpm, absent from reps (nothing was measured).",
    )
    drill: SetDrillOut | None = Field(default=None, description="What the set was (schema 2); never changes a count.")
    reps: list[RepOut]


class RejectedOut(BaseModel):
    """An excursion that did not become a rep."""

    time_s: float | None
    reason: str = Field(examples=["rom_below_min"])
    rom_deg: float | None


class GyroFrameOut(BaseModel):
    """Whether the gyro turned gravity the way the accelerometer saw it turn."""

    verdict: Literal["consistent", "corrected", "mismatch", "too_little_motion"]
    correction: str | None = Field(examples=["z axis mirrored"])
    matrix: list[list[float | None]] = Field(description="correction applied: rate used = matrix @ rate given")
    residual_deg: float | None = Field(description="RMS gravity-direction residual of the gyro as given, deg")
    corrected_residual_deg: float | None = Field(description="the same for the best correction found, deg")
    motion_deg: float | None = Field(description="turn of gravity the verdict rests on, deg")


class WalkOut(BaseModel):
    """A run of swings classified as walking: steps, not reps."""

    start_s: float | None
    end_s: float | None
    strides: int = Field(description="Forward swings of the instrumented thigh in the walk.")


class QualityOut(BaseModel):
    """What the estimate rests on and what went wrong in the input."""

    gaps: int
    lost_s: float | None
    clipped_samples: int
    orientation: Literal["gyro+acc", "acc-only"]
    angle_model: str
    calibrated_at_s: float | None
    skipped_before_calibration_s: float | None = Field(
        default=None, description="s not analysed: 0 once calibrated (the rows before are analysed too)"
    )
    calibration: Literal["quiet window", "short quiet window", "quietest window"] | None = Field(
        default=None, description="what the rest pose rests on: a still window, a shorter one, or none was still"
    )
    calibration_window_s: float | None = None
    calibration_motion: float | None = Field(
        default=None, description="the window's largest deviation / the stillness thresholds (<= 1: still)"
    )
    analysed_before_calibration_s: float | None = None
    recalibrated_from_s: list[float] = Field(
        default_factory=list,
        description="starts of calibration windows given up: the thigh then settled in a clearly different pose, s",
    )
    rest_mismatch_deg: float | None = Field(
        default=None,
        description=(
            "gyro+acc: largest accelerometer-vs-reported angle difference at rest, deg"
            f" (beyond {UNRELIABLE_REST_MISMATCH_DEG:g}: unreliable)"
        ),
    )
    gyro_correction: str | None = Field(
        default=None, description="gyro+acc: what was corrected in the gyro's frame (e.g. 'z axis mirrored'), or null"
    )
    gyro_frame: GyroFrameOut | None = Field(default=None, description="gyro+acc: the gyro-frame check")
    walking_s: float | None = Field(default=0.0, description="Time classified as walking (not reps), s.")
    walking_strides: int = Field(default=0, description="Forward swings of the instrumented thigh in all walks.")
    walks: list[WalkOut] = Field(default_factory=list, description="Runs of swings classified as walking.")
    rejected_candidates: list[RejectedOut]
    needs_gyro: list[str] = Field(
        default_factory=list,
        description="drills this analysis cannot see, so counts none of (acc-only: hip_rotation); empty with a gyro",
    )


class SensorOut(BaseModel):
    """Sensor capabilities."""

    gyro: bool


class AnalysisOut(BaseModel):
    """The ``hipflex.analysis/2`` document, as ``hipflex analyze --json`` prints it."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["hipflex.analysis/2"] = Field(alias="schema")
    hipflex_version: str
    source: str = Field(description="The file as given (CLI), the upload's name, or the session's raw log.")
    settings: dict[str, bool | float | str | None] = Field(
        description="Every analysis setting used, by name (units in names)."
    )
    sample_rate_hz: float | None
    duration_s: float | None
    sensor: SensorOut
    quality: QualityOut
    rep_count: int
    sets: list[SetOut]


# ---------------------------------------------------------------------------- sessions


class SessionCreate(BaseModel):
    """Start a live session.

    ``simulator`` plays a deterministic simulated session (``drill``, ``fs_hz``,
    ``has_gyro``, ``seed``, ``n_sets``); ``replay`` plays a recording
    (``capture_path``, ``format``); both at ``speed`` times real time.
    ``device`` streams a connected sensor (``device_address``).
    """

    model_config = ConfigDict(
        extra="forbid",
        # JSON types as the schema gives them: true/false or "3" are no numbers and 0/1 no booleans
        # (lax parsing took "seed": false as seed 0 and "has_gyro": 0 as false).
        strict=True,
        json_schema_extra={
            "examples": [
                {"source": "simulator", "drill": "ballistic", "fs_hz": 100, "seed": 1, "speed": 1, "side": "left"},
            ]
        },
    )

    source: Literal["simulator", "replay", "device"]
    drill: Drill = Field(default=_SPEC.drill, description="Simulator drill.")
    fs_hz: float = Field(default=_SPEC.fs_hz, ge=10.0, le=500.0, description="Simulator sample rate, Hz.")
    has_gyro: bool = Field(default=_SPEC.has_gyro, description="Simulated sensor has a gyro.")
    seed: int = Field(default=_SPEC.seed, ge=0, le=2**32 - 1, description="Simulator seed (same seed, same samples).")
    n_sets: int = Field(default=_SPEC.n_sets, ge=1, le=6, description="Simulator: number of sets.")
    capture_path: str | None = Field(
        default=None, min_length=1, max_length=4096,
        description="Replay: the recording (relative paths are in the server's capture folder), for example "
        '{"source": "replay", "capture_path": "session.csv", "speed": 10} once session.csv is there.',
    )  # fmt: skip
    format: str = Field(
        default=_SPEC.format, max_length=32, pattern=r"^[a-z0-9_-]+$", description="Replay file format."
    )
    speed: float = Field(default=_SPEC.speed, ge=0.01, le=1000.0, description="Playback speed, times real time.")
    device_address: str | None = Field(default=None, pattern=ADDRESS_PATTERN, description="Device sessions.")
    label: str | None = Field(default=None, max_length=200)
    side: Literal["left", "right"] | None = None
    min_rom_deg: float | None = Field(
        default=None, ge=1.0, lt=MAX_MIN_ROM_DEG, description="Override: smallest rep, deg."
    )
    set_gap_s: float | None = Field(default=None, gt=0.0, le=3600.0, description="Override: set pause, s.")
    face_normal_axis: FaceNormalAxis | None = Field(
        default=None,
        description="Naming only, never a count: the sensor is strapped flat on the thigh and this device axis is "
        "normal to its face (z for Polar Verity Sense / H10 and MetaMotion; +z / -z when that sense points out "
        "of the skin); stored with the session's settings.",
    )
    sensor_placement: Literal["front", "lateral"] | None = Field(
        default=None,
        description="Naming only, with face_normal_axis (the session's or the server's): front or outer side of "
        "the thigh.",
    )
    sensor_leg: Literal["right", "left"] | None = Field(
        default=None, description="Naming only, with a signed face_normal_axis: the leg the sensor is on (422 without)."
    )

    @model_validator(mode="after")
    def _source_fields(self) -> SessionCreate:
        if self.source == "replay" and not self.capture_path:
            raise ValueError("a replay session needs capture_path")
        if self.source == "device" and not self.device_address:
            raise ValueError("a device session needs device_address")
        return self


class SessionOut(BaseModel):
    """A session's summary."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2c9a1e5b7d4c08a1e2f3a4b5c6d7e8", "status": "running", "live_state": "running",
                    "source": "simulator", "label": "left thigh", "side": "left", "device_address": None,
                    "params": {"source": "simulator", "drill": "ballistic", "fs_hz": 100.0, "seed": 1, "speed": 1.0},
                    "created_at": "2026-05-02T10:00:00.000Z", "started_at": "2026-05-02T10:00:00.000Z",
                    "ended_at": None, "rep_count": 12, "set_count": 1, "sample_count": 2400,
                    "first_sample_s": 0.005, "last_sample_s": 24.0, "sample_rate_hz": None, "quality": None,
                    "settings": {"min_rom_deg": 20.0, "set_gap_s": 8.0}, "hipflex_version": "0.1.0",
                    "raw_log": "3f2c9a1e5b7d4c08a1e2f3a4b5c6d7e8.csv",
                    "error": None,
                }
            ]
        }
    )  # fmt: skip

    id: str = Field(examples=["3f2c9a1e5b7d4c08a1e2f3a4b5c6d7e8"])
    status: SessionStatus = Field(description="running, stopped, failed, or recovered (after a server crash).")
    live_state: LiveState | None = Field(description="While running: what the stream is doing now.")
    source: Literal["simulator", "replay", "device"]
    label: str | None
    side: Literal["left", "right"] | None
    device_address: str | None
    params: dict[str, Any] = Field(description="The request that started the session.")
    created_at: str
    started_at: str | None
    ended_at: str | None
    rep_count: int
    set_count: int
    sample_count: int
    first_sample_s: float | None
    last_sample_s: float | None
    sample_rate_hz: float | None
    quality: QualityOut | None = Field(description="From the final analysis (null while running).")
    settings: dict[str, bool | float | str | None] = Field(description="Analysis settings used (provenance).")
    hipflex_version: str
    raw_log: str = Field(description="File name of the raw sample log (plain hipflex CSV) in the capture folder.")
    error: str | None


class SessionPage(BaseModel):
    """A page of sessions, newest first."""

    items: list[SessionOut]
    total: int
    limit: int
    offset: int


class SetRow(BaseModel):
    """A set summary; ``closed`` is false for the set in progress."""

    index: int
    start_s: float | None
    end_s: float | None
    rep_count: int
    cadence_rpm: float | None
    velocity_loss_pct: float | None
    hidden_peaks_s: list[float] = Field(default_factory=list, description="See SetOut.hidden_peaks_s.")
    drill: SetDrillOut | None = Field(
        default=None, description="See SetOut.drill; null while the set is open (it is named when a result is built)."
    )
    closed: bool


class TraceOut(BaseModel):
    """A stored session's flexion angle, downsampled (``GET /sessions/{id}/trace``)."""

    t: list[float] = Field(description="Row times, s (the recording's clock, as ``peak_s`` of the reps).")
    deg: list[float | None] = Field(description="Thigh flexion angle, deg; null where unknown (lost rows).")
    source_rows: int = Field(ge=0, description="Rows in the raw log the trace was computed from.")


_SET_NUMBER = Field(ge=1, description="The rep's set, counted from 1 (``set_index + 1``).")
_REP_NUMBER = Field(ge=1, description="The rep in its set, counted from 1 (``rep.index + 1``).")
_REP_NUMBER_IN_SESSION = Field(ge=1, description="The rep in the session, counted from 1 (``number + 1``).")


class RepRow(RepOut):
    """A rep with its position in the session: 0-based positions and the 1-based numbers people read."""

    set_index: int = Field(ge=0, description="The rep's set, position from 0.")
    number: int = Field(ge=0, description="The rep's position in the session, from 0.")
    set_number: int = _SET_NUMBER
    rep_number: int = _REP_NUMBER
    rep_number_in_session: int = _REP_NUMBER_IN_SESSION


# ---------------------------------------------------------------------------- devices


class DeviceOut(BaseModel):
    """A Bluetooth sensor; ``battery_pct`` and ``connected`` are live while the server talks to it."""

    address: str = Field(examples=["A0:9E:1A:12:34:56"])
    name: str | None = Field(examples=["Polar Sense 12345678"])
    kind: DeviceKind
    rssi_dbm: int | None
    connected: bool
    battery_pct: int | None
    last_seen: str | None


class DeviceList(BaseModel):
    """Devices."""

    items: list[DeviceOut]


# ---------------------------------------------------------------------------- stream messages


class _Msg(BaseModel):
    seq: int = Field(description="Increasing per session; resume with after_seq / Last-Event-ID.")


class AngleMessage(_Msg):
    """Flexion angle, decimated to about 25 Hz (``null`` before calibration and for lost rows)."""

    type: Literal["angle"]
    t: list[float] = Field(description="Sample times, s (input time base).")
    deg: list[float | None] = Field(description="Flexion angle, degrees.")


class RepPeakMessage(_Msg):
    """A peak was confirmed; the full rep follows as ``rep``."""

    type: Literal["rep_peak"]
    number: int = Field(ge=0, description="The rep's position in the session, from 0.")
    rep_number_in_session: int = _REP_NUMBER_IN_SESSION
    peak_s: float | None
    peak_flexion_deg: float | None
    rom_deg: float | None
    received_at: float | None = Field(description="Host time (Unix s) of the chunk that confirmed it.")


class RepMessage(_Msg):
    """A completed rep."""

    type: Literal["rep"]
    set_index: int = Field(ge=0, description="The rep's set, position from 0.")
    number: int = Field(ge=0, description="The rep's position in the session, from 0.")
    set_number: int = _SET_NUMBER
    rep_number: int = _REP_NUMBER
    rep_number_in_session: int = _REP_NUMBER_IN_SESSION
    rep: RepOut
    received_at: float | None
    late: bool = Field(
        default=False, description="began before calibration: analysed only once the rest pose was known"
    )


class SetMessage(_Msg):
    """A set closed."""

    type: Literal["set"]
    set: SetOut
    received_at: float | None


class GapOut(BaseModel):
    """Samples lost between two times."""

    start_s: float
    end_s: float
    bridged: bool


class StatusMessage(_Msg):
    """The stream's state changed (also sent first on connect, and last)."""

    type: Literal["status"]
    state: LiveState
    battery_pct: int | None
    rep_count: int
    phase: Literal["waiting_for_still", "learning_axis", "counting"] | None = Field(
        default=None,
        description="What the analysis is doing: waiting for a still moment (to learn the rest pose), learning "
        "the flexion axis from the first movements, or counting reps (reps made before are counted then).",
    )
    calibrated_at_s: float | None = None
    revised: bool = Field(
        default=False,
        description="The analysis re-learned the rest pose (the thigh waits between sets elsewhere than where it "
        "was first still): every angle, rep and set sent before is void and follows again from the first row.",
    )
    gap: GapOut | None = None
    session_status: SessionStatus | None = Field(default=None, description="With state 'stopped'.")


StreamMessage = Annotated[
    AngleMessage | RepPeakMessage | RepMessage | SetMessage | StatusMessage, Field(discriminator="type")
]
