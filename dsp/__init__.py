"""Numba core: calibration, orientation, thigh angle, reps, sets, metrics.

Public entry points
-------------------
analyze(samples, settings, source) -> Analysis
    Whole-recording analysis (the streaming path run over one chunk).
Pipeline / init_state / step / finish
    The streaming path: ``step(settings, state, chunk) -> (state, events)``.

Only numpy and numba are imported here.
"""

# First: numba imported lean (see the module), before any module of the package imports it.
from hipflex.dsp import _numba_import  # noqa: F401  # isort: skip
from hipflex.dsp.analysis_settings import Settings
from hipflex.dsp.events import (
    AngleBlock,
    CalibratedEvent,
    Event,
    GapEvent,
    RejectionEvent,
    RepEvent,
    RepPeakEvent,
    SetEvent,
)
from hipflex.dsp.pipeline import (
    StreamState,
    analyze,
    analyze_with_angle,
    finish,
    init_state,
    result,
    step,
)
from hipflex.dsp.types import (
    SCHEMA,
    UNRELIABLE_REST_MISMATCH_DEG,
    Analysis,
    Gap,
    ImuSamples,
    Quality,
    Rejection,
    Rep,
    RepSet,
    Walk,
)

__all__ = [
    "SCHEMA",
    "UNRELIABLE_REST_MISMATCH_DEG",
    "Analysis",
    "AngleBlock",
    "CalibratedEvent",
    "Event",
    "Gap",
    "GapEvent",
    "ImuSamples",
    "Quality",
    "Rejection",
    "RejectionEvent",
    "Rep",
    "RepEvent",
    "RepPeakEvent",
    "RepSet",
    "SetEvent",
    "Settings",
    "StreamState",
    "Walk",
    "analyze",
    "analyze_with_angle",
    "finish",
    "init_state",
    "result",
    "step",
]
