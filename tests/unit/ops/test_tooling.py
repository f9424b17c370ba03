"""Jar resolution never leaves a half-filled class path, and says why Maven failed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ops.stack.process import StackError
from ops.stack.tooling import resolve_jars

FAKE_MVN = """#!/bin/sh
# Stands in for Maven: records its arguments, copies one jar, then succeeds or fails.
echo "$@" > "$ARGS_FILE"
for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#*=}";; esac; done
touch "$out/kafka.jar"
[ -z "$FAIL_WITH" ] || { echo "$FAIL_WITH"; exit 1; }
"""


@pytest.fixture
def fake_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mvn", "java"):
        script = bin_dir / tool
        script.write_text(FAKE_MVN)
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    monkeypatch.setenv("FAIL_WITH", "")
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    return pom


def test_resolves_once_with_strict_checksums(fake_maven: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    assert resolve_jars(fake_maven, lib) == lib
    assert (lib / "kafka.jar").exists()
    assert "--strict-checksums" in (tmp_path / "args").read_text().split()
    (tmp_path / "args").unlink()
    resolve_jars(fake_maven, lib)
    assert not (tmp_path / "args").exists(), "an unchanged pom does not run Maven again"


def test_checksum_mismatch_is_a_clear_error_and_keeps_the_old_class_path(
    fake_maven: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    resolve_jars(fake_maven, lib)
    fake_maven.write_text("<project><!-- changed --></project>")
    monkeypatch.setenv("FAIL_WITH", "[ERROR] Checksum validation failed, expected abc but is def")
    with pytest.raises(StackError, match="does not match its published checksum"):
        resolve_jars(fake_maven, lib)
    assert (lib / ".resolved-from").read_text() == "<project/>"
    assert not (tmp_path / "lib.part").exists()


def test_every_stack_pom_is_well_formed_xml() -> None:
    # A comment with a double hyphen in it, for one, makes Maven refuse the whole pom.
    import xml.dom.minidom

    from ops.stack.tooling import STACK_DIR

    poms = sorted(STACK_DIR.glob("*-pom.xml"))
    assert poms
    for pom in poms:
        xml.dom.minidom.parse(str(pom))
