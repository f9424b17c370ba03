"""faust is an optional extra (the e2e baseline, the subscriber kit): the bus's own wings run
without it, so importing every module of theirs must not import faust or its client."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ("streams", "sinks", "topics", "ops")

IMPORT_ALL = """
import importlib, pkgutil, sys
package = importlib.import_module({package!r})
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
print(" ".join(sorted(m for m in sys.modules if m.split(".")[0] in ("faust", "aiokafka", "mode"))))
"""


@pytest.mark.parametrize("package", CORE)
def test_importing_a_core_wing_imports_no_faust(package: str) -> None:
    # A fresh interpreter: this test process may have imported faust for another test.
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(package=package)],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package} imports {result.stdout.strip()}"
