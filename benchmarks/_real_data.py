"""Loaders and truth for the eight real datasets in ``../shared/data`` (read in place, never copied).

Each loader returns :class:`RealCase` items: the recording as
:class:`~hipflex.dsp.types.ImuSamples` (acc in g, gyro in deg/s, time in s)
and the rep count it should give at default settings, or ``None`` where the
truth is not clear enough to judge a count (see each loader).  The data
README (``../shared/data/README.md``) documents every format used here.
Used by ``accuracy_wide.py`` (the real-recordings table) and by
``tests/sensor/files/test_real_recordings.py`` (through ``tests/sensor/files/real_kit.py``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hipflex.dsp import Settings, analyze
from hipflex.dsp.types import ImuSamples
from hipflex.dsp.units import STANDARD_GRAVITY_MPS2

__all__ = [
    "CLEAR_ROM_BAND",
    "DATASETS",
    "RealCase",
    "bilkent",
    "bilkent_rep_roms_deg",
    "cmu",
    "ebbelaar",
    "eurobench",
    "hugadb",
    "marpino",
    "oxford",
    "real_summary",
    "thigh_tilt_rise_deg",
    "utd_mhad",
]

G = STANDARD_GRAVITY_MPS2
#: A set's reps are "clear" when every rep's ROM is at least (1 + band) x min_rom_deg and
#: "clearly too small" when every one is below (1 - band) x min_rom_deg; in between the count
#: depends on how the angle is measured, so it is not judged.  The band covers the error of
#: the accelerometer tilt used to measure the ROM (low-pass, the leg's own acceleration).
CLEAR_ROM_BAND = 0.2
#: Wrong files listed per dataset in the summary table.
MAX_LISTED = 20


@dataclass(frozen=True)
class RealCase:
    """One real recording and its expected rep count.

    ``expected`` None: not judged.  ``tolerance_pct`` > 0: the count passes
    within that many percent of ``expected`` (step counts).
    """

    dataset: str
    name: str
    samples: ImuSamples
    expected: int | None
    tolerance_pct: float = 0.0
    note: str = ""

    def passes(self, count: int) -> bool | None:
        """Whether ``count`` matches the truth (None when not judged)."""
        if self.expected is None:
            return None
        if self.tolerance_pct > 0:
            return abs(count - self.expected) <= self.tolerance_pct / 100.0 * self.expected
        return count == self.expected

    def acc_only(self) -> RealCase:
        """The same recording without its gyro columns."""
        return replace(self, samples=ImuSamples(self.samples.time_s, self.samples.acc_g, None))


def _clear_count(roms_deg: np.ndarray, n_reps: int, min_rom_deg: float) -> int | None:
    if np.all(roms_deg >= (1.0 + CLEAR_ROM_BAND) * min_rom_deg):
        return n_reps
    if np.all(roms_deg < (1.0 - CLEAR_ROM_BAND) * min_rom_deg):
        return 0
    return None


def _moving_mean(x: np.ndarray, n: int) -> np.ndarray:
    return np.convolve(x, np.ones(n) / n, mode="same")


# --- UTD-MHAD: 31 single squats, 50 Hz, g and deg/s, no time column -------------------------


def utd_mhad(root: Path) -> list[RealCase]:
    """Action 27 (squat) clips: one squat each (README section 7)."""
    from scipy.io import loadmat

    out = []
    for path in sorted((root / "utd_mhad_thigh_squat" / "raw" / "Inertial").glob("a27_*_inertial.mat")):
        d = np.asarray(loadmat(path)["d_iner"], dtype=np.float64)
        t = np.arange(d.shape[0]) / 50.0
        out.append(RealCase("UTD-MHAD squat", path.stem, ImuSamples(t, d[:, :3], d[:, 3:6]), 1))
    return out


# --- Bilkent: leg raises lying down, 25 Hz, m/s^2 and rad/s ---------------------------------


def _bilkent_session(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.loadtxt(path, delimiter=";", skiprows=1)
    return (d[:, 0] - 1.0) / 25.0, d[:, 1:4] / G, np.degrees(d[:, 4:7])


def _bilkent_cuts(gyr_dps: np.ndarray, fs_hz: float = 25.0) -> list[int]:
    """Row indices cutting a session into its 3 sets: the middles of its two longest rests.

    Active = the 1 s mean of |gyro| above 8 deg/s; the rests are the longest
    inactive runs between the first and the last activity (19-56 s; every
    other pause inside a set is under 8 s).
    """
    n = int(fs_hz)
    active = _moving_mean(np.linalg.norm(gyr_dps, axis=1), n) > 8.0
    idx = np.flatnonzero(active)
    quiet = ~active[idx[0] : idx[-1] + 1]
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = np.argsort(ends - starts)[::-1][:2]
    mids = sorted(int(idx[0] + (starts[k] + ends[k]) // 2) for k in longest)
    return [0, *mids, gyr_dps.shape[0]]


def bilkent_rep_roms_deg(acc_g: np.ndarray, n_reps: int = 10) -> np.ndarray:
    """Each rep's ROM in one set, degrees, from the accelerometer's tilt.

    Tilt = angle of the 0.2 s mean of the specific force from its direction
    at the set's opening rest (median of the first 2 s).  The ``n_reps``
    most prominent tilt peaks (scipy ``find_peaks``, at least 0.6 s apart)
    are the reps; their prominences are the ROMs (the 11th peak is 1-20
    degrees, far below the 10th in the sets with clear reps).
    """
    from scipy.signal import find_peaks

    f = np.column_stack([_moving_mean(acc_g[:, j], 5) for j in range(3)])
    g0 = np.median(acc_g[:50], axis=0)
    u = f / np.linalg.norm(f, axis=1)[:, None]
    tilt = np.degrees(np.arccos(np.clip(u @ (g0 / np.linalg.norm(g0)), -1.0, 1.0)))
    _, props = find_peaks(tilt, distance=15, prominence=0.5)
    prom = np.sort(props["prominences"])[::-1]
    return np.sort(prom[:n_reps])


def bilkent(root: Path, min_rom_deg: float | None = None) -> list[RealCase]:
    """27 sets (3 subjects x 3 exercises x 3 sets of 10) cut at the middles of the rests (README 6).

    Expected: 10 where every rep's tilt ROM is clear of ``min_rom_deg`` by
    ``CLEAR_ROM_BAND``, 0 where every one is below it by the band, None
    otherwise (with min_rom_deg 20: 10 for 11 sets, 0 for 6, None for 10).
    """
    min_rom = Settings().min_rom_deg if min_rom_deg is None else min_rom_deg
    out = []
    for path in sorted((root / "bilkent_physical_therapy_thigh" / "raw").glob("s*/e*/u3/test.txt")):
        subject, exercise = path.parts[-4], path.parts[-3]
        t, acc, gyr = _bilkent_session(path)
        cuts = _bilkent_cuts(gyr)
        for k in range(3):
            a, b = cuts[k], cuts[k + 1]
            roms = bilkent_rep_roms_deg(acc[a:b])
            name = f"{subject}_{exercise}_set{k + 1}"
            note = f"tilt ROM {roms.min():.0f}-{roms.max():.0f}°"
            samples = ImuSamples(t[a:b], acc[a:b], gyr[a:b])
            out.append(RealCase("Bilkent leg raise", name, samples, _clear_count(roms, 10, min_rom), note=note))
    return out


# --- HuGaDB: 4 sit-stand-sit cycles, both thighs, int16, ~58.8 Hz, no time column -------------


def hugadb(root: Path) -> list[RealCase]:
    """Right and left thigh of participant 01: 4 sit-downs each (README section 8)."""
    path = root / "hugadb_sit_to_stand" / "raw" / "HuGaDB_v2_various_01_00.txt"
    if not path.is_file():
        return []
    with path.open() as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    header = lines[0].split()
    data = np.array([[float(x) for x in ln.split()] for ln in lines[1:] if ln.strip()])
    t = np.arange(data.shape[0]) / 58.8
    out = []
    for side in ("rt", "lt"):
        acc = data[:, [header.index(f"acc_{side}_{a}") for a in "xyz"]] / 16384.0
        gyr = data[:, [header.index(f"gyro_{side}_{a}") for a in "xyz"]] / 16.384
        # Starting seated: each stand-up is a fall of the angle, each sit-down a 70-73° rise.
        out.append(RealCase("HuGaDB sit-stand", f"{side} thigh", ImuSamples(t, acc, gyr), 4))
    return out


# --- Oxford: phone in the front trouser pocket, acc only, uneven 100-400 Hz -------------------


def _pad_steps(pads: np.ndarray) -> int:
    return int(sum(np.sum((pads[1:, j] == 1) & (pads[:-1, j] == 0)) for j in range(pads.shape[1])))


def oxford(root: Path) -> list[RealCase]:
    """Walks: expected strides of the pocket's thigh = pressure-pad steps / 2, within 5 % (README 3)."""
    base = root / "oxford_step_counter_pocket"
    out = []
    for folder in sorted((base / "data").glob("*FrontPocket*")):
        acc = np.loadtxt(folder / "accelerometer.csv", delimiter=",")
        pads = np.loadtxt(folder / "stepcounter.csv", delimiter=",")
        steps = _pad_steps(pads[:, 1:3])  # reproduces optimisation_stats.csv (268, 266, ...)
        t, keep = _increasing(acc[:, 0] * 1e-9)
        samples = ImuSamples(t, acc[keep, 2:5] / G, None)
        out.append(RealCase("Oxford pocket walk", folder.name, samples, round(steps / 2), 5.0, f"{steps} pad steps"))
    for path in sorted((base / "validation").glob("*frontpocket*.csv")):
        d = np.loadtxt(path, delimiter=",")
        steps = int(d[-1, 5])
        t, keep = _increasing(d[:, 0] * 1e-9)
        samples = ImuSamples(t, d[keep, 1:4] / G, None)
        out.append(RealCase("Oxford pocket walk", path.stem, samples, round(steps / 2), 5.0, f"{steps} pad steps"))
    return out


