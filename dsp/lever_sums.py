"""The lever sums a set's drill naming reads: per-second sums over every gyro row.

A thigh turning about the hip at angular rate ``w`` feels a centripetal
acceleration ``w^2 L`` towards the pivot, so over a set ``|a|^2`` regressed on
``|w|^2`` has a slope whose sign says whether the thigh hangs below the hip or
is lifted (:mod:`hipflex.dsp.posture`).  The stream keeps, for each block of
``BLOCK_S`` seconds, the sums that regression needs (one row per block, so
memory grows by 56 bytes a second), accumulated chunk by chunk in a growable
buffer; a set's fit sums the blocks of its span when it closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hipflex.dsp._jit import njit_borrowed

__all__ = ["BLOCK_S", "LeverBlocks", "accumulate_lever", "accumulate_lever_checked", "empty_lever_blocks"]

#: Length of the blocks the lever sums are kept in, s (memory: one row per block).
BLOCK_S = 1.0
# Columns of a lever block row.
_B_IDX, _B_N, _B_W2, _B_A2, _B_W4, _B_W2A2, _B_A4, _B_COLS = range(8)


@dataclass(frozen=True, eq=False)
class LeverBlocks:
    """The per-block lever sums of a stream so far (a streaming state value; :func:`accumulate_lever`).

    The blocks no later row can add to are rows ``buf[:n]`` of a buffer that
    grows by doubling, shared by the values built one on another: a chunk's
    blocks are written after the last value's rows (in place when nobody has
    written there yet, ``fill`` counting the rows written to ``buf``; else
    into a copy), so a live step costs its own blocks, not the stream's.  No
    row of ``buf[:n]`` is written again, so every value stays as it was.  The
    newest block, which the next chunk may still add to, is ``open_row``.
    """

    buf: np.ndarray
    n: int
    fill: np.ndarray
    open_row: np.ndarray | None = None

    @property
    def rows(self) -> np.ndarray:
        """The sums, one row per block of ``BLOCK_S`` that holds a finite row: shape (m, 7), sorted by block."""
        done = self.buf[: self.n]
        return done if self.open_row is None else np.concatenate([done, self.open_row[None, :]])


def empty_lever_blocks() -> LeverBlocks:
    """No lever sums yet."""
    return LeverBlocks(np.zeros((0, _B_COLS)), 0, np.zeros(1, dtype=np.int64))


@njit_borrowed
def _lever_block_sums(acc: np.ndarray, gyr: np.ndarray, starts: np.ndarray, out: np.ndarray) -> None:
    """Sums of ``n, |w|^2, |a|^2, |w|^4, |w|^2 |a|^2, |a|^4`` of rows ``starts[j]:starts[j+1]`` into ``out[j, 1:]``.

    ``w`` in rad/s (``gyr`` deg/s), ``a`` in g; a row with a non-finite value
    is skipped.  The common block (every row finite) is summed without a
    test per row, in registers, and in deg^2/s^2 (scaled once per block):
    this pass runs over every row a gyro sends, so its cost is per sample;
    a block whose sums come out non-finite is summed again row by row,
    skipping the bad rows.  Twin: ``tests/naive.py:lever_block_sums``.
    """
    d2r2 = (math.pi / 180.0) ** 2
    for j in range(out.shape[0]):
        lo, hi = starts[j], starts[j + 1]
        # Two interleaved sets of sums: each add waits only for the one two rows back.
        sw = sa = sww = swa = saa = 0.0
        sw1 = sa1 = sww1 = swa1 = saa1 = 0.0
        for i in range(lo, hi - 1, 2):
            w2 = gyr[i, 0] * gyr[i, 0] + gyr[i, 1] * gyr[i, 1] + gyr[i, 2] * gyr[i, 2]
            a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
            v2 = gyr[i + 1, 0] * gyr[i + 1, 0] + gyr[i + 1, 1] * gyr[i + 1, 1] + gyr[i + 1, 2] * gyr[i + 1, 2]
            b2 = acc[i + 1, 0] * acc[i + 1, 0] + acc[i + 1, 1] * acc[i + 1, 1] + acc[i + 1, 2] * acc[i + 1, 2]
            sw += w2
            sa += a2
            sww += w2 * w2
            swa += w2 * a2
            saa += a2 * a2
            sw1 += v2
            sa1 += b2
            sww1 += v2 * v2
            swa1 += v2 * b2
            saa1 += b2 * b2
        if (hi - lo) % 2:
            i = hi - 1
            w2 = gyr[i, 0] * gyr[i, 0] + gyr[i, 1] * gyr[i, 1] + gyr[i, 2] * gyr[i, 2]
            a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
            sw += w2
            sa += a2
            sww += w2 * w2
            swa += w2 * a2
            saa += a2 * a2
        sw, sa, sww, swa, saa = sw + sw1, sa + sa1, sww + sww1, swa + swa1, saa + saa1
        n = float(hi - lo)
        if not (math.isfinite(sw) and math.isfinite(sa)):
            n = sw = sa = sww = swa = saa = 0.0
            for i in range(lo, hi):
                w2 = gyr[i, 0] * gyr[i, 0] + gyr[i, 1] * gyr[i, 1] + gyr[i, 2] * gyr[i, 2]
                a2 = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
                if math.isfinite(w2) and math.isfinite(a2):
                    n += 1.0
                    sw += w2
                    sa += a2
                    sww += w2 * w2
                    swa += w2 * a2
                    saa += a2 * a2
        out[j, _B_N] = n
        out[j, _B_W2] = sw * d2r2
        out[j, _B_A2] = sa
        out[j, _B_W4] = sww * (d2r2 * d2r2)
        out[j, _B_W2A2] = swa * d2r2
        out[j, _B_A4] = saa


def _block_starts(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block indices of the blocks ``[k BLOCK_S, (k+1) BLOCK_S)`` the sorted times fall in, and their first rows.

    Returns ``(k, starts)`` with ``starts`` one longer than ``k`` (its last
    entry ``t.size``); a block may be empty.  Found by a binary search per
    block edge, not a test per row.
    """
    k0 = math.floor(float(t[0]) / BLOCK_S)
    k1 = math.floor(float(t[-1]) / BLOCK_S)
    if k1 - k0 < t.size:
        k = np.arange(k0, k1 + 1, dtype=np.float64)
    else:  # a span far longer than its rows (a long gap inside the chunk): only the blocks that hold rows
        k = np.unique(np.floor(t / BLOCK_S))
    inner = np.searchsorted(t, k[1:] * BLOCK_S, "left")
    return k, np.concatenate([[0], inner, [t.size]]).astype(np.int64)


