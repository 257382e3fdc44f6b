"""``hipflex analyze`` streams a CSV recording block by block: the same output as the file read whole.

The analysis of a CSV file goes through ``_analyze_blocks`` (the file's blocks through
``hipflex.dsp.step``); switched off, the file is read whole and analysed in one chunk.  The two
must write the same bytes, with repeated and swapped rows and gaps falling on block borders,
and when the blocks must give up half way (a row far out of order).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import cli, thigh_session

from hipflex.dsp.types import ImuSamples
from hipflex.sensor.files import csv_stream
from hipflex.sensor.files.csv_io import write_csv
from hipflex.service.commands import analyze as analyze_cmd


def long_session(seed: int, gyro: bool) -> ImuSamples:
    """Eight thigh sessions back to back (about 3 minutes at 100 Hz, ~1 MB of CSV)."""
    parts = [thigh_session(seed=seed + k, hold_s=0.2 + 0.1 * k, gyro=gyro) for k in range(8)]
    t, acc, gyr = [], [], []
    offset = 0.0
    for p in parts:
        t.append(p.time_s - p.time_s[0] + offset)
        offset = float(t[-1][-1]) + 0.01
        acc.append(p.acc_g)
        if p.gyr_dps is not None:
            gyr.append(p.gyr_dps)
    return ImuSamples(np.concatenate(t), np.concatenate(acc), np.concatenate(gyr) if gyro else None)


def messy_lines(samples: ImuSamples, path: Path, seed: int, far_late: bool = False) -> None:
    """Write ``samples`` as CSV, then repeat, swap and empty rows all through it (and one row far out of order)."""
    write_csv(path, samples)
    lines = path.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("time_s"))
    body = lines[head + 1 :]
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i, line in enumerate(body):
        r = rng.random()
        if r < 0.003 and out:
            out.insert(len(out) - 1, line)  # swapped with the row before
        else:
            out.append(line)
        if 0.003 <= r < 0.006:
            out.append(line)  # sent twice
        if 0.006 <= r < 0.012 and i > 3000:
            out[-1] = out[-1].split(",", 1)[0] + "," * (out[-1].count(","))  # lost
    if far_late:
        out.insert(len(out) - 200, out.pop(5000))  # belongs 10000 rows before: sorted there when read whole
    path.write_text("\n".join([*lines[: head + 1], *out]) + "\n")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Small blocks (every pyarrow batch a block); records whether each analysis came from the blocks."""
    monkeypatch.setattr(csv_stream, "BLOCK_ROWS", 1)
    used: list[bool] = []
    real = analyze_cmd._analyze_blocks

    def blocks(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        used.append(out is not None)
        return out

    monkeypatch.setattr(analyze_cmd, "_analyze_blocks", blocks)
    return used


def whole(path: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> str:
    with monkeypatch.context() as m:
        m.setattr(analyze_cmd, "_analyze_blocks", lambda *a, **k: None)
        out = cli("analyze", "--json", *flags, str(path), cwd=path.parent)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("gyro", [True, False], ids=["gyro", "acc_only"])
def test_blocks_give_the_bytes_of_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: list[bool], gyro: bool
) -> None:
    path = tmp_path / "long.csv"
    messy_lines(long_session(seed=1, gyro=gyro), path, seed=2)
    want = whole(path, monkeypatch)
    out = cli("analyze", "--json", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert spy == [True]
    assert out.stdout == want
    assert json.loads(want)["rep_count"] >= 30  # the comparison is not of empty results


def test_blocks_that_give_up_half_way_still_give_the_whole_files_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spy: list[bool]
) -> None:
    path = tmp_path / "late.csv"
    messy_lines(long_session(seed=3, gyro=True), path, seed=4, far_late=True)
    want = whole(path, monkeypatch)
    out = cli("analyze", "--json", str(path), cwd=tmp_path)
    assert spy == [False]  # read whole after all
    assert out.stdout == want