def _increasing(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times and the mask of rows kept so that times strictly increase (repeated stamps dropped)."""
    keep = np.concatenate([[True], np.diff(t) > 0])
    t_kept = t[keep]
    while np.any(np.diff(t_kept) <= 0):  # a stamp that went backwards: drop it too
        bad = np.flatnonzero(np.diff(t_kept) <= 0) + 1
        rows = np.flatnonzero(keep)
        keep[rows[bad]] = False
        t_kept = t[keep]
    return t_kept, keep


# --- Marpino: 5 m walks, thigh IMUs 3 (right) and 4 (left), raw integers, 100 Hz --------------


def _swing_phases(zupt: np.ndarray, fs_hz: float = 100.0) -> int:
    """Runs of 'foot moving' (0) at least 0.2 s long, after closing breaks under 0.1 s."""
    moving = zupt == 0
    # Close short still breaks inside a swing (the authors' detector flickers).
    edges = np.diff(np.concatenate([[0], (~moving).astype(np.int8), [0]]))
    s, e = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for a, b in zip(s, e, strict=True):
        if b - a < 0.1 * fs_hz and a > 0 and b < moving.size:
            moving[a:b] = True
    edges = np.diff(np.concatenate([[0], moving.astype(np.int8), [0]]))
    s, e = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.sum(e - s >= 0.2 * fs_hz))


def marpino(root: Path) -> list[RealCase]:
    """Both thighs of 10 walks; reference = swing phases of the same side's foot ZUPT (weak: README 4)."""
    base = root / "marpino_walking_thigh_shank_foot"
    out = []
    for path in sorted((base / "raw_csv").glob("*.csv")):
        with path.open() as fh:
            rows = csv.reader(fh)
            header = next(rows)
            data = np.array([[float(x) if x else np.nan for x in r] for r in rows])
        zupt_path = base / "author_estimated" / path.stem / "zupt.csv"
        zupt = np.loadtxt(zupt_path, delimiter=",", skiprows=1) if zupt_path.is_file() else None
        for k, side, col in ((3, "right", 0), (4, "left", 1)):
            cols = [header.index(f"{q}_{k}") for q in ("Time", *(f"Acc_read_{a}" for a in "xyz"))]
            cols += [header.index(f"Gyro_read_{a}_{k}") for a in "xyz"]
            d = data[:, cols]
            d = d[np.all(np.isfinite(d), axis=1)]
            t, keep = _increasing(d[:, 0] / 1000.0)
            acc = d[keep, 1:4] / 10000.0 * 9.81 / G
            gyr = d[keep, 4:7] / 100.0
            ref = None if zupt is None else _swing_phases(zupt[:, col])
            note = "reference: foot ZUPT swing phases (weak)"
            out.append(RealCase("Marpino walk", f"{path.stem} {side}", ImuSamples(t, acc, gyr), ref, note=note))
    return out


# --- Ebbelaar: wrist MetaMotion, barbell sets (a check of generality, not of the thigh) -------


def ebbelaar(root: Path) -> list[RealCase]:
    """Accelerometer files (gyro sibling merged by the MetaBase importer): heavy 5, medium 10, rest 0."""
    from hipflex.sensor.formats import load_samples

    out = []
    for path in sorted((root / "ebbelaar_barbell_wrist_metamotion" / "raw").glob("*_Accelerometer_*.csv")):
        label = path.name.split("_MetaWear")[0].strip()
        m = re.match(r"^[A-E]-(\w+)-(heavy|medium|sitting|standing)", label)
        expected = None
        if m:
            expected = {"heavy": 5, "medium": 10, "sitting": 0, "standing": 0}[m.group(2)]
        out.append(RealCase("Ebbelaar wrist barbell", label, load_samples(path, "metabase"), expected))
    return out


# --- Eurobench: sit-to-stand, thigh IMU3, 5 reps per trial -----------------------------------


def eurobench(root: Path, raw_mapping: bool = False) -> list[RealCase]:
    """5 reps per 5STS trial; ``raw_mapping`` reads the gyro z axis as stored (mirrored, README 1)."""
    from hipflex.sensor.files.column_presets import column_preset
    from hipflex.sensor.format_spec import LoadOptions
    from hipflex.sensor.formats import load_samples

    cols = column_preset("eurobench:3")
    if raw_mapping:
        cols = replace(cols, gyro_cols=tuple(c.lstrip("-") for c in (cols.gyro_cols or ())))
    label = "Eurobench sit-to-stand" + (" (raw gyro z)" if raw_mapping else "")
    out = []
    for path in sorted((root / "eurobench_bench_sit_to_stand" / "input").glob("*_5sts_*.csv")):
        out.append(RealCase(label, path.stem, load_samples(path, "csv", LoadOptions(columns=cols)), 5))
    return out


# --- CMU-MBL SUB22: one rep per file, right thigh, with a reference hip angle -----------------


def _quat_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of unit quaternions (n, 4) given as (w, x, y, z)."""
    q = q / np.linalg.norm(q, axis=1)[:, None]
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1),
        ],
        axis=1,
    )


def thigh_tilt_rise_deg(quat_wxyz: np.ndarray, acc: np.ndarray) -> float:
    """The thigh's own rise in one rep file, degrees, from the sensor's orientation quaternions.

    Tilt = angle between the world vertical seen in the sensor frame and
    where it was at the file's first row; the rise is the largest tilt minus
    the smallest before it.  The quaternion's convention (sensor-to-world or
    the reverse) is the one whose vertical lies closer to the accelerometer's
    direction row by row (the median angle; gravity dominates each row).
    Compared with the file's mean direction instead, both conventions'
    verticals can agree with it: in a Bulgarian split squat the thigh leans
    25-85 deg all file long, and the wrong one (R e_z, 20 deg from the rows'
    direction against 8 deg) agreed better with the mean (0.98 against 0.94),
    and read a 55-60 deg rise as 16-19 deg.
    """
    rot = _quat_matrices(quat_wxyz)
    unit = acc / np.linalg.norm(acc, axis=1)[:, None]
    best = None
    for v in (rot[:, 2, :], rot[:, :, 2]):  # R^T e_z and R e_z
        off_deg = float(np.nanmedian(np.degrees(np.arccos(np.clip(np.abs(np.sum(v * unit, axis=1)), 0.0, 1.0)))))
        if best is None or off_deg < best[0]:
            best = (off_deg, v)
    assert best is not None
    v = best[1]
    tilt = np.degrees(np.arccos(np.clip(v @ v[0], -1.0, 1.0)))
    i_max = int(np.nanargmax(tilt))
    return float(tilt[i_max] - np.nanmin(tilt[: i_max + 1]))


def cmu(root: Path) -> list[RealCase]:
    """Rep files of SUB22 (right thigh); expected 1 where the thigh clearly rises past min_rom_deg.

    The thigh's rise comes from the sensor's own orientation quaternions
    (:func:`thigh_tilt_rise_deg`; the reference hip angle includes the
    pelvis, which tilts with the thigh in squats and step-ups); 1 when at
    least (1 + band) x min_rom_deg, 0 below (1 - band) x min_rom_deg, else
    None.  The files are cut tightly around each rep (no quiet standing
    before it), and a rep file of a walk or a run is one step, not a set.
    """
    base = root / "cmu_mbl_imu_exercise_sub22"
    min_rom = Settings().min_rom_deg
    out = []
    for f in sorted((base / "parsed_h5_csv" / "SUB22").glob("*/*.csv")):
        imu = _three_row_csv(f)
        t = imu[("RightThigh", "Time", "S")]
        if t.size < 20:
            continue
        acc_mps2 = np.column_stack([imu[("RightThigh", "Accelerometer", c)] for c in "XYZ"])
        gyr = np.degrees(np.column_stack([imu[("RightThigh", "Gyroscope", c)] for c in "XYZ"]))
        quat = np.column_stack([imu[("RightThigh", "Orientation", c)] for c in "SXYZ"])
        rise = thigh_tilt_rise_deg(quat, acc_mps2)
        # A walk or run "rep" file is a 0.2-0.7 s fragment of a gait cycle, not a rep.
        expected = None if f.parent.name in ("Walk", "Run") else _clear_count(np.array([rise]), 1, min_rom)
        name = f"{f.parent.name}/{f.stem}"
        samples = ImuSamples(t, acc_mps2 / G, gyr)
        out.append(RealCase("CMU-MBL single rep", name, samples, expected, note=f"thigh rise {rise:.0f}°"))
    return out


def _three_row_csv(path: Path) -> dict[tuple[str, str, str], np.ndarray]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    seg, qty, comp = rows[0], rows[1], rows[2]
    data = np.array([[float(x) if x else np.nan for x in r] for r in rows[3:]])
    cols: dict[tuple[str, str, str], np.ndarray] = {}
    for i in range(1, len(seg)):
        cols.setdefault((seg[i], qty[i], comp[i]), data[:, i])
    return cols


#: Every loader, in the order of the data README.
DATASETS: dict[str, Callable[[Path], list[RealCase]]] = {
    "eurobench": eurobench,
    "eurobench_raw": lambda root: eurobench(root, raw_mapping=True),
    "cmu": cmu,
    "oxford": oxford,
    "marpino": marpino,
    "ebbelaar": ebbelaar,
    "bilkent": bilkent,
    "utd_mhad": utd_mhad,
    "hugadb": hugadb,
}


#: Datasets whose truth is a stride count of walking: the core classifies walking (not reps) and
#: reports its strides in ``quality.walking_strides``.
WALKING_DATASETS = ("Oxford pocket walk", "Marpino walk")


def _count(case: RealCase) -> int | str:
    try:
        result = analyze(case.samples, Settings())
        return result.quality.walking_strides if case.dataset in WALKING_DATASETS else result.rep_count
    except Exception as exc:  # a benchmark reports failures, it does not stop
        return f"{type(exc).__name__}: {exc}"


def real_summary(root: Path, details: bool = True) -> str:
    """Per dataset: files whose count is right / files judged, acc+gyro and acc-only, at default settings."""
    if not root.is_dir():
        return f"Real recordings skipped: {root} is absent."
    lines = [
        "## Real recordings at default settings\n",
        "| dataset | files | judged | right, acc+gyro | right, acc-only | wrong (expected → acc+gyro / acc-only) |",
        "|---|---|---|---|---|---|",
    ]
    for key, loader in DATASETS.items():
        try:
            cases = loader(root)
        except Exception as exc:
            lines.append(f"| {key} | load failed: {type(exc).__name__}: {exc} | | | | |")
            continue
        if not cases:
            continue
        judged = [c for c in cases if c.expected is not None]
        has_gyro = any(c.samples.gyr_dps is not None for c in cases)
        ok_g = ok_a = 0
        wrong = []
        for c in judged:
            g = _count(c) if has_gyro else None
            a = _count(c.acc_only())
            pg = (not has_gyro) or (isinstance(g, int) and bool(c.passes(g)))
            pa = isinstance(a, int) and bool(c.passes(a))
            ok_g += pg
            ok_a += pa
            if not pg or not pa:
                wrong.append(f"{c.name}: {c.expected} → {'—' if g is None else g} / {a}")
        g_col = f"{ok_g} / {len(judged)}" if has_gyro else "— (no gyro)"
        tol = " (±5 %)" if any(c.tolerance_pct for c in cases) else ""
        shown = "; ".join(wrong[:MAX_LISTED]) + (
            f"; … {len(wrong) - MAX_LISTED} more" if len(wrong) > MAX_LISTED else ""
        )
        if not details:
            shown = f"{len(wrong)} files"
        lines.append(
            f"| {cases[0].dataset}{tol} | {len(cases)} | {len(judged)} | {g_col} | {ok_a} / {len(judged)} | {shown} |"
        )
    return "\n".join(lines)
