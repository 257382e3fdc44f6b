"""The sign's two lever searches: the second reuses the first's candidate runs where they step alike."""

from __future__ import annotations

import numpy as np
import pytest
from identify_calls import identify_calls, mid_set_march

import hipflex.dsp.flexion_sign as fs
from hipflex.dsp import _layout as L
from hipflex.dsp._kern_pendulum import _pendulum_step


def _searches() -> list[tuple[tuple, dict]]:
    """The ``_identify`` calls of an accelerometer-only march started mid-set (their arguments)."""
    return identify_calls(mid_set_march())


def _counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """``fn(*args, **kwargs)`` and how many kernel runs over the rows it made."""
    runs = []
    orig = fs._run_span
    try:
        fs._run_span = lambda *a, **kw: runs.append(1) or orig(*a, **kw)  # type: ignore[assignment]
        out = fn(*args, **kwargs)
    finally:
        fs._run_span = orig
    return out, len(runs)


def test_the_second_search_reuses_the_first_searchs_runs_to_the_bit() -> None:
    (sym_args, sym_kw), (args, kw) = _searches()
    assert sym_kw.get("symmetric") and np.array_equal(sym_args[3].w, args[3].w)  # the sign stayed
    fresh, n_fresh = _counted(fs._identify, *args, earlier=kw.get("earlier"))
    replays = fs._Replays()
    fs._identify(*sym_args, symmetric=True, replays=replays)
    assert replays.runs
    again, n_again = _counted(fs._identify, *args, earlier=kw.get("earlier"), replays=replays)
    assert again == fresh and fresh.identified
    assert n_again < n_fresh // 2  # most candidates never reached either lower bound


@pytest.mark.parametrize("least", [-np.inf, np.inf])
def test_a_run_is_reused_only_where_no_step_reached_a_lower_bound(least: float) -> None:
    # The first search's runs made up (a likelihood no run gives), their least angle below any bound
    # or above all: run again, the search is the fresh one's; reused, it is not.
    (sym_args, _), (args, kw) = _searches()
    fresh = fs._identify(*args, earlier=kw.get("earlier"))
    replays = fs._Replays()
    fs._identify(*sym_args, symmetric=True, replays=replays)
    made_up = {key: (-1e9 if key == (0.24, 0.03) else 0.0, 1.0, least, run[3]) for key, run in replays.runs.items()}
    replays.runs = made_up
    got = fs._identify(*args, earlier=kw.get("earlier"), replays=replays)
    assert (got == fresh) == (least == -np.inf)


def test_other_rows_or_kernels_share_no_runs() -> None:
    (sym_args, _), (args, kw) = _searches()
    replays = fs._Replays()
    fs._identify(*sym_args, symmetric=True, replays=replays)
    settings, state, cal, axes, stop = args
    _, n_runs = _counted(fs._identify, settings, state, cal, axes, stop - 1, earlier=kw.get("earlier"), replays=replays)
    assert n_runs > 40  # every candidate ran: the rows differ


def test_the_filter_keeps_its_least_angle_before_the_bound_while_identifying() -> None:
    # A swing well behind the standing line, the lower bound at -20 deg: the least angle is the
    # unbounded step's, below the bound; outside identification the slot is left alone.
    prm = np.zeros(L.P_N)
    prm[L.P_W : L.P_W + 3] = (1.0, 0.0, 0.0)
    prm[L.P_U : L.P_U + 3] = (0.0, 0.0, 1.0)
    prm[L.P_EKF_Q] = 400.0**2
    prm[L.P_EKF_R] = 0.02
    prm[L.P_LEVER_M] = 0.25
    prm[L.P_THETA_MAX] = np.radians(130.0)
    prm[L.P_THETA_MIN] = np.radians(-20.0)
    out = {}
    for ident in (1.0, 0.0):
        prm[L.P_ID] = ident
        fstate = np.zeros(L.F_N)
        fstate[L.F_G_EST] = 1.0
        fstate[L.F_ID_XMIN] = np.inf
        fstate[L.F_P] = fstate[L.F_P + 4] = fstate[L.F_P + 8] = 1.0
        thetas = []
        for k in range(200):
            a = np.radians(-40.0) * np.sin(np.pi * k / 100.0)
            thetas.append(_pendulum_step(prm, fstate, np.sin(a), 0.0, np.cos(a), 0.01, 0)[0])
        out[ident] = (fstate[L.F_ID_XMIN], min(thetas))
    assert out[1.0][0] < prm[L.P_THETA_MIN] and np.isclose(out[1.0][1], -20.0)
    assert out[0.0][0] == np.inf
