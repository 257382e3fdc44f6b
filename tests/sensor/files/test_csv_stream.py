"""A CSV recording read block by block (csv_stream): the blocks joined are the file read whole, or it says so.

``BlockCheck`` is compared with ``validate_samples`` on the same rows cut at random places
(duplicates, swapped rows, rows stamped together and lost rows falling on the cuts), and
``open_csv_blocks`` with ``load_samples`` on files long enough for many pyarrow batches.
"""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_csv_fast import assert_same

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files import csv_fast, csv_stream
from hipflex.sensor.files.csv_io import plain_selection
from hipflex.sensor.files.csv_stream import BlockCheck, MustReadWhole, open_csv_blocks
from hipflex.sensor.format_spec import ColumnMap, InputError, LoadOptions, validate_samples
from hipflex.sensor.formats import load_samples, open_blocks

HEADER_GYRO = "time_s,acc_x_g,acc_y_g,acc_z_g,gyro_x_dps,gyro_y_dps,gyro_z_dps"


def joined(blocks: list[ImuSamples], has_gyro: bool) -> ImuSamples:
    t = np.concatenate([b.time_s for b in blocks])
    acc = np.concatenate([b.acc_g for b in blocks])
    gyr = np.concatenate([b.gyr_dps for b in blocks if b.gyr_dps is not None]) if has_gyro else None
    return ImuSamples(t, acc, gyr)


def checked_in_blocks(
    t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, cuts: list[int], hold_rows: int
) -> ImuSamples:
    """The rows through ``BlockCheck``, fed in pieces cut at ``cuts``; MustReadWhole propagates."""
    check = BlockCheck(gyr is not None, hold_rows)
    out: list[ImuSamples] = []
    edges = [0, *sorted(set(cuts)), len(t)]
    for a, b in itertools.pairwise(edges):
        block = check.feed(t[a:b].copy(), acc[a:b].copy(), None if gyr is None else gyr[a:b].copy())
        if block is not None:
            out.append(block)
    last = check.finish()
    if last is not None:
        out.append(last)
    return joined(out, gyr is not None)


@st.composite
def messy_rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[int], int]:
    """Rows on a 100 Hz grid with repeated rows, swapped neighbours, shared stamps and lost rows; cuts; hold."""
    n = draw(st.integers(300, 700))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    t = np.round(np.arange(n) * 0.01, 6)
    acc = np.round(rng.normal([0.0, 0.0, 1.0], 0.1, (n, 3)), 4)
    gyr = np.round(rng.normal(0.0, 20.0, (n, 3)), 3) if draw(st.booleans()) else None
    rows = list(range(n))
    order: list[int] = []
    i = 0
    while i < n:
        kind = rng.random()
        if kind < 0.006 and i + 1 < n:  # swapped neighbours (a row late by one)
            order += [rows[i + 1], rows[i]]
            i += 2
            continue
        order.append(rows[i])
        if kind > 0.97:  # sent twice
            order.append(rows[i])
        i += 1
    idx = np.asarray(order)
    t, acc = t[idx], acc[idx]
    gyr = None if gyr is None else gyr[idx]
    shared = rng.random(len(t)) < 0.02  # a row stamped with the time of the row before
    shared[0] = False
    t[shared] = t[np.flatnonzero(shared) - 1]
    lost = rng.random(len(t)) < 0.03
    acc[lost, rng.integers(0, 3)] = np.nan
    if gyr is not None:
        gyr[rng.random(len(t)) < 0.01, 1] = np.nan
    cuts = draw(st.lists(st.integers(1, len(t) - 1), max_size=40))
    hold = draw(st.integers(2, 9))
    return t, acc, gyr, cuts, hold


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_rows())
def test_blocks_are_the_rows_checked_whole(
    case: tuple[np.ndarray, np.ndarray, np.ndarray | None, list[int], int],
) -> None:
    t, acc, gyr, cuts, hold = case
    try:
        whole = validate_samples("x.csv", t.copy(), acc.copy(), None if gyr is None else gyr.copy())
    except InputError:  # (more than 1 % of the rows swapped)
        event("too many rows out of order")
        with pytest.raises(MustReadWhole):
            checked_in_blocks(t, acc, gyr, cuts, hold)
        return
    event("repaired" if np.any(np.diff(t) < 0) else "in order")
    # Rows late by one are always placed among the held rows: no reason to read the file whole.
    assert_same(checked_in_blocks(t, acc, gyr, cuts, hold), whole)


