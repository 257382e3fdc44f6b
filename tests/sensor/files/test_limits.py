"""Size limits of delimited text files: refused before any per-column work, in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from hipflex.sensor.files.csv_io import read_csv
from hipflex.sensor.files.limits import MAX_COLUMNS, MAX_LINE_CHARS, first_repeated
from hipflex.sensor.files.text_table import read_table
from hipflex.sensor.format_spec import InputError


def test_first_repeated_is_the_first_name_seen_again() -> None:
    assert first_repeated(["a", "b", "", "", "c"]) is None  # empty names may repeat
    assert first_repeated(["a", "b", "c", "b", "a"]) == "b"
    assert first_repeated([f"c{i}" for i in range(200_000)] + ["c7"]) == "c7"


@pytest.mark.parametrize("reader", [read_csv, read_table])
def test_wide_headers_and_long_lines_are_refused(tmp_path: Path, reader: object) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["time_s"] * (MAX_COLUMNS + 1)) + "\n" + "1\n")
    with pytest.raises(InputError, match=f"header has {MAX_COLUMNS + 1} columns"):
        reader(wide)  # type: ignore[operator]
    longer = tmp_path / "long.csv"
    longer.write_text("time_s,acc_x_g,acc_y_g,acc_z_g\n0,0,0,1\n\n" + "1" * MAX_LINE_CHARS + "1,0,0,1\n")
    with pytest.raises(InputError, match=f"line 4 is {MAX_LINE_CHARS + 7} characters long"):
        reader(longer)  # type: ignore[operator]
