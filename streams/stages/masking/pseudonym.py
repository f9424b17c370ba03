"""Keyed pseudonyms of identifiers: ``<key_id>:<first 32 hex digits of HMAC(key, value)>``.

The pseudonym of a citizen ID number is the person's join key in std/fact/theme, so it must
be stable for a key and unlinkable without it. HMAC-SHA256 or HMAC-SM3 (GB/T 32905, for
deployments that must use national algorithms); SM3 comes from hashlib, which has it when
Python's OpenSSL does (OpenSSL >= 1.1.1 without the "no-sm3" option), and is refused at
construction otherwise rather than silently falling back to another hash.

32 hex digits (128 bits) keep the chance of any collision among 1.5e9 people below 1e-20 while
halving the key's size in every topic, table and index. The key id prefix lets keys rotate:
pseudonyms of different keys never compare equal.

The key is given by the caller (the command line resolves it, ``ops/keys.py``): nothing here
reads settings, and there is no default key.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, Literal

HashAlgorithm = Literal["sha256", "sm3"]
PSEUDONYM_HEX_LENGTH: Final = 32


class PseudonymConfigError(ValueError):
    """The key, key id or algorithm cannot make pseudonyms."""


def sm3_available() -> bool:
    try:
        hashlib.new("sm3")
    except ValueError:
        return False
    return True


class Pseudonymizer:
    """HMAC with the key state computed once; each value costs one state copy."""

    def __init__(self, key: bytes, key_id: str, algorithm: HashAlgorithm = "sha256") -> None:
        if not key:
            raise PseudonymConfigError("the pseudonym key is empty")
        if not key_id or ":" in key_id:
            raise PseudonymConfigError(f"key id must be non-empty and without ':', got {key_id!r}")
        if algorithm not in ("sha256", "sm3"):
            raise PseudonymConfigError(f"unknown pseudonym hash {algorithm!r}: sha256 or sm3")
        if algorithm == "sm3" and not sm3_available():
            raise PseudonymConfigError(
                "HMAC-SM3 requested but this Python's OpenSSL has no SM3; use sha256 or an "
                "OpenSSL build with SM3"
            )
        self._state = hmac.new(key, digestmod=algorithm)
        self._prefix = key_id + ":"
        self.key_id = key_id
        self.algorithm = algorithm

    def __call__(self, value: str) -> str:
        mac = self._state.copy()
        mac.update(value.encode())
        return self._prefix + mac.hexdigest()[:PSEUDONYM_HEX_LENGTH]

