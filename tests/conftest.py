"""Shared pytest options and fixtures.

* ``--run-hardware`` opts in to tests marked ``hardware`` (they need a real BLE sensor);
  without it they are skipped with that reason.
* ``shared_data`` is the folder of third-party recordings beside the repository
  (``../shared/data``, or the folder named by the environment variable
  ``HIPFLEX_SHARED_DATA``, e.g. from a git worktree elsewhere); tests that use it are
  marked ``shared_data`` and skip with a clear reason when it is absent (it is not
  redistributed with the code).
* The first-run notice ("preparing the analysis", :mod:`hipflex.service.first_run`) is
  silenced for the whole session (and the processes it starts), so that a test's stderr
  does not depend on whether an earlier test compiled the kernels; the notice's own
  tests switch it back on.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

os.environ["HIPFLEX_NO_FIRST_RUN_NOTICE"] = "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-hardware",
        action="store_true",
        default=False,
        help="run tests marked 'hardware' (need a real BLE sensor nearby)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-hardware"):
        return
    skip = pytest.mark.skip(reason="needs a real BLE sensor; run with --run-hardware")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` relative to the repository root; skips the test when it is absent."""
    path = Path(os.environ.get("HIPFLEX_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"third-party recordings not found at {path} (they are not part of the repository)")
    return path
