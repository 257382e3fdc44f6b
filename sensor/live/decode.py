"""Incremental :func:`~hipflex.sensor.capture.replay.decode_capture`: live records in, new samples out.

The live clients must produce exactly the samples a replay of their capture produces,
so that ``hipflex analyze capture.jsonl`` reproduces the live session byte for byte.
Rather than re-implementing the capture decoders, :class:`LiveDecoder` drives the very
per-record decoders :func:`~hipflex.sensor.capture.replay.decode_capture` uses
(:func:`~hipflex.sensor.capture.replay.capture_decoder`: incremental by design, one
``feed(record)`` per capture line) and takes the samples each record adds.

The one batch step of ``decode_capture`` is the gyroscope merge
(:func:`~hipflex.sensor.merge.merge_acc_gyro`, ``nearest`` rule, nominal periods).
:class:`NearestMerger` does it incrementally with the same arithmetic: an accelerometer
row is final once a gyroscope sample at or after it has arrived (its two neighbours
are then known), rows before the first gyroscope sample (beyond half a period) are
dropped, and at the end rows beyond the last gyroscope sample (beyond half a period)
are dropped -- the batch rule's "overlap only".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.capture.decode import CaptureGap, MetaWearCaptureDecoder, PolarCaptureDecoder, capture_decoder
from hipflex.sensor.capture.log import CaptureHeader, CaptureProblem, CaptureRecord
from hipflex.sensor.merge import SAME_RATE_TOLERANCE, align_nearest

__all__ = ["DecodeUpdate", "LiveDecoder", "NearestMerger"]

_log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
_EMPTY3: Final = np.zeros((0, 3))


@dataclass(frozen=True, eq=False)
class DecodeUpdate:
    """What one record added.

    Attributes
    ----------
    samples : ImuSamples or None
        Rows now final (merged when there is a gyroscope), session time.
    gaps : tuple of CaptureGap
        Holes found (session time), as ``decode_capture`` reports them.
    problems : tuple of CaptureProblem
        Notifications that did not decode (logged by the decoder).
    newest_s : float or None
        Session time of the newest sample the record carried (any stream), for the
        clock mapping; ``None`` when it carried none.
    """

    samples: ImuSamples | None = None
    gaps: tuple[CaptureGap, ...] = ()
    problems: tuple[CaptureProblem, ...] = ()
    newest_s: float | None = None


class NearestMerger:
    """Incremental ``merge_acc_gyro(..., rule="nearest")`` with nominal periods.

    Parameters
    ----------
    acc_period_s, gyr_period_s : float
        Nominal sample periods, seconds; they must agree within
        :data:`~hipflex.sensor.merge.SAME_RATE_TOLERANCE` (the clients always stream
        both sensors at one rate), otherwise ``decode_capture`` would interpolate.
    """

    def __init__(self, acc_period_s: float, gyr_period_s: float) -> None:
        if abs(acc_period_s - gyr_period_s) > SAME_RATE_TOLERANCE * max(acc_period_s, gyr_period_s):
            raise ValueError("live merging needs the accelerometer and gyroscope at the same rate")
        self.tolerance_s = 0.5 * acc_period_s
        self._acc_t = np.zeros(0)
        self._acc_v = _EMPTY3
        self._gyr_t = np.zeros(0)
        self._gyr_v = _EMPTY3
        self._first_gyr_s: float | None = None
        self.dropped_rows = 0  #: accelerometer rows outside the gyroscope's span

    @property
    def pending_rows(self) -> int:
        """Accelerometer rows waiting for the gyroscope."""
        return int(self._acc_t.size)

    def add_acc(self, time_s: FloatArray, acc_g: FloatArray) -> None:
        """Queue accelerometer rows (increasing times)."""
        self._acc_t = np.concatenate([self._acc_t, time_s])
        self._acc_v = np.concatenate([self._acc_v, acc_g])

    def add_gyro(self, time_s: FloatArray, gyr_dps: FloatArray) -> None:
        """Add gyroscope samples (increasing times)."""
        if time_s.size and self._first_gyr_s is None:
            self._first_gyr_s = float(time_s[0])
        self._gyr_t = np.concatenate([self._gyr_t, time_s])
        self._gyr_v = np.concatenate([self._gyr_v, gyr_dps])

    def take(self) -> ImuSamples | None:
        """Rows whose gyroscope neighbours are all known now."""
        if self._first_gyr_s is None or self._acc_t.size == 0:
            return None
        self._drop_before_first()
        n_final = int(np.searchsorted(self._acc_t, self._gyr_t[-1], side="right"))
        return self._emit(n_final)

    def finish(self) -> ImuSamples | None:
        """The last rows: those within half a period after the last gyroscope sample.

        Without any gyroscope sample every pending row is returned without gyro, as
        ``decode_capture`` does when the gyroscope stream stayed empty.
        """
        if self._first_gyr_s is None:
            if self._acc_t.size == 0:
                return None
            _log.warning("the gyroscope sent nothing: the accelerometer rows are passed on alone")
            out = ImuSamples(self._acc_t, self._acc_v)
            self._acc_t, self._acc_v = np.zeros(0), _EMPTY3
            return out
        self._drop_before_first()
        keep = self._acc_t < self._gyr_t[-1] + self.tolerance_s
        n_keep = int(np.count_nonzero(keep))  # keep is a prefix: times increase
        self.dropped_rows += self._acc_t.size - n_keep
        return self._emit(n_keep)

    def _drop_before_first(self) -> None:
        assert self._first_gyr_s is not None
        keep = self._acc_t > self._first_gyr_s - self.tolerance_s
        if not keep.all():
            start = int(np.argmax(keep)) if keep.any() else keep.size
            self.dropped_rows += start
            self._acc_t, self._acc_v = self._acc_t[start:], self._acc_v[start:]

    def _emit(self, n: int) -> ImuSamples | None:
        if n == 0:
            return None
        ref = self._acc_t[:n]
        # A window holding every row's two neighbours gives align_nearest's own arithmetic;
        # one extra sample on the left keeps its edge clipping identical to the batch call.
        lo = max(int(np.searchsorted(self._gyr_t, ref[0])) - 2, 0)
        gyr = align_nearest(ref, self._gyr_t[lo:], self._gyr_v[lo:], self.tolerance_s)
        out = ImuSamples(ref, self._acc_v[:n], gyr)
        self._acc_t, self._acc_v = self._acc_t[n:], self._acc_v[n:]
        # Keep the gyroscope samples a later row may still need: later rows come after the
        # last one emitted (the gyroscope may run ahead of the accelerometer).
        cut = max(int(np.searchsorted(self._gyr_t, ref[-1])) - 2, 0)
        self._gyr_t, self._gyr_v = self._gyr_t[cut:], self._gyr_v[cut:]
        return out


class LiveDecoder:
    """Feed capture records one by one; get the samples ``decode_capture`` would produce.

    Parameters
    ----------
    header : CaptureHeader
        The header the capture was (or would be) written with; its ``started_host_s``
        is the session-time origin.
    path : str
        Name used in messages.

    Raises
    ------
    CaptureFormatError
        A header the decoders cannot use (unknown device kind, bad MetaWear settings).
    """

    def __init__(self, header: CaptureHeader, path: str = "<live>") -> None:
        self.header = header
        self._decoder: PolarCaptureDecoder | MetaWearCaptureDecoder = capture_decoder(header, path)
        self.has_gyro = "gyro" in header.streams
        self._merger: NearestMerger | None = None
        if self.has_gyro:
            self._merger = NearestMerger(
                1.0 / header.streams["acc"].sample_rate_hz, 1.0 / header.streams["gyro"].sample_rate_hz
            )
        self._gaps_seen = 0
        self._problems_seen = 0
        self.records = 0  #: records fed

    @property
    def decoded_notifications(self) -> int:
        """Data notifications decoded so far."""
        return self._decoder.out.decoded

    @property
    def problems(self) -> tuple[CaptureProblem, ...]:
        """Every notification that failed to decode so far."""
        return tuple(self._decoder.out.problems)

    def feed(self, record: CaptureRecord) -> DecodeUpdate:
        """Decode one record (notification or event) and return what it added."""
        self.records += 1
        self._decoder.feed(record)
        out = self._decoder.out
        new: dict[str, tuple[FloatArray, FloatArray]] = {}
        for name, parts in out.chunks.items():
            if parts:
                # Take and forget: the live path never needs the whole stream again.
                t = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
                v = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
                parts.clear()
                new[name] = (t, v)
        gaps = tuple(out.gaps[self._gaps_seen :])
        self._gaps_seen = len(out.gaps)
        problems = tuple(out.problems[self._problems_seen :])
        self._problems_seen = len(out.problems)
        newest = max((float(t[-1]) for t, _ in new.values()), default=None)
        return DecodeUpdate(self._samples(new), gaps, problems, newest)

    def finish(self) -> ImuSamples | None:
        """Rows held back for the gyroscope merge, released at the end of the session."""
        return self._merger.finish() if self._merger is not None else None

    def _samples(self, new: dict[str, tuple[FloatArray, FloatArray]]) -> ImuSamples | None:
        if self._merger is None:
            acc = new.get("acc")
            return None if acc is None else ImuSamples(acc[0], acc[1])
        if "acc" in new:
            self._merger.add_acc(*new["acc"])
        if "gyro" in new:
            self._merger.add_gyro(*new["gyro"])
        return self._merger.take()
