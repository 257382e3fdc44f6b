"""How well the data tell a gyro's scale error: estimates against the simulator's truth.

Run ``python benchmarks/gyro_scale_probe.py --seeds 0:300`` (tuning seeds only).
For every acc+gyro session of :mod:`hipflex.sensor.sim.wide` the true scale
error along the flexion axis (``a^T (S - I) a`` of the drawn per-axis scales,
``a`` the analysis's flexion axis) is compared with estimates from the data:

* ``fit``: the gyro-frame check's free scalar scale on the identity (the
  rigid-rotation model over the learning rows, :mod:`hipflex.dsp.gyro_frame`);
* ``int``: over every still-to-still excursion, the world-frame integral of
  the specific force is ``T`` times the rest's gravity (the velocity is zero
  at both rests), whatever the lever or the hip did; a scaled gyro turns the
  force into the wrong frame by ``s`` times the angle, the scale that zeroes
  the mismatch is the excursion's estimate (median over excursions).

``--gyro-scale-err X`` draws the per-axis gyro scale errors with standard
deviation X instead of the simulator's 1 % (same stream); ``--acc-ideal``
turns the accelerometer's bias and scale errors off (what limits ``int``).
``--correct`` analyses every session again with the gyro divided by ``1 + s``
for the true ``s`` and for the ``int`` estimate (with at least 8 excursions;
``int_2se`` also beyond two bootstrap standard errors) and prints the mean of
the per-session peak MAE of each.  ``--real`` prints both estimates for the
real recordings with a gyro (``HIPFLEX_SHARED_DATA``), and for rests in two
poses the gyro-vs-accelerometer mismatch of the turn between them.
Positive ``s``: the gyro reads high.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hipflex.dsp import Settings
from hipflex.dsp import _layout as L
from hipflex.dsp.gyro_frame import JUDGE_STEP_S, MAX_JUDGE_S, _block_means, _golden_log_scale, _rows, fit_residual
from hipflex.dsp.pipeline import _end, init_state, step
from hipflex.dsp.types import ImuSamples
from hipflex.sensor.sim.wide import draw_wide_case, simulate_wide

REST_S = 0.5
MAX_EXC_S = 20.0


def _rot(r: np.ndarray) -> np.ndarray:
    """Rotation matrix of rotation vector ``r`` (rad)."""
    a = float(np.linalg.norm(r))
    k = np.array([[0.0, -r[2], r[1]], [r[2], 0.0, -r[0]], [-r[1], r[0], 0.0]])
    if a < 1e-12:
        return np.eye(3) + k
    return np.eye(3) + math.sin(a) / a * k + (1.0 - math.cos(a)) / (a * a) * (k @ k)


def _excursion_mismatch(t: np.ndarray, acc: np.ndarray, rate_dps: np.ndarray, scale: float) -> np.ndarray:
    """Mean world-frame specific force over the rows (frame of the first row), g."""
    q = np.eye(3)
    f_w = np.empty_like(acc)
    f_w[0] = acc[0]
    for k in range(1, t.size):
        dt = t[k] - t[k - 1]
        w = 0.5 * (rate_dps[k] + rate_dps[k - 1]) * (math.pi / 180.0) * scale
        q = q @ _rot(w * dt)
        f_w[k] = q @ acc[k]
    integral = np.sum(0.5 * (f_w[1:] + f_w[:-1]) * np.diff(t)[:, None], axis=0)
    return integral / (t[-1] - t[0])


def _turn_rad(t: np.ndarray, rate_dps: np.ndarray) -> np.ndarray:
    """Rotation (sensor frame at the last row -> at the first) of the rows' rate, as a matrix."""
    q = np.eye(3)
    for k in range(1, t.size):
        q = q @ _rot(0.5 * (rate_dps[k] + rate_dps[k - 1]) * (math.pi / 180.0) * (t[k] - t[k - 1]))
    return q


ENDS: list[tuple[float, float]] = []  # (gyro turn, accelerometer turn) about the axis of rests in two poses, deg


