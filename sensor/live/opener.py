"""Open the right live client for a found sensor: the one module that builds vendor clients.

:func:`open_sensor` turns a :class:`~hipflex.sensor.live.scan.FoundSensor` into a
:class:`~hipflex.sensor.live.polar_client.PolarClient` or a
:class:`~hipflex.sensor.live.metawear_client.MetaWearClient`.  It lives apart from
:mod:`~hipflex.sensor.live.scan` because the clients' session resolves addresses through
the scan: keeping the scan free of the clients keeps the imports acyclic.
"""

from __future__ import annotations

from typing import Any

from hipflex.sensor.live.metawear_client import MetaWearClient, MetaWearSettings
from hipflex.sensor.live.polar_client import PolarClient, PolarSettings
from hipflex.sensor.live.scan import FoundSensor

__all__ = ["open_sensor"]


def open_sensor(
    found: FoundSensor, *, sample_rate_hz: float | None = None, range_g: int = 8, gyro: bool = True, **kwargs: Any
) -> Any:
    """The live client for a found sensor: :class:`PolarClient` or :class:`MetaWearClient`.

    Parameters
    ----------
    found : FoundSensor
        From :func:`find_sensor`.
    sample_rate_hz : float or None
        Rate (``None``: the model's default).
    range_g : int
        Accelerometer range, +/- g.
    gyro : bool
        Stream the gyroscope when there is one.
    **kwargs
        For the client (``capture_path``, ``backends``, ``reconnect``, ...).
    """
    if found.info.kind == "polar":
        rate = None if sample_rate_hz is None else round(sample_rate_hz)
        return PolarClient(found.device, PolarSettings(rate, range_g, gyro), **kwargs)
    return MetaWearClient(
        found.device, MetaWearSettings(100.0 if sample_rate_hz is None else float(sample_rate_hz), range_g, gyro),
        **kwargs,
    )  # fmt: skip