def accumulate_lever(blocks: LeverBlocks, time_s: np.ndarray, acc_g: np.ndarray, gyr_dps: np.ndarray) -> LeverBlocks:
    """Add rows to the per-block sums of ``|w|^2`` (rad^2/s^2) and ``|a|^2`` (g^2).

    Parameters
    ----------
    blocks : LeverBlocks
        Sums so far (:func:`empty_lever_blocks` to start); not modified.
    time_s : ndarray, shape (n,)
        Row times, s (re-timed: finite and non-decreasing).
    acc_g, gyr_dps : ndarray, shape (n, 3)
        Specific force (g) and angular rate (deg/s); rows with NaN are skipped.

    Returns
    -------
    LeverBlocks
        The sums with the rows added (``rows``: one per block of ``BLOCK_S``
        that holds a finite row; a block split over chunks is summed into one
        row, so any chunking gives the same blocks).
    """
    return accumulate_lever_checked(blocks, time_s, acc_g, gyr_dps)[0]


def accumulate_lever_checked(
    blocks: LeverBlocks, time_s: np.ndarray, acc_g: np.ndarray, gyr_dps: np.ndarray
) -> tuple[LeverBlocks, bool]:
    """:func:`accumulate_lever`, and whether every value of ``acc_g`` and ``gyr_dps`` was finite.

    The pass reads every value anyway: a row counts in its block's sums only
    when its squares are finite, so the counts adding up to the number of rows
    says that no value is NaN or infinite, and a caller that must refuse
    infinities need not scan the arrays again (False may also mean a value so
    large that its square overflows, or arrays of a different length).
    """
    if time_s.size == 0:
        return blocks, True
    if gyr_dps.shape[0] != time_s.size or acc_g.shape[0] != time_s.size:
        return blocks, False
    t = np.ascontiguousarray(time_s, dtype=np.float64)
    if not (math.isfinite(t[0]) and math.isfinite(t[-1])):
        raise ValueError("accumulate_lever needs finite, sorted times")
    k, starts = _block_starts(t)
    out = np.empty((k.size, _B_COLS))
    out[:, _B_IDX] = k
    _lever_block_sums(
        np.ascontiguousarray(acc_g, dtype=np.float64), np.ascontiguousarray(gyr_dps, dtype=np.float64), starts, out
    )
    finite = float(out[:, _B_N].sum()) == time_s.size
    return _merged(blocks, out), finite