def test_a_repeated_row_on_a_cut_is_dropped_as_in_the_whole_file() -> None:
    t = np.arange(400) * 0.01
    acc = np.tile([0.0, 0.0, 1.0], (400, 1)) + np.arange(400)[:, None] * 1e-3
    t = np.insert(t, 200, t[199])  # row 199 sent twice
    acc = np.insert(acc, 200, acc[199], axis=0)
    whole = validate_samples("x.csv", t.copy(), acc.copy())
    assert len(whole) == 400
    for cut in (195, 198, 199, 200, 201):
        assert_same(checked_in_blocks(t, acc, None, [cut], hold_rows=2), whole)


def test_a_row_late_by_more_than_the_held_rows_sends_the_file_to_be_read_whole() -> None:
    t = np.arange(400) * 0.01
    acc = np.tile([0.0, 0.0, 1.0], (400, 1))
    t[300] = 1.005  # after row 100: sorted there when the file is read whole
    validate_samples("x.csv", t.copy(), acc.copy())  # one late row is repaired
    with pytest.raises(MustReadWhole):
        checked_in_blocks(t, acc, None, [150, 299], hold_rows=8)
    # Within the held rows it is placed, as a sort of the whole file places it.
    t2 = np.arange(400) * 0.01
    t2[300] = 2.955
    assert_same(checked_in_blocks(t2, acc, None, [299], hold_rows=8), validate_samples("x.csv", t2.copy(), acc.copy()))


@pytest.mark.parametrize(
    "problem", ["many_late", "empty_gyro", "ms2", "too_short", "no_acc", "nan_time"], ids=lambda p: p
)
def test_what_the_whole_file_decides_sends_it_to_be_read_whole(problem: str) -> None:
    n = 400
    t = np.arange(n) * 0.01
    acc = np.tile([0.0, 0.0, 1.0], (n, 1))
    gyr: np.ndarray | None = None
    if problem == "many_late":
        t[10::20] -= 0.015  # 5 % of the rows late by one: more than are repaired
    elif problem == "empty_gyro":
        gyr = np.full((n, 3), np.nan)  # dropped (None) when read whole: not what the blocks said
    elif problem == "ms2":
        acc = acc * 9.81
    elif problem == "too_short":
        t = t * 0.001
    elif problem == "no_acc":
        acc[:] = np.nan
    elif problem == "nan_time":
        t[350] = np.nan
    if problem != "empty_gyro":
        with pytest.raises(InputError):
            validate_samples("x.csv", t.copy(), acc.copy())
    with pytest.raises(MustReadWhole):
        checked_in_blocks(t, acc, gyr, [100, 200, 300], hold_rows=4)


