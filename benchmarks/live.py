"""Live (streaming) path: per-notification latency, algorithmic delay, CPU and memory per sensor.

Run: ``python benchmarks/live.py [--chunk 36] [--minutes 5] [--hour-minutes 60] [--ble-seconds 20]``.

The streaming core is driven directly: simulated recordings (:mod:`hipflex.sensor.sim.simulate`,
mixed drills, 200 Hz, default sensor errors, 0.5 ms jitter) are cut into chunks of ``--chunk``
rows -- what one BLE notification carries (36 samples at 200 Hz = 180 ms) -- and each chunk is
handed to :func:`hipflex.dsp.step`, as fast as possible.  No BLE transport, decoder, event loop
or queue is in the path (``benchmarks/live_service.py`` measures the service end to end; section 5 adds the BLE client).

1. Latency (acc+gyro and acc-only): wall time from handing a chunk to ``step`` until it
   returns -- for the chunks whose events include a ``RepPeakEvent`` (peak confirmed: theta
   fell ``min_rom_deg`` below it) or a ``RepEvent`` (rep closed, every metric), and for all
   chunks.  The one chunk that ends the learning phase (it runs the kernels over the rows
   buffered since the start) is reported on its own.
2. Algorithmic delay, separately: from the true peak (simulator ground truth) to the sample
   that confirms it (first row after the detected peak at least ``min_rom_deg`` below it), and
   to the last sample of the notification carrying it (what the host can know at the earliest);
   for ``RepEvent`` from the true peak to the last sample of its notification.
3. CPU and memory for 1, 5 and 20 sensors streamed round-robin in one thread over
   ``--minutes`` simulated minutes: CPU-seconds per sensor-second (the share of one core a
   200 Hz sensor costs), and RSS (``VmRSS`` from ``/proc/self/status``) before and after.
4. One sensor over a ``--hour-minutes`` simulated stream: RSS and step time at intervals
   (memory should stay flat; step time should not grow with the session's length).
5. Through the real client (``_ble_live.py``; ``--ble-seconds 0`` skips it): 1, 5 and 20
   emulated H10s streaming in real time over bumble's in-process link to unmodified
   ``BleakClient`` + ``PolarClient`` + ``LiveAnalysis``: notification -> rep event latency
   (p50/p95/p99), the algorithmic delay apart, CPU and RSS.  Adds ``--ble-seconds`` x 3 s.

The last line is machine-readable:
``live: chunk <N> rows, peak p50 <x> us p99 <x> us, delay p50 <x> ms, cpu <x> us per sensor-s``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _perfkit import Session, machine_lines, print_table, rss_kib, simulate_sessions

from hipflex.dsp import (
    AngleBlock,
    CalibratedEvent,
    ImuSamples,
    RepEvent,
    RepPeakEvent,
    Settings,
    init_state,
    step,
)

FS_HZ = 200.0
DRILL_ORDER = ["ballistic", "strength", "hold", "march", "stride"]


def chunks_of(samples: ImuSamples, rows: int) -> list[ImuSamples]:
    """The recording cut into consecutive chunks of ``rows`` (the last may be shorter)."""
    return [samples.slice(i, min(i + rows, len(samples))) for i in range(0, len(samples), rows)]


def pct(values: list[float] | np.ndarray, q: float) -> float:
    """Percentile ``q`` of ``values`` (NaN when empty)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(np.percentile(arr, q)) if arr.size else float("nan")


@dataclass
class LatencyRun:
    """Measurements of one streamed recording."""

    mode: str
    step_us: list[float] = field(default_factory=list)
    peak_us: list[float] = field(default_factory=list)
    rep_us: list[float] = field(default_factory=list)
    calib_us: float = float("nan")
    confirm_ms: dict[str, list[float]] = field(default_factory=dict)
    notify_ms: dict[str, list[float]] = field(default_factory=dict)
    rep_delay_ms: dict[str, list[float]] = field(default_factory=dict)
    unmatched: int = 0
    n_peaks: int = 0
    n_reps: int = 0
    n_true: int = 0


def _true_peak(true_peaks: np.ndarray, t: float, tol_s: float = 0.6) -> int | None:
    """Index of the true peak nearest ``t`` if within ``tol_s``."""
    if true_peaks.size == 0:
        return None
    i = int(np.argmin(np.abs(true_peaks - t)))
    return i if abs(true_peaks[i] - t) <= tol_s else None


