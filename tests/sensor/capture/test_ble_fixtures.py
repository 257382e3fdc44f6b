"""The fixtures recorded through emulated sensors over bumble (``fixtures/regenerate_ble.py``).

Their goldens must match a fresh analysis of the committed capture, and the captures
must carry what a live recording writes: the START replies (with the Verity gyro
FACTOR), the chip from discovery, a dropped link with its reconnect.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipflex.dsp.pipeline import analyze
from hipflex.sensor.capture.log import read_capture
from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.polar.control import PMD_CONTROL_POINT_UUID, parse_cp_response

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ("fixtures/verity/sim_march", "fixtures/metamotion/sim_ballistic")


def without_version(obj: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in obj.items() if k != "hipflex_version"}


@pytest.mark.slow
@pytest.mark.parametrize("folder", FIXTURES)
def test_golden_analysis_matches_the_capture(folder: str) -> None:
    capture = f"{folder}/capture.jsonl"
    expected = json.loads((ROOT / folder / "expected.json").read_text())
    got = analyze(decode_capture(ROOT / capture).samples, source=capture).to_dict()
    assert without_version(json.loads(json.dumps(got))) == without_version(expected)
    meta = json.loads((ROOT / folder / "meta.json").read_text())
    assert abs(expected["rep_count"] - meta["truth"]["rep_count"]) <= 2
    assert expected["sensor"]["gyro"] is True and expected["quality"]["gaps"] >= 1


@pytest.mark.parametrize("folder", FIXTURES)
def test_capture_holds_what_a_live_recording_writes(folder: str) -> None:
    capture = read_capture(ROOT / folder / "capture.jsonl")
    events = [e.event for e in capture.events if e.event != "gap"]  # gap lines trail the decoding
    assert events.count("disconnected") == events.count("reconnected") == 1
    assert events.count("stream_started") == 4 and events[-1] == "stream_stopped"
    assert capture.header.extra["recorded_by"].startswith("hipflex ")
    decoded = decode_capture(capture)
    assert {g.reason for g in decoded.gaps} >= {"reconnect"} and decoded.problems == ()


def test_verity_gyro_factor_comes_from_the_start_reply() -> None:
    capture = read_capture(ROOT / "fixtures/verity/sim_march/capture.jsonl")
    replies = [parse_cp_response(n.data) for n in capture.notifications if n.char_uuid == PMD_CONTROL_POINT_UUID]
    gyro_starts = [r for r in replies if r.opcode == 2 and r.measurement == 5]
    assert gyro_starts and all(r.factor == 0.0625 for r in gyro_starts)
    assert capture.header.device.model == "Verity Sense"


def test_metamotion_chip_comes_from_discovery() -> None:
    header = read_capture(ROOT / "fixtures/metamotion/sim_ballistic/capture.jsonl").header
    assert header.streams["acc"].chip == header.streams["gyro"].chip == "bmi160"
    assert header.streams["acc"].range_g == 16.0 and header.streams["acc"].sample_rate_hz == 50.0
