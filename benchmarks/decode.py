"""Decode throughput of the BLE byte decoders, per notification as the live path calls them.

Run: ``python benchmarks/decode.py [--frames N] [--repeats R]``.

Frames are built with hipflex's own encoders from a synthetic thigh-like signal
(slow swing plus noise), at realistic sizes: H10 raw ACC at 200 Hz, 36 samples per
frame (ATT MTU 232); Verity Sense compressed ACC (0x81) and GYRO (0x80) at 52 Hz,
71 samples per frame in blocks of 24; MetaWear packed ACC, 3 samples per
notification.  Each row is the best of several timed runs after a warm-up run
(which also triggers numba compilation or loads its cache).  "x real time" is
decoded samples per second over the stream's sample rate.  A pure-Python
bit-by-bit delta decoder is timed as a baseline for the numba kernel.

The last line is machine-readable:
``decode: pmd_delta <N> Msamples/s, pmd_raw <N> Msamples/s, metawear <N> Msamples/s``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hipflex.sensor.metawear.protocol import ImuChip, MetaWearDecoder, MetaWearSensor, encode_data_notification
from hipflex.sensor.polar.frames import (
    PmdMeasurementType,
    decode_pmd_frame,
    encode_acc_frame_raw,
    encode_delta_frame,
)
from hipflex.sensor.polar.timing import PmdTimingState, assign_sample_times

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import best_of  # the warm-up call covers numba compile or cache load


@dataclass(frozen=True)
class Row:
    name: str
    rate_hz: float
    samples_per_frame: int
    seconds_per_frame: float

    @property
    def samples_per_s(self) -> float:
        return self.samples_per_frame / self.seconds_per_frame


def thigh_signal(n: int, rate_hz: float, scale: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz
    swing = np.stack([np.sin(2 * np.pi * 1.2 * t), np.cos(2 * np.pi * 1.2 * t), 0.3 * np.sin(2 * np.pi * 2.4 * t)], 1)
    return scale * swing + 0.02 * scale * rng.standard_normal((n, 3))


def naive_delta(payload: bytes, channels: int = 3, ref_bytes: int = 2) -> list[list[int]]:
    """Pure-Python baseline: the obvious bit-at-a-time loop."""
    rows = [
        [int.from_bytes(payload[c * ref_bytes : (c + 1) * ref_bytes], "little", signed=True) for c in range(channels)]
    ]
    pos = channels * ref_bytes
    while pos < len(payload):
        w, n = payload[pos], payload[pos + 1]
        pos += 2
        bit = 0
        for _ in range(n):
            row = []
            for c in range(channels):
                d = 0
                for j in range(w):
                    k = bit + j
                    d |= ((payload[pos + k // 8] >> (k % 8)) & 1) << j
                bit += w
                row.append(rows[-1][c] + (d - (1 << w) if d >> (w - 1) else d))
            rows.append(row)
        pos += (bit + 7) // 8
    return rows


def pmd_frames(
    frames: int, rate_hz: float, n: int, build: Callable[[int, np.ndarray], bytes], scale: float
) -> list[bytes]:
    sig = thigh_signal(frames * n, rate_hz, scale)
    step_ns = round(1e9 / rate_hz)
    start = 600_000_000 * 10**9
    return [build(start + ((k + 1) * n - 1) * step_ns, sig[k * n : (k + 1) * n]) for k in range(frames)]


def run(frames: int, repeats: int) -> list[Row]:
    acc, gyro = PmdMeasurementType.ACC, PmdMeasurementType.GYRO
    h10 = pmd_frames(frames, 200.0, 36, lambda ts, a: encode_acc_frame_raw(ts, a), 1.0)
    verity_acc = pmd_frames(
        frames,
        52.0,
        71,
        lambda ts, a: encode_delta_frame(acc, 0x81, ts, np.rint(a * 1000).astype(np.int64), block_samples=24),
        1.0,
    )
    verity_gyro = pmd_frames(
        frames,
        52.0,
        71,
        lambda ts, g: encode_delta_frame(gyro, 0x80, ts, np.rint(g).astype(np.int64), block_samples=24),
        300.0,
    )
    mw_sig = thigh_signal(frames * 3, 100.0, 1.0)
    metawear = [
        encode_data_notification(MetaWearSensor.ACC, ImuChip.BMI160, mw_sig[3 * k : 3 * k + 3], 8)
        for k in range(frames)
    ]
    mw = MetaWearDecoder(ImuChip.BMI160, acc_range_g=8)

    def decode_all(batch: Sequence[bytes]) -> Callable[[], object]:
        return lambda: [decode_pmd_frame(b) for b in batch]

    def decode_and_time(batch: Sequence[bytes], rate: float) -> Callable[[], object]:
        def go() -> object:
            state = PmdTimingState()
            for b in batch:
                state, _ = assign_sample_times(state, decode_pmd_frame(b), rate)
            return state

        return go

    few = verity_acc[: max(1, frames // 50)]  # the pure-Python baseline is slow
    rows = [
        Row("H10 raw ACC 0x01, 200 Hz", 200.0, 36, best_of(decode_all(h10), repeats) / frames),
        Row("H10 raw ACC + sample times", 200.0, 36, best_of(decode_and_time(h10, 200.0), repeats) / frames),
        Row("Verity delta ACC 0x81, 52 Hz", 52.0, 71, best_of(decode_all(verity_acc), repeats) / frames),
        Row("Verity delta GYRO 0x80, 52 Hz", 52.0, 71, best_of(decode_all(verity_gyro), repeats) / frames),
        Row(
            "Verity delta ACC, pure-Python baseline",
            52.0,
            71,
            best_of(lambda: [naive_delta(b[10:]) for b in few], repeats) / len(few),
        ),
        Row(
            "MetaWear packed ACC, 100 Hz",
            100.0,
            3,
            best_of(lambda: [mw.decode(b) for b in metawear], repeats) / frames,
        ),
    ]
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="frames per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs; the best is reported")
    args = parser.parse_args(argv)
    rows = run(args.frames, args.repeats)
    print(f"{'stream':<40} {'samples/frame':>13} {'us/frame':>9} {'Msamples/s':>11} {'x real time':>12}")
    for r in rows:
        print(
            f"{r.name:<40} {r.samples_per_frame:>13d} {r.seconds_per_frame * 1e6:>9.2f} "
            f"{r.samples_per_s / 1e6:>11.3f} {r.samples_per_s / r.rate_hz:>12,.0f}"
        )
    by = {r.name: r for r in rows}
    delta = by["Verity delta ACC 0x81, 52 Hz"].samples_per_s / 1e6
    raw = by["H10 raw ACC 0x01, 200 Hz"].samples_per_s / 1e6
    mwr = by["MetaWear packed ACC, 100 Hz"].samples_per_s / 1e6
    print(f"decode: pmd_delta {delta:.2f} Msamples/s, pmd_raw {raw:.2f} Msamples/s, ", end="")
    print(f"metawear {mwr:.2f} Msamples/s")


if __name__ == "__main__":
    main()