def integral_estimates(
    t: np.ndarray, acc: np.ndarray, rate: np.ndarray, axis: np.ndarray, still_dps: float
) -> list[tuple[float, float]]:
    """(scale error, weight) of each still-to-still excursion.

    Rests in two poses (the accelerometer turned > 20 deg about the axis)
    also append their gyro and accelerometer turns to ``ENDS``.
    """
    n = t.size
    quiet = (np.linalg.norm(rate, axis=1) < still_dps) & (np.abs(np.linalg.norm(acc, axis=1) - 1.0) < 0.1)
    # Rest runs of at least REST_S.
    runs: list[tuple[int, int]] = []
    i = 0
    while i < n:
        if quiet[i]:
            j = i
            while j + 1 < n and quiet[j + 1] and t[j + 1] - t[j] < 0.1:
                j += 1
            if t[j] - t[i] >= REST_S:
                runs.append((i, j))
            i = j + 1
        else:
            i += 1
    out: list[tuple[float, float]] = []
    for (a0, a1), (b0, b1) in itertools.pairwise(runs):
        # From the middle of the last quarter second of rest A to that of rest B's first.
        i0 = max(a0, int(np.searchsorted(t, t[a1] - 0.25)))
        i1 = min(b1, int(np.searchsorted(t, t[b0] + 0.25)))
        if t[i1] - t[i0] > MAX_EXC_S or np.any(np.diff(t[i0 : i1 + 1]) > 0.1):
            continue
        if np.any(np.abs(acc[i0 : i1 + 1]) > 1.9):  # clipping at +-2 g possible
            continue
        # The bias where the thigh is still either side (its walk drifts over minutes), linear between.
        b_a = np.mean(rate[a0 : a1 + 1], axis=0)
        b_b = np.mean(rate[b0 : b1 + 1], axis=0)
        tt, aa = t[i0 : i1 + 1], acc[i0 : i1 + 1]
        frac = ((tt - tt[0]) / (tt[-1] - tt[0]))[:, None]
        rr = rate[i0 : i1 + 1] - (b_a + frac * (b_b - b_a))
        # The rest's force at the frame's first row: its mean over the rest's rows within 0.25 s of it.
        near = slice(int(np.searchsorted(t, t[i0] - 0.25)), int(np.searchsorted(t, t[i0] + 0.25)))
        f_a = np.mean(acc[near][quiet[near]], axis=0)
        up = f_a / np.linalg.norm(f_a)
        w_dir = np.cross(axis, up)
        w_dir /= np.linalg.norm(w_dir)
        near_b = slice(int(np.searchsorted(t, t[i1] - 0.25)), int(np.searchsorted(t, t[i1] + 0.25)))
        f_b = np.mean(acc[near_b][quiet[near_b]], axis=0)
        acc_turn = math.degrees(math.atan2(float(np.cross(f_b, f_a) @ axis), float(f_a @ f_b)))
        if abs(acc_turn) > 20.0:
            g_b = _turn_rad(tt, rr) @ f_b
            ENDS.append((math.degrees(math.atan2(float(np.cross(g_b, f_a) @ axis), float(f_a @ g_b))), acc_turn))
        e0 = float((_excursion_mismatch(tt, aa, rr, 1.0) - f_a) @ w_dir)
        d = 0.02
        e1 = float((_excursion_mismatch(tt, aa, rr, 1.0 + d) - f_a) @ w_dir)
        de = (e1 - e0) / d
        if abs(de) < 0.05:  # the thigh hardly left the rest: no lever on the scale
            continue
        # rate_true = rate / (1 + s): the estimate is the scale that zeroes e, negated as an error of the gyro.
        s_fix = -e0 / de
        out.append((-s_fix, de * de))
    return out


def probe(seed: int, gyro_scale_err: float | None, acc_ideal: bool) -> dict[str, float] | None:
    case = draw_wide_case(seed)
    if not case.sensor.has_gyro:
        return None
    sensor = case.sensor
    if gyro_scale_err is not None:
        sensor = dataclasses.replace(sensor, gyr_scale_err=gyro_scale_err)
    if acc_ideal:
        sensor = dataclasses.replace(sensor, acc_bias_g=0.0, acc_scale_err=0.0)
    case = dataclasses.replace(case, sensor=sensor)
    sim = simulate_wide(case)
    if sim.errors is None or sim.errors.gyr_scale is None:
        return None
    out = estimate(sim.samples)
    if out is None:
        return None
    out["seed"] = seed
    out["fs"] = sensor.fs_hz
    out["true"] = float(out.pop("axis2") @ (sim.errors.gyr_scale - 1.0))  # type: ignore[operator]
    return out  # type: ignore[return-value]


