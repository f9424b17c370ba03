"""Every test run has its own random pseudonym key, given explicitly: there is no default.

Set in the environment before anything reads settings, so the worker and sink processes
that integration tests start use the same key as the tests that compute pseudonyms.
"""

from __future__ import annotations

import os
import secrets

import pytest

from streams.stages.masking.pseudonym import Pseudonymizer

TEST_KEY_ID = "test"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("GOVBUS_PSEUDONYM_KEY", secrets.token_hex(32))
    os.environ.setdefault("GOVBUS_PSEUDONYM_KEY_ID", TEST_KEY_ID)


@pytest.fixture(scope="session")
def pseudonymizer() -> Pseudonymizer:
    """The run's key, as the raw layer uses it."""
    return Pseudonymizer(
        os.environ["GOVBUS_PSEUDONYM_KEY"].encode(), os.environ["GOVBUS_PSEUDONYM_KEY_ID"]
    )
