"""Live stream messages: pipeline events turned into small JSON-ready dicts.

Every message has a ``type``; the session hub adds ``seq`` (increasing per
session).  The types (documented for clients in the OpenAPI components as
``StreamMessage``):

* ``angle``: ``{"t": [...], "deg": [...]}``, the flexion angle decimated to
  about ``angle_rate_hz`` (``null`` where unknown: before calibration, lost rows);
* ``rep_peak``: a peak was confirmed, metrics follow with ``rep``;
* ``rep``: ``{"set_index", "number", "set_number", "rep_number", "rep_number_in_session",
  "rep": {contract rep fields}}`` (0-based positions, and the same counted from 1 as people read them);
* ``set``: ``{"set": {contract set fields, with its reps}}`` when a set closes;
* ``status``: ``{"state": "calibrating"|"running"|"gap"|"reconnecting"|"stopped",
  "battery_pct", "rep_count", "phase": "waiting_for_still"|"learning_axis"|"counting", ...}``
  (``phase`` is what the analysis is doing, see :func:`hipflex.service.worker.analysis_phase`;
  a status is also sent when it changes while calibrating; ``"revised": true`` with a new
  ``calibrated_at_s`` voids every angle, rep and set sent before: they follow again from the first row).

``rep``, ``rep_peak`` and ``set`` carry ``received_at``: the host time (Unix
seconds) at which the chunk that completed them arrived from the source.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hipflex.dsp.events import (
    AngleBlock,
    CalibratedEvent,
    Event,
    GapEvent,
    RepEvent,
    RepPeakEvent,
    SetEvent,
)
from hipflex.service.store import people_numbers

__all__ = ["AngleDecimator", "event_messages", "status_message"]


def _num(x: float, nd: int) -> float | None:
    return round(float(x), nd) if math.isfinite(x) else None


class AngleDecimator:
    """Keeps the first row of every ``1 / rate_hz`` slot of the angle trace.

    Parameters
    ----------
    rate_hz : float
        Output rate, Hz.
    """

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        self._origin: float | None = None
        self._last_slot = -math.inf

    def __call__(self, block: AngleBlock) -> dict[str, Any] | None:
        """An ``angle`` message for the rows kept from ``block``, or ``None``."""
        t = block.time_s
        if t.size == 0:
            return None
        if self._origin is None:
            self._origin = float(t[0])
        slots = np.floor((t - self._origin) * self.rate_hz)
        keep = np.empty(t.size, dtype=bool)
        keep[0] = True
        keep[1:] = slots[1:] > slots[:-1]
        keep &= slots > self._last_slot
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return None
        self._last_slot = float(slots[idx[-1]])
        deg = block.angle_deg[idx]
        return {
            "type": "angle",
            "t": [round(v, 4) for v in t[idx].tolist()],
            "deg": [None if math.isnan(v) else round(v, 2) for v in deg.tolist()],
        }


def status_message(state: str, battery_pct: int | None, rep_count: int, **extra: Any) -> dict[str, Any]:
    """A ``status`` message."""
    return {"type": "status", "state": state, "battery_pct": battery_pct, "rep_count": rep_count, **extra}


def event_messages(events: list[Event], decimate: AngleDecimator, received_at: float) -> list[dict[str, Any]]:
    """Messages for one chunk's events, in order (calibration and gaps become ``status`` upstream)."""
    out: list[dict[str, Any]] = []
    for e in events:
        if isinstance(e, AngleBlock):
            msg = decimate(e)
            if msg is not None:
                out.append(msg)
        elif isinstance(e, RepPeakEvent):
            out.append({
                "type": "rep_peak",
                "number": e.number,
                "rep_number_in_session": e.number + 1,
                "peak_s": _num(e.peak_s, 4),
                "peak_flexion_deg": _num(e.peak_flexion_deg, 2),
                "rom_deg": _num(e.rom_deg, 2),
                "received_at": received_at,
            })  # fmt: skip
        elif isinstance(e, RepEvent):
            out.append({
                "type": "rep",
                "set_index": e.set_index,
                "number": e.number,
                **people_numbers(e.set_index, e.rep.index, e.number),
                "rep": e.rep.to_dict(),
                "received_at": received_at,
                "late": e.late,
            })  # fmt: skip
        elif isinstance(e, SetEvent):
            out.append({"type": "set", "set": e.set.to_dict(), "received_at": received_at})
        elif isinstance(e, CalibratedEvent | GapEvent):
            continue  # turned into status messages by the session
    return out
