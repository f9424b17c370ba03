"""The pseudonymizer of the configured key, for the commands that run the raw layer."""

from __future__ import annotations

from ops.keys import pseudonym_key
from ops.settings import Settings
from streams.stages.masking.pseudonym import Pseudonymizer


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    """Raises ``PseudonymKeyError`` (one line) when no key is configured."""
    key = pseudonym_key(settings)
    return Pseudonymizer(key.secret, key.key_id, key.algorithm)