def estimate(samples: ImuSamples) -> dict[str, object] | None:
    """Both estimates of one recording (None if the analysis never started its kernel)."""
    settings = Settings()
    state = init_state(settings, True)
    state, _ = step(settings, state, samples)
    state, _ = _end(settings, state, owned=True)
    kern, cal = state.kernel, state.cal
    if kern is None or cal is None:
        return None
    axis = kern.prm[L.P_A : L.P_A + 3].copy()
    t = np.asarray(samples.time_s)
    acc = np.asarray(samples.acc_g)
    gyr = np.asarray(samples.gyr_dps)
    frame = state.gyro_frame
    if frame is not None and frame.verdict == "corrected":
        gyr = gyr @ frame.matrix.T
    rate = gyr - cal.gyro_bias_dps
    ok = np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
    t, acc, rate = t[ok], acc[ok], rate[ok]
    # The check's free scale on the identity, over the learning rows (its first MAX_JUDGE_S).
    s0 = cal.start_row
    sel = slice(s0, int(np.searchsorted(t, t[s0] + MAX_JUDGE_S)))
    rows = _rows(*_block_means(t[sel], acc[sel], rate[sel], JUDGE_STEP_S), np.asarray(cal.up), cal.gravity_g)
    s_fit, r_fit = _golden_log_scale(lambda sc: fit_residual(rows, sc * np.eye(3))[0], 0.8, 1.25, iters=20)
    r_id = fit_residual(rows, np.eye(3))[0]
    est = integral_estimates(t, acc, rate, axis, settings.still_gyr_dps)
    s_int = float(np.median([e for e, _ in est])) if est else math.nan
    if len(est) >= 4:
        boot = np.random.default_rng(0).choice([e for e, _ in est], size=(200, len(est)))
        int_se = float(np.std(np.median(boot, axis=1)))
    else:
        int_se = math.nan
    return {
        "axis2": axis**2,
        "fit": s_fit - 1.0,
        "fit_gain": r_fit / r_id if r_id > 0 else math.nan,
        "int": s_int,
        "n_int": len(est),
        "int_iqr": float(np.subtract(*np.percentile([e for e, _ in est], [75, 25]))) if len(est) > 3 else math.nan,
        "int_se": int_se,
    }


def real() -> None:
    """Estimates on the real recordings with a gyro (no truth: what they would correct)."""
    import os

    from _real_data import DATASETS

    root = Path(os.environ.get("HIPFLEX_SHARED_DATA", "../shared/data"))
    for key in ("eurobench", "eurobench_raw", "utd_mhad", "bilkent", "cmu", "hugadb", "marpino"):
        for case in DATASETS[key](root):
            if case.samples.gyr_dps is None:
                continue
            ENDS.clear()
            try:
                r = estimate(case.samples)
            except ValueError:
                continue
            if r is None:
                print(f"{key} {case.name}: no kernel")
                continue
            ends = " ".join(f"{g:+.1f}/{a:+.1f}" for g, a in ENDS)
            print(
                f"{key:14s} {case.name[:34]:34s} fit {100 * float(r['fit']):+6.2f} int {100 * float(r['int']):+6.2f} "
                f"n {r['n_int']:3d} se {100 * float(r['int_se']):5.2f} ends gyro/acc deg {ends}",
                flush=True,
            )


