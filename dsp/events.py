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
    """Flexion angle at each input row of a chunk (NaN for dropped rows).

    Until calibration the rows are buffered; they are released in one block,
    with their angles, once the learning phase ends.

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
    """The rest pose and the flexion axis are known; ``time_s`` is where the calibration window starts.

    ``quiet`` is False when no window met the stillness thresholds and the
    quietest one was used.  ``recalibrated_from_s`` lists the starts of
    earlier windows given up because the thigh then settled in a clearly
    different pose (a recording that starts lying down, or inside a hold).
    Angles and reps from the first row on follow.  ``revised`` is True when
    this calibration replaces one already announced: the session showed
    later that its rest pose is another (:mod:`hipflex.dsp.rest_pose`), or
    its first rest measured the gyro bias better than the calibration
    window did (:mod:`hipflex.dsp.rest_bias`; the window then stays), so
    every angle, rep and set announced before is void and follows again.
    """

    time_s: float
    quiet: bool
    recalibrated_from_s: tuple[float, ...] = ()
    revised: bool = False


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
    """A rep is complete with every metric; ``set_index`` is the set it belongs to.

    ``late`` is True for a rep that began before the calibration window: live,
    it could only be analysed once the rest pose was known, so it arrives with
    the calibration, long after it happened.
    """

    number: int
    set_index: int
    rep: Rep
    late: bool = False


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
