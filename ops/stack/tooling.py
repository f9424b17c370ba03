"""Checks for the Java tool chain and Maven resolution of the stack's jars."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ops.stack.process import StackError

STACK_DIR = Path(__file__).resolve().parent


def require_tool(name: str, purpose: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(
            f"{name} is not on PATH; it is needed to {purpose} "
            f"(install OpenJDK 17+ and Maven, or point GOVBUS_KAFKA_BOOTSTRAP and "
            f"GOVBUS_REGISTRY_URL at running services with GOVBUS_MANAGE_STACK=false)"
        )
    return path


def resolve_jars(pom: Path, lib_dir: Path) -> Path:
    """Copy the pom's runtime class path into lib_dir once; later calls are free.

    A stamp holding the pom's text makes a changed pom resolve again.
    """
    stamp = lib_dir / ".resolved-from"
    pom_text = pom.read_text()
    if stamp.exists() and stamp.read_text() == pom_text:
        return lib_dir
    mvn = require_tool("mvn", "resolve the stack's jars from Maven Central")
    require_tool("java", "run the local stack")
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    lib_dir.mkdir(parents=True)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib_dir}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(
            f"maven could not resolve {pom.name}: {result.stdout[-800:]}{result.stderr[-800:]}"
        )
    stamp.write_text(pom_text)
    return lib_dir
