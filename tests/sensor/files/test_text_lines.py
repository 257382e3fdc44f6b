"""Lines of a text file as byte offsets (sensor/text_lines.py): the same lines as ``str.split``, less memory."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hipflex.sensor.files.csv_io import read_csv
from hipflex.sensor.files.text_lines import file_encoding, split_lines

_PARTS = ["1,2,3", "", " ", "\t", "# c", "  #x", "\r", "é,ü", "\xa0", "\u3000", "a;b", "#"]


@pytest.mark.parametrize("seed", range(40))
def test_chunks_are_the_lines_str_split_gives(seed: int) -> None:
    rng = random.Random(seed)
    text = "\n".join(rng.choice(_PARTS) for _ in range(rng.randrange(0, 60)))
    text += rng.choice(["", "\n", "\n\n"])
    raw = text.encode(rng.choice(["utf-8", "utf-8-sig", "latin-1"]), errors="replace")
    encoding, start = file_encoding(raw)
    decoded = raw[start:].decode(encoding)
    expected = decoded.split("\n")
    if expected[-1] == "":
        expected.pop()  # a final newline ends the last line, it does not start another
    lines = split_lines(raw, start, encoding)
    assert len(lines) == len(expected)
    step = rng.randrange(1, 7)
    got = [s for a in range(0, len(lines), step) for s in lines.chunk(a, a + step)]
    assert got == expected
    kept = lines.without_blank_and_comments()
    want = [s for s in expected if (u := s.strip()) and u[0] != "#"]
    got = [s for a in range(0, len(kept), step) for s in kept.chunk(a, a + step)]
    assert got == want
    assert [expected[j] for j in kept.indices()] == want


def test_reading_short_rows_takes_a_few_times_the_file_not_a_string_per_line(tmp_path: Path) -> None:
    # The reader held every line as a Python string: 12.9x the file at its peak for rows of
    # ~14 bytes (a 52 MB upload took a server from 476 to 1,364 MiB). Offsets and chunks: 9.4x,
    # most of it the float64 result (2.3x) and its copy.
    rows = 150_000
    path = tmp_path / "short.csv"
    path.write_text("time_s,acc_x_g,acc_y_g,acc_z_g\n" + "".join(f"{i / 100:.2f},0,0,1\n" for i in range(rows)))
    size = path.stat().st_size
    read_csv(path)  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        samples = read_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(samples) == rows and np.all(samples.acc_g[:, 2] == 1.0)
    assert peak < 11 * size, f"peak {peak / size:.1f}x the file"