def corrected_errors(seeds: range, gyro_scale_err: float | None = None) -> None:
    """Peak MAE with the gyro divided by 1 + (each estimate), against as given, same sessions."""
    import peak_budget

    from hipflex.sensor.sim import wide

    scale: dict[str, float] = {}
    real_sim = wide.simulate_wide

    def scaled_sim(case):  # type: ignore[no-untyped-def]
        sim = real_sim(case)
        k = scale["now"]
        if k == 1.0:
            return sim
        samples = dataclasses.replace(sim.samples, gyr_dps=np.asarray(sim.samples.gyr_dps) / k)
        return dataclasses.replace(sim, samples=samples)

    peak_budget.simulate_wide = scaled_sim  # type: ignore[assignment]
    sums: dict[str, list[float]] = {}
    for seed in seeds:
        case = draw_wide_case(seed)
        if not case.sensor.has_gyro:
            continue
        change = None
        if gyro_scale_err is not None:

            def change(c, e=gyro_scale_err):  # type: ignore[no-untyped-def]
                return dataclasses.replace(c, sensor=dataclasses.replace(c.sensor, gyr_scale_err=e))

            case = change(case)
        sim = real_sim(case)
        est = estimate(sim.samples)
        if est is None or sim.errors is None or sim.errors.gyr_scale is None:
            continue
        s_true = float(est["axis2"] @ (sim.errors.gyr_scale - 1.0))  # type: ignore[operator]
        s_int, n_int, se = float(est["int"]), int(est["n_int"]), float(est["int_se"])  # type: ignore[arg-type]
        variants = {
            "given": 0.0,
            "true": s_true,
            "int_n8": s_int if n_int >= 8 and abs(s_int) < 0.1 else 0.0,
            "int_2se": s_int if n_int >= 8 and abs(s_int) > 2.0 * se and abs(s_int) < 0.1 else 0.0,
        }
        line = [f"{seed:5d} {case.sensor.fs_hz:6.1f} true {100 * s_true:+5.2f} int {100 * s_int:+6.2f} n {n_int:3d}"]
        for name, s in variants.items():
            scale["now"] = 1.0 + s
            errs = [abs(r.error_deg) for r in peak_budget.session_errors(seed, change=change)]
            sums.setdefault(name, []).append(float(np.mean(errs)) if errs else math.nan)
            line.append(f"{name} {sums[name][-1]:.3f}")
        print(" ".join(line), flush=True)
    for name, v in sums.items():
        print(f"{name}: mean of per-session MAE {np.nanmean(v):.4f} deg over {np.isfinite(v).sum()} sessions")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0:300")
    ap.add_argument("--gyro-scale-err", type=float, default=None)
    ap.add_argument("--acc-ideal", action="store_true")
    ap.add_argument("--correct", action="store_true", help="peak MAE with the gyro corrected by each estimate")
    ap.add_argument("--real", action="store_true", help="real recordings with a gyro instead")
    args = ap.parse_args()
    if args.correct:
        a, b = (int(x) for x in args.seeds.split(":"))
        if b > 10000:
            raise SystemExit("tuning seeds only (< 10000)")
        corrected_errors(range(a, b), args.gyro_scale_err)
        return
    if args.real:
        real()
        return
    a, b = (int(x) for x in args.seeds.split(":"))
    if b > 10000:
        raise SystemExit("tuning seeds only (< 10000)")
    res = []
    for seed in range(a, b):
        r = probe(seed, args.gyro_scale_err, args.acc_ideal)
        if r is None:
            continue
        res.append(r)
        print(
            f"{seed:5d} {r['fs']:6.1f} true {100 * r['true']:+6.2f} fit {100 * r['fit']:+6.2f} "
            f"(r {r['fit_gain']:.2f}) int {100 * r['int']:+6.2f} n {r['n_int']:3d} iqr {100 * r['int_iqr']:5.2f} "
            f"se {100 * r['int_se']:5.2f}",
            flush=True,
        )
    tr = np.array([r["true"] for r in res])
    for key in ("fit", "int"):
        v = np.array([r[key] for r in res])
        ok = np.isfinite(v)
        err = v[ok] - tr[ok]
        c = np.corrcoef(v[ok], tr[ok])[0, 1] if ok.sum() > 2 else math.nan
        print(
            f"{key}: n {ok.sum()}, true std {100 * tr[ok].std():.2f} %, "
            f"est-true: median {100 * np.median(err):+.2f} %, "
            f"MAE {100 * np.mean(np.abs(err)):.2f} %, RMS {100 * np.sqrt(np.mean(err**2)):.2f} %, corr {c:.2f}"
        )


if __name__ == "__main__":
    main()
