"""The real stack for integration tests: started once per session, or reused when up.

Each test gets its own topic namespace, so tests never see each other's events: a
``Settings`` built with it (the ``settings`` fixture), handed to what the test calls and, as
the environment of their command line, to the processes it starts (``namespace_env``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ops.access import ADMIN_PRINCIPAL
from ops.settings import Settings, get_settings
from ops.stack.manager import LocalStack
from tests.integration.namespaces import fresh_namespace, tear_down


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    # The tests' own clients (setting up topics, reading outputs back) connect as the admin;
    # the processes they start (`govbus worker`, `govbus sink run`) as their own principals.
    os.environ.setdefault("GOVBUS_KAFKA_USER", ADMIN_PRINCIPAL)
    get_settings.cache_clear()
    settings = get_settings()
    local = LocalStack(settings)
    started_here = not local.is_up()
    if started_here:
        for line in local.up():
            print(line)
    yield settings
    if started_here and not os.environ.get("GOVBUS_KEEP_STACK"):
        for line in local.down():
            print(line)


@pytest.fixture
def settings(stack: Settings) -> Iterator[Settings]:
    """The stack's settings in a fresh topic namespace for one test (its topics and subjects
    are its own)."""
    made = fresh_namespace(stack)
    yield made
    tear_down(made)


@pytest.fixture
def namespace(settings: Settings) -> str:
    """The test's topic namespace (``settings.topic_namespace``)."""
    return settings.topic_namespace


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Chaos tests (minutes each, beyond CI's budget) run only when a marker expression names
    # them: `pytest -m chaos`.
    chosen = "chaos" in (config.option.markexpr or "")
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("chaos") and not chosen:
            item.add_marker(pytest.mark.skip(reason="a chaos test: run with `pytest -m chaos`"))
