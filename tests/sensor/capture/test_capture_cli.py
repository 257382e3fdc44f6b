"""``hipflex analyze`` on captures and third-party exports, run as a real process; the H10 fixture golden."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hipflex.sensor.capture.log import CaptureDevice, CaptureHeader, StreamSettings
from hipflex.sensor.sim.capture import verity_notifications, write_capture
from hipflex.sensor.sim.simulate import SensorModel, simulate_drill

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path("fixtures/h10/sim_ballistic")


def cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hipflex", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def without_version(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "hipflex_version"}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["auto", "capture"])
def test_fixture_analysis_equals_expected(fmt: str) -> None:
    expected = json.loads((REPO_ROOT / FIXTURE / "expected.json").read_text())
    proc = cli("analyze", str(FIXTURE / "capture.jsonl"), "--json", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert without_version(json.loads(line)) == without_version(expected)


def test_fixture_is_small_described_and_right() -> None:
    folder = REPO_ROOT / FIXTURE
    assert (folder / "capture.jsonl").stat().st_size <= 300 * 1024
    meta = json.loads((folder / "meta.json").read_text())
    for key in ("device", "firmware", "rates", "placement", "drill", "provenance"):
        assert key in meta
    expected = json.loads((folder / "expected.json").read_text())
    # The golden is not just any output: it counts the simulated reps set by set.
    assert [s["rep_count"] for s in expected["sets"]] == meta["truth"]["reps_per_set"]
    assert expected["quality"]["gaps"] == len(meta["lost_notifications"])


@pytest.mark.slow
def test_fixture_regenerates_identically() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "fixtures" / "regenerate.py"), "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def verity_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A simulated strength session recorded as Verity Sense ACC + GYRO frames."""
    sim = simulate_drill("strength", fs_hz=52.0, seed=3, n_sets=1, sensor=SensorModel.verity_sense(52.0))
    s = sim.samples
    assert s.gyr_dps is not None
    path = tmp_path_factory.mktemp("cap") / "verity.jsonl"
    header = CaptureHeader(
        CaptureDevice("polar", "Verity Sense", "Polar Sense 0000", "", "2.1.0"),
        {"acc": StreamSettings(52.0, range_g=8), "gyro": StreamSettings(52.0, range_dps=2000, factor=0.5)},
        started_unix_s=1.7e9,
        started_host_s=100.0,
    )
    recs = verity_notifications(s.time_s, s.acc_g, s.gyr_dps, gyro_factor=0.5, host_t0_s=100.0, latency_s=0.05)
    write_capture(path, header, recs)
    return path, len(sim.truth.reps)


@pytest.mark.slow
def test_cli_analyses_a_capture_as_json(verity_capture: tuple[Path, int]) -> None:
    path, n_reps = verity_capture
    proc = cli("analyze", path.name, "--json", cwd=path.parent)
    assert proc.returncode == 0, proc.stderr
    (doc,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert doc["schema"] == "hipflex.analysis/2" and doc["source"] == path.name
    assert doc["sensor"] == {"gyro": True} and doc["quality"]["orientation"] == "gyro+acc"
    assert doc["rep_count"] == n_reps
    assert doc["sample_rate_hz"] == pytest.approx(52.0, rel=0.01)


@pytest.mark.slow
def test_cli_keeps_going_past_a_corrupt_line_and_rejects_a_non_capture(
    verity_capture: tuple[Path, int], tmp_path: Path
) -> None:
    src, n_reps = verity_capture
    lines = src.read_text().splitlines()
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join([*lines[:50], '{"t": 1, "char": "x", "data": "zz"}', *lines[50:]]) + "\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hipflex_capture": 1, "device": {"kind": "polar"}}\n')
    proc = cli("analyze", str(damaged), str(bad), "--json", "--format", "capture")
    assert proc.returncode == 2
    (doc,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert doc["rep_count"] == n_reps
    errors = [line for line in proc.stderr.splitlines() if line.startswith("hipflex:")]
    assert errors == [f"hipflex: {bad}: bad capture header: missing 'streams'"]
    assert "line 51 skipped: 'data' is not valid hex" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_cli_reads_metabase_and_polar_logger_exports(tmp_path: Path) -> None:
    n = 52 * 10
    t_ns = 762_000_000_000_000_000 + np.rint(np.arange(n) * 1e9 / 52).astype(np.int64)
    psl = tmp_path / "Polar_H10_1A2B3C4D_20240301_101500_ACC.txt"
    psl.write_text(
        "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
        + "".join(f"2024-03-01T10:15:00.000;{int(t)};12;-980;35\n" for t in t_ns)
    )
    mb = tmp_path / "S_MetaWear_2024-03-01T10.15.00.000_C42732BE255C_Accelerometer_12.500Hz_1.4.4.csv"
    mb.write_text(
        "epoch (ms),time (01:00),elapsed (s),x-axis (g),y-axis (g),z-axis (g)\n"
        + "".join(f"{1709288100000 + 80 * i},x,{0.08 * i:.3f},0.01,-0.98,0.04\n" for i in range(150))
    )
    proc = cli("analyze", str(psl), str(mb), "--json")
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["source"] for d in docs] == [str(psl), str(mb)]
    assert [d["rep_count"] for d in docs] == [0, 0]
    assert docs[0]["sample_rate_hz"] == pytest.approx(52.0, rel=0.01)
    assert docs[1]["sample_rate_hz"] == pytest.approx(12.5, rel=0.01)