@pytest.mark.parametrize(
    ("norms", "decides"),
    [
        ([3.9] * 5, True),  # odd count: the middle value decides
        ([4.0] * 4, True),  # 4 g is not within (4, 20): not m/s^2
        ([4.5] * 4, True),  # m/s^2 (an error when read whole)
        ([20.0] * 6, True),
        ([3.0, 3.0, 4.5, 4.5], False),  # the median 3.75 is below 4, but 4.0 + 4.5 would be above
        ([3.0, 3.0, 25.0, 25.0], False),  # (3 + 25) / 2 = 14: within, from two rows outside
        ([1.0, 3.0, 3.0, 4.5, 25.0], True),
    ],
)
def test_the_m_s2_check_is_decided_from_magnitude_ranges_or_left_to_the_whole_file(
    norms: list[float], decides: bool
) -> None:
    n = 20 * len(norms)  # each magnitude on a run of rows, in time order
    t = np.arange(n) * 0.2
    acc = np.zeros((n, 3))
    acc[:, 2] = np.repeat(norms, 20)
    try:
        validate_samples("x.csv", t.copy(), acc.copy())
        whole_ok = True
    except InputError:
        whole_ok = False
    if decides and whole_ok:
        assert_same(checked_in_blocks(t, acc, None, [n // 2], hold_rows=4), validate_samples("x.csv", t, acc.copy()))
    else:
        with pytest.raises(MustReadWhole):
            checked_in_blocks(t, acc, None, [n // 2], hold_rows=4)


def test_row_magnitudes_are_validate_samples_own_bit_for_bit() -> None:
    # The ranges (<= 4, within, >= 20 g) must fall as in validate_samples's
    # sqrt((v * v).sum(axis=1)), also for values right at the bounds and of any size.
    rng = np.random.default_rng(7)
    v = rng.standard_normal((200_000, 3)) * 10.0 ** rng.uniform(-4, 4, size=(200_000, 3))
    at_bounds = np.array([[4.0, 0.0, 0.0], [0.0, 20.0, 0.0], [2.0, 2.0, 2.0 * np.sqrt(2.0)], [1e-300, 1e-300, 1e-300]])
    v = np.vstack([v, at_bounds, -at_bounds])
    np.testing.assert_array_equal(csv_stream._norm(v), np.sqrt((v * v).sum(axis=1)))


def write_messy_csv(
    path: Path, n: int, seed: int, gyro: bool = True, crlf: bool = False, time_unit_s: float = 1.0
) -> None:
    """A long plain CSV with comments, repeated and swapped rows, shared stamps and empty (lost) rows."""
    rng = np.random.default_rng(seed)
    nl = "\r\n" if crlf else "\n"
    lines = ["# a comment on top", HEADER_GYRO if gyro else HEADER_GYRO.rsplit(",", 3)[0]]
    i = 0
    while i < n:
        row = [f"{i * 0.005 / time_unit_s:.6f}", *(f"{v:.6f}" for v in rng.normal([0, 0, 1], 0.05))]
        if gyro:
            row += [f"{v:.4f}" for v in rng.normal(0, 30, 3)]
        r = rng.random()
        if r < 0.01:
            row[1:] = [""] * (len(row) - 1)  # lost
        line = ",".join(row)
        if r > 0.99 and len(lines) > 2:
            lines.insert(len(lines) - 1, line)  # swapped with the row before
        else:
            lines.append(line)
        if 0.985 < r <= 0.99:
            lines.append(line)  # sent twice
        if r < 0.0005:
            lines.append("# a comment in the middle")
        i += 1
    path.write_text(nl.join(lines) + nl)


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc_only"])
@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_a_long_file_in_blocks_is_the_file_read_whole(tmp_path: Path, gyro: bool, crlf: bool) -> None:
    path = tmp_path / "long.csv"
    write_messy_csv(path, 40_000, seed=3, gyro=gyro, crlf=crlf)  # ~2.5 MB: about ten pyarrow batches
    blocks = open_csv_blocks(path, LoadOptions(), block_rows=1, hold_rows=16)
    assert blocks is not None and blocks.has_gyro == gyro
    got = list(blocks)
    assert len(got) > 5  # many borders
    assert_same(joined(got, gyro), load_samples(path))


def test_a_mapped_file_in_blocks_is_the_file_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "mapped.csv"
    write_messy_csv(path, 20_000, seed=4, time_unit_s=1e-3)
    text = path.read_text().replace(HEADER_GYRO, "t_ms,ax,ay,az,gx,gy,gz")
    path.write_text(text)
    cols = ColumnMap(time_col="t_ms", acc_cols=("ax", "-ay", "az"), gyro_cols=("gx", "gy", "gz"),
                     time_unit="ms", gyro_unit="rad/s")  # fmt: skip
    options = LoadOptions(columns=cols)
    blocks = open_blocks(path, "auto", options)
    assert blocks is not None
    assert_same(joined(list(blocks), True), load_samples(path, "auto", options))


def test_files_not_read_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 2_000, seed=5)
    assert open_blocks(tmp_path / "missing.csv") is None
    assert open_blocks(path, options=LoadOptions(header_rows=2)) is None
    (tmp_path / "bad.csv").write_text("time_s,acc_x_g\n1,2\n")
    assert open_blocks(tmp_path / "bad.csv") is None  # header error: the whole-file reader names it
    text = path.read_text().splitlines()
    text[500] = text[500].replace(",", ",x", 1)  # not a number: the careful reader names the line
    (tmp_path / "text.csv").write_text("\n".join(text) + "\n")
    blocks = open_blocks(tmp_path / "text.csv")
    assert blocks is not None
    with pytest.raises(MustReadWhole):
        list(blocks)


def test_block_rows_default_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 30_000, seed=6)
    monkeypatch.setattr(csv_stream, "BLOCK_ROWS", 1)
    blocks = open_blocks(path)
    assert blocks is not None
    assert len(list(blocks)) > 3


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hipflex-read")]


def test_the_next_block_is_parsed_while_the_one_before_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader parses ahead in a thread of its own: the analysis of a block and the parse of the next overlap.

    Before, pyarrow's streaming reader parsed each batch in the thread that asked for it, so a
    file's ~0.3 s of parsing (1.26 M rows) ran between the analysis of its blocks.
    """
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 30_000, seed=7)
    parsed: list[int] = []
    first_rows = [math.inf]  # the first block's rows, once it is out
    beyond_first = threading.Event()
    real_batches = csv_fast._batches

    def counted(*args: Any) -> Any:
        for batch in real_batches(*args):
            parsed.append(batch.num_rows)
            if sum(parsed) > first_rows[0]:
                beyond_first.set()
            yield batch

    monkeypatch.setattr(csv_fast, "_CHUNK", 16384)  # a dozen pyarrow batches
    monkeypatch.setattr(csv_fast, "_batches", counted)
    blocks = csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=1_000)
    it = iter(blocks)
    t, _, _ = next(it)
    first_rows[0] = t.size
    if sum(parsed) > t.size:
        beyond_first.set()
    # Nothing more is asked for: the rows beyond the first block are parsed all the same.
    assert beyond_first.wait(timeout=20.0), f"parsed only {sum(parsed)} rows while the first block was held"
    rest = list(it)
    assert sum(b[0].size for b in [(t,), *rest]) == sum(parsed)
    assert not _reader_threads()


def test_leaving_the_blocks_early_stops_the_reader_and_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 30_000, seed=8)
    blocks = csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=1_000)
    it = iter(blocks)
    next(it)
    it.close()  # as when the analysis stops at a bad block
    assert not _reader_threads()
    assert blocks._fh.closed


def test_an_error_in_the_reader_comes_after_the_blocks_before_it(tmp_path: Path) -> None:
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 30_000, seed=9)
    lines = path.read_text().splitlines()
    lines[25_000] = lines[25_000].replace(",", ",x", 1)  # not a number, far into the file
    path.write_text("\n".join(lines) + "\n")
    blocks = csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=1_000)
    got: list[int] = []
    with pytest.raises(csv_fast.Declined):
        for t, _, _ in blocks:
            got.append(t.size)
    assert sum(got) >= 10_000  # the blocks before the bad batch came out first
    assert not _reader_threads()
    assert blocks._fh.closed


def test_a_file_of_one_block_is_read_without_a_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is left to parse while a single block is analysed: no reader thread for it (~0.3 ms a file)."""
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 3_000, seed=10)
    readers: set[str] = set()
    real_batches = csv_fast._batches

    def noted(*args: Any) -> Any:
        readers.add(threading.current_thread().name)
        yield from real_batches(*args)

    monkeypatch.setattr(csv_fast, "_batches", noted)
    blocks = csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=32_768)
    assert sum(t.size for t, _, _ in blocks) > 2_900
    assert readers == {threading.current_thread().name}
    assert blocks._fh.closed


def test_read_in_calling_thread_gives_the_same_blocks_without_any_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early parser of ``hipflex analyze`` keeps to one core: no read-ahead or pyarrow threads, the same blocks."""
    path = tmp_path / "rec.csv"
    write_messy_csv(path, 30_000, seed=12)
    monkeypatch.setattr(csv_fast, "_CHUNK", 16384)  # a dozen pyarrow batches
    threaded = list(csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=1_000))
    readers: set[str] = set()
    options: list[bool] = []
    real_batches = csv_fast._batches

    def noted(*args: Any) -> Any:
        readers.add(threading.current_thread().name)
        yield from real_batches(*args)

    import pyarrow.csv as pacsv

    real_options = pacsv.ReadOptions

    def read_options(*args: Any, **kwargs: Any) -> Any:
        options.append(bool(kwargs.get("use_threads", True)))
        return real_options(*args, **kwargs)

    monkeypatch.setattr(csv_fast, "_batches", noted)
    monkeypatch.setattr(pacsv, "ReadOptions", read_options)
    monkeypatch.setattr(csv_fast, "_THREADS", True)  # restored after the test (the call below sets it)
    csv_fast.read_in_calling_thread()
    alone = list(csv_fast.ColumnBlocks(path, plain_selection(path), None, block_rows=1_000))
    assert readers == {threading.current_thread().name}
    assert options == [False]
    assert len(alone) == len(threaded) > 5
    for a, b in zip(alone, threaded, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
