"""Streaming a recording through the core in chunks: the one loop the chunking-invariance tests share.

At the top of ``tests/`` (on ``sys.path`` through its conftest) so that tests of every layer can import it.
"""

from __future__ import annotations

import itertools
from typing import Any

from hipflex.dsp import CalibratedEvent, Settings, finish, init_state, step

__all__ = ["standing", "stream_in_chunks"]


def stream_in_chunks(settings: Settings, samples: Any, cuts: Any) -> tuple[Any, list[Any]]:
    """Feed ``samples`` through ``step`` in chunks ending at ``cuts`` (row indices), then ``finish``.

    Returns the finished stream state and every event in order.
    """
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < len(samples)}), len(samples)]
    state = init_state(settings, samples.has_gyro)
    events: list[Any] = []
    for a, b in itertools.pairwise(bounds):
        state, ev = step(settings, state, samples.slice(a, b))
        events += ev
    state, ev = finish(settings, state)
    return state, events + ev


def standing(events: list[Any]) -> list[Any]:
    """The events after the last revised :class:`CalibratedEvent`: a revision voids all announced before it."""
    revised = [i for i, e in enumerate(events) if isinstance(e, CalibratedEvent) and e.revised]
    return events[revised[-1] + 1 :] if revised else events
