"""One exception family for the service layer: every exception it defines has the one root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import hipflex.service
from hipflex.service.analysis_pool import Cancelled, PoolBusy
from hipflex.service.commands import UsageError
from hipflex.service.devices import DeviceNotFound
from hipflex.service.errors import ServiceLayerError
from hipflex.service.sources import SourceError


def _exceptions_defined_in_service() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(hipflex.service.__path__, "hipflex.service."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_service_exception_has_the_common_root() -> None:
    found = _exceptions_defined_in_service()
    assert len(found) >= 9  # the walk sees the whole layer (sources, devices, pool, data folder, commands)
    assert "hipflex.service.commands.UsageError" in found  # and its sub-packages
    assert [name for name, cls in found.items() if not issubclass(cls, ServiceLayerError)] == []


def test_the_family_keeps_the_builtin_bases_callers_catch() -> None:
    assert issubclass(SourceError, ValueError) and issubclass(DeviceNotFound, LookupError)
    assert issubclass(PoolBusy, RuntimeError) and issubclass(Cancelled, RuntimeError)
    assert not issubclass(UsageError, RuntimeError)
    assert isinstance(SourceError("bad file"), ServiceLayerError)
