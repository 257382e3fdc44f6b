"""Events emitted by the streaming core, for live displays and the API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hipflex.dsp.types import Gap, Rejection, Rep, RepSet

__all__ = [
    "AngleBlock",
    "CalibratedEvent",
    "Event",
    "GapEvent",
    "RejectionEvent",
    "RepEvent",
    "RepPeakEvent",
    "SetEvent",
]


@dataclass(frozen=True, eq=False)
class AngleBlock:
    """Flexion angle at each input row of a chunk (NaN before calibration or for dropped rows).

    Attributes
    ----------
    time_s : ndarray, shape (n,)
        The rows' times on the re-timed grid (see :mod:`hipflex.dsp.timeline`), s.
    angle_deg : ndarray, shape (n,)
    """

    time_s: np.ndarray
    angle_deg: np.ndarray


@dataclass(frozen=True)
class CalibratedEvent:
    """The quiet standing window was found and the flexion axis fixed; angles start here."""

    time_s: float
    quiet: bool


@dataclass(frozen=True)
class RepPeakEvent:
    """A peak was confirmed (theta fell ``min_rom_deg`` below it): a rep is on its way.

    ``number`` is the 0-based count of reps in the session so far.
    """

    number: int
    peak_s: float
    peak_flexion_deg: float
    rom_deg: float


@dataclass(frozen=True)
class RepEvent:
    """A rep is complete with every metric; ``set_index`` is the set it belongs to."""

    number: int
    set_index: int
    rep: Rep


@dataclass(frozen=True)
class SetEvent:
    """A set is closed (the next rep came after ``set_gap_s`` or the stream ended)."""

    set: RepSet


@dataclass(frozen=True)
class GapEvent:
    """Samples were lost (found from the time column)."""

    gap: Gap


@dataclass(frozen=True)
class RejectionEvent:
    """A candidate excursion did not become a rep."""

    rejection: Rejection


Event = AngleBlock | CalibratedEvent | RepPeakEvent | RepEvent | SetEvent | GapEvent | RejectionEvent
