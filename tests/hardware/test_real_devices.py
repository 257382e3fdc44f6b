"""Real sensors over the OS's Bluetooth stack (opt in: ``pytest --run-hardware tests/hardware``).

Covers what the emulated tiers cannot: BlueZ / CoreBluetooth / WinRT, real firmware and
real radio timing.  Wake the sensors first (strap the H10 on: it sleeps off the skin;
press the Verity's button; tap the MetaMotion).  Each kind is skipped with a reason when
none is in range; the whole module is skipped when there is no adapter.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from hipflex.dsp.pipeline import analyze
from hipflex.sensor.capture.replay import decode_capture
from hipflex.sensor.errors import NoAdapter, PermissionDenied
from hipflex.sensor.live.client import Battery, Connected, SampleChunk
from hipflex.sensor.live.opener import open_sensor
from hipflex.sensor.live.scan import FoundSensor, SensorInfo, find_sensor, scan_sensors

pytestmark = [pytest.mark.hardware, pytest.mark.asyncio]

RECORD_S = 10.0
EXPECTED_RATE_HZ = {"H10": 200.0, "Verity Sense": 52.0, "MetaMotion": 100.0}


async def nearby() -> list[SensorInfo]:
    try:
        return await scan_sensors(8.0)
    except (NoAdapter, PermissionDenied) as exc:
        pytest.skip(f"no usable Bluetooth adapter: {exc}")


async def test_scan_reports_supported_sensors() -> None:
    found = await nearby()
    if not found:
        pytest.skip("no Polar H10, Verity Sense or MetaMotion advertising nearby")
    for info in found:
        assert info.kind in ("polar", "metawear") and info.address
        assert info.rssi_dbm is None or -110 < info.rssi_dbm < 0
        assert info.battery_pct is None or 0 <= info.battery_pct <= 100


@pytest.mark.parametrize("model", ["H10", "Verity Sense", "MetaMotion"])
async def test_record_ten_seconds(model: str, tmp_path: Path) -> None:
    infos = [i for i in await nearby() if i.model == model]
    if not infos:
        pytest.skip(f"no {model} advertising nearby")
    found: FoundSensor = await find_sensor(infos[0].address, 15.0)
    capture = tmp_path / "capture.jsonl"
    client = open_sensor(found, capture_path=capture)
    chunks: list[SampleChunk] = []
    statuses: list[object] = []
    async with client:
        await client.start()

        async def stop_later() -> None:
            await asyncio.sleep(RECORD_S)
            await client.stop()

        stopper = asyncio.create_task(stop_later())
        async for item in client.samples():
            (chunks if isinstance(item, SampleChunk) else statuses).append(item)
        await stopper
    assert any(isinstance(s, Connected) for s in statuses)
    assert any(isinstance(s, Battery) for s in statuses) or model == "MetaMotion"
    t = np.concatenate([c.samples.time_s for c in chunks])
    assert np.all(np.diff(t) > 0)
    rate = 1.0 / np.median(np.diff(t))
    assert rate == pytest.approx(EXPECTED_RATE_HZ[model], rel=0.05)
    assert t[-1] - t[0] > RECORD_S - 3.0  # first notification after ~1 s; frames of up to ~1.5 s
    acc = np.concatenate([c.samples.acc_g for c in chunks])
    norm = np.linalg.norm(acc[np.isfinite(acc).all(axis=1)], axis=1)
    assert 0.5 < np.median(norm) < 1.5  # gravity, in g
    replay = decode_capture(capture)
    np.testing.assert_array_equal(replay.samples.time_s, t)
    if len(replay.samples) > 400:
        analyze(replay.samples)  # the whole pipeline accepts a real recording
