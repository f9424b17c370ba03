"""Topic namespaces of integration tests: a ``Settings`` each, made fresh and torn down."""

from __future__ import annotations

import uuid
import warnings

from govbus.wiring import topic_admin
from ops.settings import Settings
from topics.catalog import catalog_for
from topics.principals import principals


def fresh_namespace(stack: Settings, label: str = "") -> Settings:
    """The stack's settings in a topic namespace no other test uses."""
    return stack.model_copy(update={"topic_namespace": f"t{uuid.uuid4().hex[:10]}{label}."})


def tear_down(settings: Settings) -> None:
    """The namespace's topics and ACLs go with it: hundreds of tests' partitions and grants
    left on the broker would slow every later test and leave grants no one uses."""
    try:
        admin = topic_admin(settings)
        admin.delete(t.name for t in catalog_for(settings).all)
        if admin.access is not None:
            admin.access.revoke_declared(principals(settings))
    except Exception as exc:
        warnings.warn(f"namespace {settings.topic_namespace} left behind: {exc}", stacklevel=1)
