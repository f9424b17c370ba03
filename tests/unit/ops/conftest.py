"""promtool, from Debian's prometheus package (ops/bootstrap.sh installs it when root)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Promtool = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def promtool() -> Promtool:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not found: ops/bootstrap.sh installs Debian's prometheus package "
                    "when run as root with apt-get (it could not here)")

    def run(*args: str, stdin: str | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *args], input=stdin, capture_output=True, text=True,
                              cwd=cwd, timeout=60, check=False)

    return run
