"""Many analyses as three tidy tables (reps, sets, recordings) through pyarrow, and their files.

The rep and set columns are the core's own (:data:`hipflex.dsp.types.REP_COLUMNS`,
:data:`~hipflex.dsp.types.SET_COLUMNS`: units in the names, numbers counted from 1); the
recordings table adds what each file was: its content hash, whether it was analysed or why not,
the quality summary, the settings and the version.  One ``--out`` path names three files:
``results.parquet`` is written as ``results.reps.parquet``, ``results.sets.parquet`` and
``results.recordings.parquet`` (the same for ``.csv``), see :func:`table_paths`.

pyarrow (and pandas, for :meth:`SeasonTables.to_pandas`) are imported only inside the functions
that need them, so importing this module costs nothing on the analyse path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hipflex.dsp.types import REP_COLUMNS, SCHEMA, SET_COLUMNS, Analysis

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "RECORDING_COLUMNS",
    "TABLE_NAMES",
    "RecordingResult",
    "SeasonTables",
    "merge_done",
    "read_tables",
    "result_tables",
    "settings_json",
    "table_paths",
    "write_tables",
]

#: The three tables, in the order they are written.
TABLE_NAMES: tuple[str, str, str] = ("reps", "sets", "recordings")

#: Columns of the per-recording table and their kinds (int, float, str, bool).  ``status`` is
#: ``ok`` or ``error`` (then ``error`` says why and the analysis columns are empty).
RECORDING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "str"), ("content_sha256", "str"), ("status", "str"), ("error", "str"),
    ("hipflex_version", "str"), ("schema", "str"), ("settings_json", "str"),
    ("sample_rate_hz", "float"), ("duration_s", "float"), ("has_gyro", "bool"),
    ("set_count", "int"), ("rep_count", "int"), ("gaps", "int"), ("lost_s", "float"),
    ("clipped_samples", "int"), ("orientation", "str"), ("angle_model", "str"), ("calibration", "str"),
    ("calibrated_at_s", "float"), ("rest_mismatch_deg", "float"), ("angles_reliable", "bool"),
    ("gyro_correction", "str"), ("walking_s", "float"), ("rejected_candidates", "int"),
)  # fmt: skip

_SPECS: dict[str, tuple[tuple[str, str], ...]] = {
    "reps": REP_COLUMNS,
    "sets": SET_COLUMNS,
    "recordings": RECORDING_COLUMNS,
}


@dataclass(frozen=True)
class RecordingResult:
    """What one recording gave: an analysis, or the one-line reason it has none.

    Parameters
    ----------
    source : str
        The recording as the user named it.
    content_sha256 : str or None
        SHA-256 of the file's bytes (hex); None when it could not be read.
    analysis : Analysis or None
        The result; None when the recording failed (``error``) or was skipped.
    error : str or None
        One line: what went wrong.
    status : int
        0 analysed, 2 bad input, 1 an unexpected error (the exit status it asks for).
    settings_json : str
        The settings it was (or was to be) analysed with, as JSON.
    version : str
        The hipflex version that produced it.
    skipped : bool
        Not analysed because the output already holds it (``--skip-done``).
    """

    source: str
    content_sha256: str | None
    analysis: Analysis | None = None
    error: str | None = None
    status: int = 0
    settings_json: str = ""
    version: str = ""
    skipped: bool = False


@dataclass(frozen=True)
class SeasonTables:
    """The three tables (``pyarrow.Table`` each), rows in input order."""

    reps: pa.Table
    sets: pa.Table
    recordings: pa.Table

    def to_pandas(self) -> tuple[Any, Any, Any]:
        """``(reps, sets, recordings)`` as pandas DataFrames (pandas is imported here)."""
        return (self.reps.to_pandas(), self.sets.to_pandas(), self.recordings.to_pandas())

    def table(self, name: str) -> pa.Table:
        """One table by name (one of :data:`TABLE_NAMES`)."""
        if name not in TABLE_NAMES:
            raise ValueError(f"no table {name!r}; the tables are {', '.join(TABLE_NAMES)}")
        table: pa.Table = getattr(self, name)
        return table


def settings_json(settings: Any) -> str:
    """Settings as canonical JSON (sorted keys), for the recordings table and ``--skip-done``."""
    return json.dumps(settings.to_dict(), sort_keys=True, allow_nan=False)


def _schema(spec: tuple[tuple[str, str], ...]) -> pa.Schema:
    import pyarrow as pa

    kinds = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    return pa.schema([(name, kinds[kind]) for name, kind in spec])


def _recording_row(r: RecordingResult) -> tuple[Any, ...]:
    a = r.analysis
    head = (r.source, r.content_sha256, "ok" if a is not None else "error", r.error, r.version or None,
            SCHEMA if a is not None else None, r.settings_json or None)  # fmt: skip
    if a is None:
        return head + (None,) * (len(RECORDING_COLUMNS) - len(head))
    q = a.quality
    return (
        *head, a.sample_rate_hz, a.duration_s, a.has_gyro, len(a.sets), a.rep_count, q.gaps, q.lost_s,
        q.clipped_samples, q.orientation, q.angle_model, q.calibration, q.calibrated_at_s,
        q.rest_mismatch_deg, q.angles_reliable, q.gyro_correction, q.walking_s, len(q.rejections),
    )  # fmt: skip


def _as_result(item: RecordingResult | Analysis) -> RecordingResult:
    if isinstance(item, RecordingResult):
        return item
    return RecordingResult(item.source, None, item, settings_json=settings_json(item.settings), version=item.version)


def result_tables(results: Iterable[RecordingResult | Analysis]) -> SeasonTables:
    """Many results as the three tables, rows in the order given.

    Parameters
    ----------
    results : iterable of RecordingResult or Analysis
        A bare :class:`~hipflex.dsp.types.Analysis` has no content hash (null).  Skipped
        results contribute no rows (their rows are the earlier output's, see ``--skip-done``).

    Returns
    -------
    SeasonTables
        ``reps`` one row per measured rep, ``sets`` one per set, ``recordings`` one per result
        (failed ones too, with ``status`` ``error``).
    """
    import pyarrow as pa

    cols: dict[str, dict[str, list[Any]]] = {t: {name: [] for name, _ in _SPECS[t]} for t in TABLE_NAMES}
    for item in results:
        r = _as_result(item)
        if r.skipped:
            continue
        if r.analysis is not None:
            for table, part in (("reps", r.analysis.rep_columns()), ("sets", r.analysis.set_columns())):
                for name, values in part.items():
                    cols[table][name].extend(values)
        for (name, _), value in zip(RECORDING_COLUMNS, _recording_row(r), strict=True):
            cols["recordings"][name].append(value)
    tables = {}
    for t in TABLE_NAMES:
        schema = _schema(_SPECS[t])
        # from_pandas: NaN (a metric that could not be computed) becomes null, as in the JSON contract.
        arrays = [pa.array(cols[t][f.name], type=f.type, from_pandas=True) for f in schema]
        tables[t] = pa.Table.from_arrays(arrays, schema=schema)
    return SeasonTables(**tables)


def table_paths(out: str | os.PathLike[str]) -> dict[str, Path]:
    """The three files one ``--out`` path stands for: ``X.parquet`` -> ``X.reps.parquet``, ``X.sets...``.

    Raises
    ------
    ValueError
        When the name ends in neither ``.parquet`` nor ``.csv``.
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{out}: the output must end in .parquet or .csv")
    stem = path.with_suffix("")
    return {t: stem.with_name(f"{stem.name}.{t}{path.suffix}") for t in TABLE_NAMES}


def write_tables(tables: SeasonTables, out: str | os.PathLike[str]) -> list[Path]:
    """Write the three tables next to each other (see :func:`table_paths`); returns their paths.

    Each file is written to a temporary name and renamed into place, so a run that stops half
    way leaves the earlier output whole (``--skip-done`` reads it).
    """
    paths = table_paths(out)
    written = []
    for name, path in paths.items():
        tmp = path.with_name(f".{path.name}.tmp")
        table = tables.table(name)
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        os.replace(tmp, path)
        written.append(path)
    return written


def read_tables(out: str | os.PathLike[str]) -> SeasonTables | None:
    """The tables an earlier run wrote at ``out``, or None when any of the three is missing."""
    paths = table_paths(out)
    if not all(p.is_file() for p in paths.values()):
        return None
    tables = {}
    for name, path in paths.items():
        schema = _schema(_SPECS[name])
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            tables[name] = pq.read_table(path, schema=schema)
        else:
            import pyarrow.csv as pcsv

            convert = pcsv.ConvertOptions(column_types=schema, strings_can_be_null=True)
            tables[name] = pcsv.read_csv(path, convert_options=convert).select(schema.names)
    return SeasonTables(**tables)


def merge_done(earlier: SeasonTables, new: Sequence[RecordingResult]) -> SeasonTables:
    """The earlier output's rows for what this run did not redo, then this run's rows.

    A recording analysed again in this run (not ``skipped``) replaces its earlier rows (matched
    by ``source``); every other earlier row is kept, so an output grows over a season.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    redone = pa.array(sorted({r.source for r in new if not r.skipped}), type=pa.string())
    fresh = result_tables(new)
    merged = {}
    for name in TABLE_NAMES:
        old = earlier.table(name)
        keep = old.filter(pc.invert(pc.is_in(old["source"], value_set=redone)))
        merged[name] = pa.concat_tables([keep, fresh.table(name)])
    return SeasonTables(**merged)
