"""Secrets on disk: created owner-only, read without trailing whitespace, never logged."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr


def write_secret(path: Path, content: bytes) -> None:
    """Write a file readable by its owner alone (0600), replacing any earlier one whole."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".part")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    scratch.replace(path)


def read_secret(path: Path) -> SecretStr:
    return SecretStr(path.read_text(encoding="utf-8").strip())


def new_password() -> SecretStr:
    """A random password of 256 bits, URL-safe (no quoting trouble in JAAS or headers)."""
    return SecretStr(secrets.token_urlsafe(32))