def stream_latency(session: Session, mode: str, rows: int, settings: Settings) -> LatencyRun:
    """Stream one recording chunk by chunk, timing every ``step``; match events to the truth."""
    s = session.samples
    if mode == "acc-only":
        s = ImuSamples(s.time_s, s.acc_g, None)
    chunks = chunks_of(s, rows)
    true_peaks = np.array([r.peak_s for r in session.truth_reps])
    run = LatencyRun(mode, n_true=len(true_peaks))
    state = init_state(settings, s.has_gyro)
    clock = time.perf_counter_ns
    for chunk in chunks:
        t0 = clock()
        state, events = step(settings, state, chunk)
        us = (clock() - t0) / 1e3
        if any(isinstance(e, CalibratedEvent) for e in events):
            run.calib_us = us
            # Events released with the buffered rows are not live latencies.
            run.n_peaks += sum(isinstance(e, RepPeakEvent) for e in events)
            run.n_reps += sum(isinstance(e, RepEvent) for e in events)
            continue
        run.step_us.append(us)
        block = next((e for e in events if isinstance(e, AngleBlock)), None)
        last_t = float(chunk.time_s[-1])
        peaks = [e for e in events if isinstance(e, RepPeakEvent)]
        reps = [e for e in events if isinstance(e, RepEvent)]
        if peaks:
            run.peak_us.append(us)
        if reps:
            run.rep_us.append(us)
        for e in peaks:
            run.n_peaks += 1
            i = _true_peak(true_peaks, e.peak_s)
            if i is None:
                run.unmatched += 1
                continue
            tp, drill = float(true_peaks[i]), session.rep_drills[i]
            t_conf = last_t
            if block is not None:
                level = e.peak_flexion_deg - settings.min_rom_deg
                hit = np.flatnonzero((block.time_s > e.peak_s) & (block.angle_deg <= level))
                if hit.size:
                    t_conf = float(block.time_s[hit[0]])
            run.confirm_ms.setdefault(drill, []).append((t_conf - tp) * 1e3)
            run.notify_ms.setdefault(drill, []).append((last_t - tp) * 1e3)
        for ev in reps:
            run.n_reps += 1
            i = _true_peak(true_peaks, ev.rep.peak_s)
            if i is not None:
                delay = (last_t - float(true_peaks[i])) * 1e3
                run.rep_delay_ms.setdefault(session.rep_drills[i], []).append(delay)
    return run


@dataclass
class LoadRun:
    """CPU and memory of several sensors streamed together."""

    sensors: int
    sensor_s: float
    wall_s: float
    cpu_s: float
    rss0_kib: int
    rss1_kib: int
    step_us: list[float]

    @property
    def cpu_us_per_sensor_s(self) -> float:
        """CPU microseconds per second of one sensor's data."""
        return self.cpu_s / self.sensor_s * 1e6


def stream_load(sessions: list[Session], n_sensors: int, rows: int, settings: Settings) -> LoadRun:
    """Stream ``n_sensors`` sensors round-robin (one chunk each in turn) in this thread."""
    feeds = [chunks_of(sessions[i % len(sessions)].samples, rows) for i in range(n_sensors)]
    n_chunks = min(len(f) for f in feeds)
    states = [init_state(settings, True) for _ in range(n_sensors)]
    sensor_s = sum(float(f[n_chunks - 1].time_s[-1] - f[0].time_s[0]) for f in feeds)
    steps: list[float] = []
    rss0 = rss_kib()
    clock = time.perf_counter_ns
    w0, c0 = time.perf_counter(), time.process_time()
    for j in range(n_chunks):
        for i in range(n_sensors):
            t0 = clock()
            states[i], _ = step(settings, states[i], feeds[i][j])
            steps.append((clock() - t0) / 1e3)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return LoadRun(n_sensors, sensor_s, wall, cpu, rss0, rss_kib(), steps)


def stream_hour(session: Session, rows: int, settings: Settings, every_min: float) -> list[list[str]]:
    """One sensor over a long stream: RSS and step time per interval of simulated time."""
    chunks = chunks_of(session.samples, rows)
    state = init_state(settings, session.samples.has_gyro)
    t_start = float(chunks[0].time_s[0])
    next_mark = every_min * 60.0
    rss0 = rss_kib()
    out: list[list[str]] = []
    steps: list[float] = []
    reps = 0
    clock = time.perf_counter_ns
    cpu0 = time.process_time()
    for k, chunk in enumerate(chunks):
        t0 = clock()
        state, events = step(settings, state, chunk)
        steps.append((clock() - t0) / 1e3)
        reps += sum(isinstance(e, RepEvent) for e in events)
        sim_s = float(chunk.time_s[-1]) - t_start
        if sim_s >= next_mark or k == len(chunks) - 1:
            rss = rss_kib()
            out.append(
                [
                    f"{sim_s / 60:.1f}",
                    str(reps),
                    str(len(state.sets)),
                    f"{rss / 1024:.1f}",
                    f"{(rss - rss0) / 1024:+.2f}",
                    f"{pct(steps, 50):.0f}",
                    f"{pct(steps, 99):.0f}",
                    f"{(time.process_time() - cpu0) / max(sim_s, 1e-9) * 1e6:.0f}",
                ]
            )
            steps = []
            next_mark += every_min * 60.0
    return out


