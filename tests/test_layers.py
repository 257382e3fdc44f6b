"""The import layers and the package list: the architecture as a test.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``): dsp <- sensor <-
service; inside ``sensor/`` the parts from the emulation tier down to the leaves; one
module builds the vendor clients; only the service imports the emulation tier; and no
import cycles at any level.  import-linter reads every import statement, function-level
(lazy) ones included.

The contracts run in a child process whose ``hipflex`` is this checkout as installed
(``.mypy_paths`` maps ``hipflex.dsp`` to ``dsp/`` and so on): in this process ``hipflex``
may come from an editable install, whose ``hipflex/`` folder holds only ``__init__.py``.  It
runs outside the checkout because import-linter puts the working directory first on the path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHECK = """
import sys
import grimp
from importlinter.cli import lint_imports

graph = grimp.build_graph("hipflex")
# The graph is the whole package, and it holds function-level imports (this one is lazy).
assert len(graph.modules) > 100, sorted(graph.modules)
assert graph.direct_import_exists(importer="hipflex.service.commands.analyze", imported="hipflex.dsp")
sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))
"""


def test_import_contracts_hold(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / ".mypy_paths"), os.environ.get("PYTHONPATH", "")]))
    env["PYTHONSAFEPATH"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", _CHECK, str(REPO / "pyproject.toml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_every_package_folder_is_in_the_wheel() -> None:
    """Each folder with an ``__init__.py`` under a mapped root is a listed package (else it leaves the wheel)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    roots = config["package-dir"]
    found = set()
    for package, folder in roots.items():
        base = REPO / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            found.add(".".join([package, *rel.parts]))
    assert {"hipflex.sensor.live", "hipflex.service.routes"} <= found  # the walk sees sub-packages
    assert found == set(config["packages"])
