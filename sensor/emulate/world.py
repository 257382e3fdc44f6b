"""Emulated sensors for the command line and demos, selected by ``HIPFLEX_BLE_BACKEND``.

``hipflex scan`` and ``hipflex record`` talk to real sensors through the OS's Bluetooth
stack.  For tests, demos and machines without a radio, the environment variable
``HIPFLEX_BLE_BACKEND`` swaps in emulated sensors (the same emulators the test tiers use)
without changing anything else in the command::

    HIPFLEX_BLE_BACKEND=fake:h10 hipflex record h10 --out s.jsonl --duration 30
    HIPFLEX_BLE_BACKEND=bumble:all,speed=10 hipflex scan

Syntax: ``<tier>:<scenario>[,key=value...]``.

- tier ``fake`` (in-memory backend) or ``bumble`` (real ATT over bumble's in-process
  link; needs the ``bumble`` test dependency);
- scenario ``h10``, ``verity``, ``metamotion``, ``all`` (the three), ``h10-drops`` (2 %
  lost notifications and a dropped link every 20 s), ``empty`` (no sensor in range),
  ``no-adapter`` (the OS has no Bluetooth), ``denied`` (permission refused), ``busy``
  (the sensor is connected elsewhere);
- options ``speed`` (emulated seconds per real second, default 20: a 60 s recording
  takes 3 s) and ``seed`` (simulated motion).

The sensors stream a simulated session (:func:`~hipflex.sensor.sim.simulate.simulate_drill`,
ballistic drill, repeated).  Time runs ``speed`` times faster for the sensors *and* for
the client's clock, so recordings look like real-time ones.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakDBusError

from hipflex.sensor.live.client import BleBackends

__all__ = ["ENV_VAR", "SCENARIOS", "WorldSpec", "ble_world", "parse_world"]

#: The environment variable that selects emulated sensors.
ENV_VAR: Final = "HIPFLEX_BLE_BACKEND"
#: Scenario name -> sensors on the air.
SCENARIOS: Final = {
    "h10": ("h10",),
    "verity": ("verity",),
    "metamotion": ("metamotion",),
    "all": ("h10", "verity", "metamotion"),
    "h10-drops": ("h10",),
    "empty": (),
    "no-adapter": (),
    "denied": (),
    "busy": ("h10",),
}
_DEFAULT_RATE_HZ: Final = {"h10": 200.0, "verity": 52.0, "metamotion": 100.0}


@dataclass(frozen=True)
class WorldSpec:
    """A parsed ``HIPFLEX_BLE_BACKEND`` value."""

    tier: str
    scenario: str
    speed: float = 20.0
    seed: int = 1


def parse_world(text: str) -> WorldSpec:
    """Parse ``<tier>:<scenario>[,key=value...]``.

    Raises
    ------
    ValueError
        Unknown tier, scenario or option (the message lists the choices).
    """
    tier, _, rest = text.strip().partition(":")
    scenario, *options = [p.strip() for p in rest.split(",")]
    if tier not in ("fake", "bumble"):
        raise ValueError(f"{ENV_VAR}: tier must be 'fake' or 'bumble', got {tier!r}")
    if scenario not in SCENARIOS:
        raise ValueError(f"{ENV_VAR}: unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    kwargs: dict[str, Any] = {}
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "speed" and float(value) > 0:
            kwargs["speed"] = float(value)
        elif key == "seed":
            kwargs["seed"] = int(value)
        else:
            raise ValueError(f"{ENV_VAR}: bad option {opt!r} (speed=<float > 0>, seed=<int>)")
    return WorldSpec(tier, scenario, **kwargs)


class _NoAdapterScanner(BaseBleakScanner):
    """What bleak raises on Linux when BlueZ/D-Bus is missing (no system bus socket)."""

    error: BaseException = FileNotFoundError(2, "No such file or directory")

    def __init__(self, detection_callback: Any, service_uuids: Any, scanning_mode: str = "active", **kw: Any):
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        raise self.error

    async def stop(self) -> None:
        """Nothing was started."""


class _DeniedScanner(_NoAdapterScanner):
    error = BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected send message"])


def _emulators(spec: WorldSpec, rate_hz: float | None) -> list[Any]:
    from hipflex.sensor.emulate.devices import VERITY_SENSE_PROFILE, FaultPlan, MetaWearPeripheral, PolarPmdPeripheral
    from hipflex.sensor.emulate.devices.source import SampleFeed
    from hipflex.sensor.metawear.protocol import ImuChip
    from hipflex.sensor.sim.simulate import simulate_drill

    out: list[Any] = []
    faults = None
    if spec.scenario == "h10-drops":
        faults = FaultPlan(drop_fraction=0.02, disconnect_at_s=tuple(20.0 * k for k in range(1, 200)), seed=spec.seed)
    for kind in SCENARIOS[spec.scenario]:
        rate = rate_hz or _DEFAULT_RATE_HZ[kind]
        sim = simulate_drill("ballistic", fs_hz=rate, has_gyro=kind != "h10", seed=spec.seed, n_sets=3)
        source = SampleFeed(sim.samples, loop=True)
        if kind == "h10":
            out.append(PolarPmdPeripheral(source=source, time_scale=spec.speed, faults=faults))
        elif kind == "verity":
            out.append(
                PolarPmdPeripheral(VERITY_SENSE_PROFILE, device_id="5E5E0001", source=source, time_scale=spec.speed)
            )
        else:
            out.append(MetaWearPeripheral(ImuChip.BMI270, source=source, time_scale=spec.speed))
    return out


def _clock(speed: float) -> Callable[[], float]:
    # The client's clock runs as fast as the emulators' (both count from loop-monotonic time).
    t0 = time.monotonic()
    return lambda: t0 + (time.monotonic() - t0) * speed


@contextlib.asynccontextmanager
async def ble_world(text: str | None, *, rate_hz: float | None = None) -> AsyncIterator[BleBackends]:
    """The backends to use: the OS's when ``text`` is empty, else an emulated world.

    Parameters
    ----------
    text : str or None
        ``HIPFLEX_BLE_BACKEND``'s value.
    rate_hz : float or None
        Rate the sensors' simulated motion is generated at (the rate the client will ask for).

    Raises
    ------
    ValueError
        A malformed ``text`` (see :func:`parse_world`).
    """
    if not text:
        yield BleBackends()
        return
    spec = parse_world(text)
    clock = _clock(spec.speed)
    if spec.scenario == "no-adapter":
        yield BleBackends(scanner=_NoAdapterScanner, clock=clock)
        return
    if spec.scenario == "denied":
        yield BleBackends(scanner=_DeniedScanner, clock=clock)
        return
    emulators = _emulators(spec, rate_hz)
    busy = BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"])
    if spec.tier == "fake":
        from hipflex.sensor.emulate.ble import FakeRadio

        async with FakeRadio() as radio:
            for emu in emulators:
                peripheral = radio.add(emu)
                if spec.scenario == "busy":
                    peripheral.fail_next_connects(10_000, error=lambda: busy)
            yield BleBackends(radio.client_backend, radio.scanner_backend, clock=clock)
        return
    try:
        from hipflex.sensor.emulate.ble.bumble_backend import BumbleAir
    except ImportError as exc:  # pragma: no cover - bumble is a test dependency
        raise ValueError(f"{ENV_VAR}=bumble:... needs the 'bumble' package ({exc})") from None
    async with BumbleAir() as air:
        for emu in emulators:
            hosted = await air.add_peripheral(emu)
            if spec.scenario == "busy":
                hosted.fail_next_connects(10_000, error=lambda: busy)
        yield BleBackends(air.client_backend, air.scanner_backend, clock=clock)
