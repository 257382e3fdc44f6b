"""One exception family for the sensor layer: every exception it defines has the one root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import hipflex.sensor
from hipflex.sensor.capture.log import CaptureDiskFullError, CaptureWriteError
from hipflex.sensor.errors import SensorError, SensorLayerError
from hipflex.sensor.format_spec import InputError
from hipflex.sensor.polar.frames import PmdDecodeError


def _exceptions_defined_in_sensor() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(hipflex.sensor.__path__, "hipflex.sensor."):
        if info.name.startswith("hipflex.sensor.emulate"):
            continue  # the test tier's GattError is a handler's signal to its radio backend, not an error of ours
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_sensor_exception_has_the_common_root() -> None:
    found = _exceptions_defined_in_sensor()
    assert len(found) >= 12  # the walk sees the whole layer (live errors, input, capture, protocols)
    assert [name for name, cls in found.items() if not issubclass(cls, SensorLayerError)] == []


def test_the_family_keeps_the_builtin_bases_callers_catch() -> None:
    assert issubclass(SensorError, SensorLayerError) and not issubclass(InputError, SensorError)
    assert issubclass(InputError, ValueError) and issubclass(PmdDecodeError, ValueError)
    assert issubclass(CaptureWriteError, OSError)
    full = CaptureDiskFullError(28, "disk full")
    assert full.errno == 28 and isinstance(full, SensorLayerError)