def _merged(blocks: LeverBlocks, out: np.ndarray) -> LeverBlocks:
    """``blocks`` with a chunk's block sums ``out`` (rows in block order, from ``_block_starts``) added."""
    new = out[out[:, _B_N] > 0]
    if new.shape[0] == 0:
        return blocks
    if blocks.open_row is not None:
        if blocks.open_row[_B_IDX] == new[0, _B_IDX]:
            new[0, 1:] += blocks.open_row[1:]  # the block the last chunk ended in goes on
        else:
            new = np.concatenate([blocks.open_row[None, :], new])
    # All but the newest block are complete: appended to the buffer.
    done, n = new[:-1], blocks.n
    buf, fill = blocks.buf, blocks.fill
    if done.shape[0]:
        if int(fill[0]) != n or buf.shape[0] < n + done.shape[0]:
            # Another value was built on this buffer past our rows, or it is full.
            grown = np.empty((max(2 * (n + done.shape[0]), 64), _B_COLS))
            grown[:n] = buf[:n]
            buf, fill = grown, np.zeros(1, dtype=np.int64)
        buf[n : n + done.shape[0]] = done
        n += done.shape[0]
        fill[0] = n
    return LeverBlocks(buf, n, fill, new[-1].copy())


def _lever_fits(blocks: np.ndarray, start_s: np.ndarray, end_s: np.ndarray) -> np.ndarray:
    """Slope of ``|a|^2`` on ``|w|^2``, its t statistic and effect (g^2) for each span [start_s, end_s]; (k, 3).

    A set's sums run from the block before its first (its lead-in rest
    anchors the intercept) to the one holding its end: block indices are
    sorted, so that is one slice, summed on its own (a set is described when
    it closes, with the blocks of the whole stream so far: a running sum over
    them all would cost the stream's length per set, and its rounding would
    depend on what else is described with it).  NaN where fewer than 10 rows
    or no spread.
    """
    fits = np.full((start_s.size, 3), math.nan)
    if blocks.shape[0] == 0 or start_s.size == 0:
        return fits
    idx = blocks[:, _B_IDX]
    lo = np.searchsorted(idx, np.floor(start_s / BLOCK_S) - 1, "left").tolist()
    hi = np.searchsorted(idx, np.floor(end_s / BLOCK_S), "right").tolist()
    sums = [blocks[a:b, 1:].sum(axis=0).tolist() for a, b in zip(lo, hi, strict=True)]
    for j, (n, sw, sa, sww, swa, saa) in enumerate(sums):
        if n < 10:
            continue
        vw = sww - sw * sw / n
        va = saa - sa * sa / n
        cwa = swa - sw * sa / n
        if vw <= 0 or va <= 0:
            continue
        slope = cwa / vw
        resid = max(va - slope * cwa, 1e-30) / max(n - 2, 1.0)
        fits[j] = slope, slope / math.sqrt(resid / vw), slope * math.sqrt(vw / n)
    return fits


def _lever_fit(blocks: np.ndarray, start_s: float, end_s: float) -> tuple[float, float, float]:
    """:func:`_lever_fits` of one span."""
    slope, tstat, effect = _lever_fits(blocks, np.array([start_s]), np.array([end_s]))[0].tolist()
    return slope, tstat, effect
