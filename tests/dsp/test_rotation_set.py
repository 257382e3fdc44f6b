"""A session that starts with a rotation about the vertical thigh (dsp/rotation_set.py)."""

from __future__ import annotations

import numpy as np

from hipflex.dsp.learn import Calibration
from hipflex.dsp.rotation_set import rotation_axes

FS_HZ = 50.0


def _cal(up: np.ndarray) -> Calibration:
    return Calibration(0, 49, up, np.zeros(3), 1.0 / FS_HZ, True)


def _rate(off_axis_dps: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1 s still, then rotations of 40 deg out and back about "up" (plus off-axis rate), sensor frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(12.0 * FS_HZ)) / FS_HZ
    up = np.array([0.2, -0.3, 0.93])
    up /= np.linalg.norm(up)
    moving = t >= 1.0
    # -40 deg and back in 2 s: the first excursion turns the negative way about up.
    about_up = np.where(moving, -40.0 * np.pi / 2.0 * np.sin(np.pi * (t - 1.0)), 0.0)
    side = np.cross(up, [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    other = np.where(moving, off_axis_dps * np.sin(2.0 * np.pi * 0.7 * t + rng.uniform(0, 6)), 0.0)
    gyr = np.outer(about_up, up) + np.outer(other, side) + rng.normal(0.0, 0.2, (t.size, 3))
    return t, gyr, up


def test_a_rotation_about_up_alone_gives_axes_signed_by_its_first_excursion() -> None:
    t, gyr, up = _rate(5.0, 1)
    axes = rotation_axes(t, gyr, _cal(up), 20.0)
    assert axes is not None
    np.testing.assert_allclose(axes.a, -up, atol=1e-12)  # the first excursion (negative about up) is positive
    np.testing.assert_allclose(axes.u, up, atol=1e-12)
    assert abs(float(axes.w @ up)) < 1e-12


def test_a_rate_spread_over_every_axis_is_no_rotation_set() -> None:
    # A wrist on a barbell (Ebbelaar): its principal axis can lie near the vertical,
    # but it turns about the others nearly as much.  No rotation set.
    t, gyr, up = _rate(45.0, 2)
    scatter = gyr.T @ gyr
    vals, vecs = np.linalg.eigh(scatter)
    assert abs(float(vecs[:, -1] @ up)) > np.cos(np.radians(30.0))  # near the vertical ...
    assert vals[-1] < 0.8 * vals.sum()  # ... but not about it alone
    assert rotation_axes(t, gyr, _cal(up), 20.0) is None
