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

    A stamp holding the pom's text makes a changed pom resolve again. The jars land in a
    scratch folder that replaces lib_dir only when Maven succeeded, with every artifact's
    checksum verified: a failed or tampered download leaves no half-filled class path.
    """
    stamp = lib_dir / ".resolved-from"
    pom_text = pom.read_text()
    if stamp.exists() and stamp.read_text() == pom_text:
        return lib_dir
    mvn = require_tool("mvn", "resolve the stack's jars from Maven Central")
    require_tool("java", "run the local stack")
    scratch = lib_dir.with_name(lib_dir.name + ".part")
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    result = subprocess.run(
        [
            *maven_command(mvn),
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={scratch}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise StackError(f"maven could not resolve {pom.name}: {maven_failure(result)}")
    (scratch / stamp.name).write_text(pom_text)
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    scratch.rename(lib_dir)
    return lib_dir


def maven_command(mvn: str) -> list[str]:
    """Batch mode, quiet, and a checksum mismatch is an error (Maven only warns by default)."""
    return [mvn, "-q", "-B", "--strict-checksums"]


def maven_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The end of Maven's output, where it names the artifact and the cause."""
    text = (result.stdout + result.stderr).strip()
    if "Checksum validation failed" in text:
        return "a downloaded artifact does not match its published checksum: " + text[-600:]
    return text[-800:]
