"""The real stack for integration tests: started once per session, or reused when up.

Each test gets its own topic namespace, so tests never see each other's events.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator

import pytest

from govbus.wiring import topic_admin
from ops.access import ADMIN_PRINCIPAL
from ops.settings import Settings, get_settings
from ops.stack.manager import LocalStack
from topics.catalog import catalog
from topics.principals import principals


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
def namespace(stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh topic namespace for one test (its topics and subjects are its own)."""
    value = f"t{uuid.uuid4().hex[:10]}."
    monkeypatch.setenv("GOVBUS_TOPIC_NAMESPACE", value)
    get_settings.cache_clear()
    yield value
    _tear_down(value)
    get_settings.cache_clear()


def _tear_down(namespace: str) -> None:
    """The namespace's topics and ACLs go with it: hundreds of tests' partitions and grants
    left on the broker would slow every later test and leave grants no one uses."""
    settings = get_settings()
    assert settings.topic_namespace == namespace
    try:
        admin = topic_admin(settings)
        admin.delete(t.name for t in catalog())
        if admin.access is not None:
            admin.access.revoke_declared(principals(settings))
    except Exception as exc:
        warnings.warn(f"namespace {namespace} left behind: {exc}", stacklevel=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Chaos tests (minutes each, beyond CI's budget) run only when a marker expression names
    # them: `pytest -m chaos`.
    chosen = "chaos" in (config.option.markexpr or "")
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("chaos") and not chosen:
            item.add_marker(pytest.mark.skip(reason="a chaos test: run with `pytest -m chaos`"))
