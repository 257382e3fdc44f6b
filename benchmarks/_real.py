"""Real third-party recordings for the accuracy benchmark (read from ``../shared/data``).

* Eurobench BENCH sit-to-stand: thigh IMU (IMU3), 5 reps per trial; the seat
  force plate gives an independent count (unloadings of ``Fz_seat``).
* CMU-MBL SUB22: thigh gyro flexion velocity against the velocity of the
  reference hip flexion angle, rep by rep.

The data may not be redistributed; nothing here copies it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from _real_data import _three_row_csv  # one parser of the CMU-MBL three-row header (benchmarks/ is on sys.path)

from hipflex.dsp import Settings, analyze
from hipflex.dsp.types import ImuSamples

__all__ = ["EUROBENCH_COLUMNS", "cmu_velocity", "eurobench_counts", "real_tables"]

#: The documented import of the Eurobench thigh IMU (also given in the README as a CLI call).
#: The gyro z axis of these files is mirrored relative to the accelerometer (found by
#: rotating the sitting gravity vector with the integrated gyro: 1-3° error with z negated,
#: 41-79° without), hence the "-" prefix.
EUROBENCH_COLUMNS = dict(
    time_col="time",
    acc_cols=("Ax3", "Ay3", "Az3"),
    gyro_cols=("Gx3", "Gy3", "-Gz3"),
    acc_unit="m/s2",
    gyro_unit="dps",
)


def _read_header_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open() as fh:
        rows = csv.reader(fh)
        header = next(rows)
        data = np.array([[float(x) for x in r] for r in rows])
    return header, data


def seat_unloadings(path: Path) -> int:
    """Independent rep count: drops of Fz_seat below 50 % of its 95th percentile."""
    header, data = _read_header_csv(path)
    fz = data[:, header.index("Fz_seat")]
    level = 0.5 * np.percentile(fz, 95)
    below = fz < level
    return int(np.sum(below[1:] & ~below[:-1]))


def _load_eurobench(path: Path, with_gyro: bool, raw_gyro: bool = False) -> ImuSamples:
    from hipflex.sensor.format_spec import ColumnMap, LoadOptions
    from hipflex.sensor.formats import load_samples

    cols = dict(EUROBENCH_COLUMNS)
    if not with_gyro:
        cols["gyro_cols"] = None
    elif raw_gyro:  # the files' own axes, z not negated: the gyro-frame check must find the mirror
        cols["gyro_cols"] = ("Gx3", "Gy3", "Gz3")
    return load_samples(path, "csv", LoadOptions(columns=ColumnMap(**cols)))  # type: ignore[arg-type]


def eurobench_counts(root: Path) -> list[tuple[str, int, int, int, list[float], float | None, str, int, str]]:
    """Per 5STS trial: (file, seat count, gyro count, acc-only count, gyro peak angles, rest mismatch deg, note,
    gyro count with the raw axes (Gz3 not negated), what the gyro-frame check said about the raw axes)."""
    out = []
    for path in sorted((root / "eurobench_bench_sit_to_stand" / "input").glob("*_5sts_*.csv")):
        ref = seat_unloadings(path)
        try:
            g = analyze(_load_eurobench(path, True), Settings())
            a = analyze(_load_eurobench(path, False), Settings())
            raw = analyze(_load_eurobench(path, True, raw_gyro=True), Settings())
        except Exception as exc:
            out.append((path.name, ref, -1, -1, [], None, f"{type(exc).__name__}: {exc}", -1, ""))
            continue
        header, data = _read_header_csv(path)
        acc = data[:, [header.index(c) for c in ("Ax3", "Ay3", "Az3")]]
        rest_g = float(np.linalg.norm(acc[:50].mean(axis=0)) / 9.80665)
        notes = [] if abs(rest_g - 1.0) < 0.1 else [f"accelerometer reads {rest_g:.2f} g at rest"]
        if g.quality.calibration != "quiet window":
            notes.append(f"rest pose from the {g.quality.calibration}")
        if not g.quality.angles_reliable:
            notes.append("gyro and accelerometer disagree at rest: angles unreliable")
        if g.quality.gyro_frame_mismatch:
            notes.append("gyro does not turn gravity as the accelerometer sees it: warned")
        note = "; ".join(notes)
        peaks = [r.peak_flexion_deg for r in g.reps]
        check = raw.quality.gyro_frame
        raw_note = "" if check is None else (check.correction or check.verdict)
        mismatch = g.quality.rest_mismatch_deg
        out.append((path.name, ref, g.rep_count, a.rep_count, peaks, mismatch, note, raw.rep_count, raw_note))
    return out


def cmu_velocity(root: Path) -> list[tuple[str, int, float, float, float]]:
    """Per exercise: reps, median peak thigh gyro velocity / peak hip-angle velocity,
    median correlation of the two velocity curves, median RMS difference (deg/s)."""
    base = root / "cmu_mbl_imu_exercise_sub22"
    imu_dir = base / "parsed_h5_csv" / "SUB22"
    ang_dir = base / "parsed_joint_angles_all" / "SUB22"
    out = []
    for ex_dir in sorted(p for p in imu_dir.iterdir() if p.is_dir()):
        ratios, corrs, rmss = [], [], []
        for f in sorted(ex_dir.glob("*.csv")):
            ang_f = ang_dir / ex_dir.name / f.name
            if not ang_f.exists():
                continue
            imu = _three_row_csv(f)
            ang = _three_row_csv(ang_f)
            gyr = np.column_stack([imu[("RightThigh", "Gyroscope", c)] for c in "XYZ"])
            t = imu[("RightThigh", "Time", "S")]
            hip = ang[("RightHipAngle", "ML", "X")]
            if len(t) < 20:
                continue
            dt = float(np.median(np.diff(t)))
            # Thigh flexion rate: the gyro's principal axis (what hipflex locks
            # on), signed to agree with hip flexion, deg/s.
            w = np.degrees(gyr)
            axis = np.linalg.eigh(w.T @ w)[1][:, -1]
            vel = w @ axis
            ref = np.gradient(hip, dt)
            if np.dot(vel, ref) < 0:
                vel = -vel
            ratios.append(np.max(np.abs(vel)) / max(np.max(np.abs(ref)), 1e-9))
            corrs.append(float(np.corrcoef(vel, ref)[0, 1]))
            rmss.append(float(np.sqrt(np.mean((vel - ref) ** 2))))
        if ratios:
            out.append((ex_dir.name, len(ratios), float(np.median(ratios)), float(np.median(corrs)),
                        float(np.median(rmss))))  # fmt: skip
    return out


def real_tables(root: Path) -> str:
    """Markdown tables for the real recordings, or a line saying why they were skipped."""
    if not root.is_dir():
        return f"Real recordings skipped: {root} is absent."
    lines = ["## Real recordings\n", "### Eurobench BENCH sit-to-stand (thigh IMU3, 5 reps per trial)\n"]
    lines.append(
        "| trial | seat-force count | hipflex acc+gyro | hipflex acc-only | peak angles (gyro) ° "
        "| rest mismatch ° | raw gyro axes (Gz3): count, gyro frame | note |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, ref, g, a, peaks, mismatch, note, raw_n, raw_note in eurobench_counts(root):
        pk = ", ".join(f"{p:.0f}" for p in peaks)
        mm = "" if mismatch is None else f"{mismatch:.1f}"
        lines.append(f"| {name} | {ref} | {g} | {a} | {pk} | {mm} | {raw_n}, {raw_note} | {note} |")
    lines.append("\n### CMU-MBL SUB22: right-thigh gyro flexion velocity vs reference hip-angle velocity\n")
    lines.append("| exercise | reps | peak ratio (thigh/hip) median | correlation median | RMS diff deg/s |")
    lines.append("|---|---|---|---|---|")
    for ex, n, ratio, corr, rms in cmu_velocity(root):
        lines.append(f"| {ex} | {n} | {ratio:.2f} | {corr:.2f} | {rms:.1f} |")
    return "\n".join(lines)