def ble_section(args: argparse.Namespace) -> None:
    """5. Through the real client over the bumble link (see ``_ble_live.py``)."""
    from _ble_live import ballistic_sessions, ble_rows, run_ble

    counts = [int(x) for x in args.ble_sensors.split(",")]
    runs = run_ble(counts, args.ble_seconds, ballistic_sessions(4, args.seed + 2000))
    print_table(
        ["sensors", "event", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "confirm p50 ms", "frame p50 ms",
         "notif/s", "CPU cores", "RSS MiB", "RSS delta MiB"],
        ble_rows(runs),
        title=f"5. through the client: emulated H10s (ACC 200 Hz, real-time pacing) -> bumble link (real ATT, "
        f"MTU 247, 39 samples per notification) -> unmodified BleakClient -> PolarClient (capture, decode "
        f"thread) -> LiveAnalysis (thread pool), {args.ble_seconds:g} s per row. Latency: BLE callback of the "
        "notification completing the chunk -> step() returned the event, host time. Algorithmic delay apart: "
        "detected peak -> confirming sample, and -> last sample of its notification (simulated time). CPU and "
        "RSS include the emulators and both bumble stacks.",
        left=2,
    )  # fmt: skip
    worst = runs[-1]
    print(
        f"live_ble: {worst.sensors} sensors, notification->RepPeakEvent p50 {np.percentile(worst.peak_ms, 50):.1f} ms "
        f"p99 {np.percentile(worst.peak_ms, 99):.1f} ms, cpu {worst.cpu_cores:.2f} cores"
        if worst.peak_ms
        else f"live_ble: {worst.sensors} sensors, no rep events in {args.ble_seconds:g} s"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunk", type=int, default=36, help="rows per notification (36 = 180 ms at 200 Hz)")
    ap.add_argument("--latency-minutes", type=float, default=10.0, help="length of the latency recording")
    ap.add_argument("--minutes", type=float, default=5.0, help="simulated minutes per sensor in the CPU table")
    ap.add_argument("--sensors", default="1,5,20", help="sensor counts of the CPU table")
    ap.add_argument("--hour-minutes", type=float, default=60.0, help="length of the memory stream")
    ap.add_argument("--every", type=float, default=5.0, help="memory stream: report interval, minutes")
    ap.add_argument("--seed", type=int, default=101, help="first simulation seed")
    ap.add_argument("--ble-seconds", type=float, default=20.0, help="section 5, real seconds per count (0: skip)")
    ap.add_argument("--ble-sensors", default="1,5,20", help="section 5: emulated sensor counts")
    args = ap.parse_args(argv)
    settings = Settings()
    counts = [int(x) for x in args.sensors.split(",")]

    print("hipflex live-path benchmark")
    for line in machine_lines():
        print(line)
    print(
        f"driven directly: hipflex.dsp.step over simulated {args.chunk}-row chunks "
        f"({args.chunk / FS_HZ * 1e3:.0f} ms of data each at {FS_HZ:.0f} Hz), as fast as possible; no BLE "
        "transport, decoder or event loop in the path (see benchmarks/live_service.py for the service)"
    )

    t0 = time.perf_counter()
    lat = simulate_sessions(1, args.latency_minutes * 60.0, fs_hz=FS_HZ, seed=args.seed, jitter_s=0.0005)[0]
    load = simulate_sessions(max(counts), args.minutes * 60.0, fs_hz=FS_HZ, seed=args.seed + 1, jitter_s=0.0005)
    hour = simulate_sessions(1, args.hour_minutes * 60.0, fs_hz=FS_HZ, seed=args.seed + 1000, jitter_s=0.0005)[0]
    print(f"simulated {1 + max(counts) + 1} recordings in {time.perf_counter() - t0:.1f} s")

    # Warm-up: load (or compile) every kernel of both modes outside the timed runs.
    for mode in ("acc+gyro", "acc-only"):
        stream_latency(lat, mode, args.chunk, settings)

    # 1 + 2: latency and delay
    runs = [stream_latency(lat, mode, args.chunk, settings) for mode in ("acc+gyro", "acc-only")]
    print()
    rows = []
    for r in runs:
        for what, vals in (
            ("all chunks", r.step_us),
            ("chunks -> RepPeakEvent", r.peak_us),
            ("chunks -> RepEvent", r.rep_us),
        ):
            rows.append(
                [r.mode, what, str(len(vals)), *(f"{pct(vals, q):.0f}" for q in (50, 95, 99)), f"{max(vals):.0f}"]
            )
        rows.append([r.mode, "learning-phase end (once)", "1", "", "", "", f"{r.calib_us:.0f}"])
    print_table(
        ["mode", "step() wall time, us", "n", "p50", "p95", "p99", "max"],
        rows,
        title=f"1. step() latency: chunk handed in -> events returned, microseconds of wall time "
        f"({args.latency_minutes:g} simulated minutes, {len(lat.truth_reps)} true reps)",
        left=2,
    )
    print()
    rows = []
    for r in runs:
        for drill in sorted(r.confirm_ms, key=DRILL_ORDER.index):
            conf, notif = r.confirm_ms[drill], r.notify_ms[drill]
            rep = r.rep_delay_ms.get(drill, [])
            rows.append(
                [
                    r.mode,
                    drill,
                    str(len(conf)),
                    *(f"{pct(conf, q):.0f}" for q in (50, 95)),
                    f"{max(conf):.0f}",
                    *(f"{pct(notif, q):.0f}" for q in (50, 95)),
                    *(f"{pct(rep, q):.0f}" for q in (50, 95)),
                ]
            )
        rows.append([r.mode, f"(peaks found {r.n_peaks}, true reps {r.n_true}, unmatched {r.unmatched})"])
    print_table(
        [
            "mode",
            "drill",
            "n",
            "confirm p50",
            "p95",
            "max",
            "notification p50",
            "p95",
            "RepEvent p50",
            "p95",
        ],
        [row + [""] * (10 - len(row)) for row in rows],
        title="2. algorithmic delay, ms of simulated time (the detector's own; independent of CPU speed): "
        "true peak -> confirming sample (theta min_rom_deg below the peak), -> end of the notification "
        "carrying it, and -> end of the notification carrying the closed RepEvent. A hold's peak can only "
        "be confirmed when the thigh comes down, so hold delays include the hold itself.",
        left=2,
    )

    # 3: CPU and memory per sensor count
    print()
    rows = []
    loads = []
    for n in counts:
        lr = stream_load(load, n, args.chunk, settings)
        loads.append(lr)
        rows.append(
            [
                str(n),
                f"{lr.sensor_s:,.0f}",
                f"{lr.wall_s:.2f}",
                f"{lr.cpu_s:.2f}",
                f"{lr.cpu_us_per_sensor_s:.0f}",
                f"{lr.cpu_us_per_sensor_s / 1e4:.3f}",
                f"{1e6 / lr.cpu_us_per_sensor_s:,.0f}",
                f"{lr.sensor_s / lr.wall_s / n:,.0f}",
                f"{pct(lr.step_us, 50):.0f}",
                f"{pct(lr.step_us, 99):.0f}",
                f"{lr.rss0_kib / 1024:.1f}",
                f"{(lr.rss1_kib - lr.rss0_kib) / 1024:+.1f}",
            ]
        )
    print_table(
        [
            "sensors",
            "sensor-s",
            "wall s",
            "CPU s",
            "CPU us/sensor-s",
            "% of a core/sensor",
            "sensors/core",
            "x real time",
            "step p50 us",
            "step p99 us",
            "RSS before MiB",
            "RSS delta MiB",
        ],
        rows,
        title=f"3. CPU and memory, acc+gyro sensors at {FS_HZ:.0f} Hz streamed round-robin in one thread "
        f"({args.minutes:g} simulated minutes each; one state per sensor)",
    )

    # 4: one-hour stream
    print()
    table = stream_hour(hour, args.chunk, settings, args.every)
    print_table(
        ["sim min", "reps", "sets", "RSS MiB", "RSS delta MiB", "step p50 us", "step p99 us", "CPU us/sensor-s"],
        table,
        title=f"4. one acc+gyro sensor over {args.hour_minutes:g} simulated minutes "
        f"({len(hour.samples):,} rows, {len(hour.truth_reps)} true reps): RSS and step time per "
        f"{args.every:g}-minute interval (CPU is cumulative)",
    )

    if args.ble_seconds > 0:
        print()
        ble_section(args)

    g = runs[0]
    one = loads[0]
    all_confirm = [d for v in g.confirm_ms.values() for d in v]
    print()
    print(
        f"live: chunk {args.chunk} rows, peak p50 {pct(g.peak_us, 50):.0f} us p99 {pct(g.peak_us, 99):.0f} us, "
        f"delay p50 {pct(all_confirm, 50):.0f} ms, cpu {one.cpu_us_per_sensor_s:.0f} us per sensor-s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
