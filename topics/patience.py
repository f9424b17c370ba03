"""Waiting out a schema registry that does not answer.

A registry outage is the infrastructure's fault, never the message's or the caller's: a call
that meets one is tried again with a growing pause, and gives up with RegistryUnavailableError
only after REGISTRY_PATIENCE_S (a worker then exits uncommitted; its events are read again
after a restart). An answer that settles the question (no schema has this id, the schema is
incompatible, the principal may not) ends the wait at once: trying again changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Long enough to outlast a registry restart or a failover; short enough that a registry gone
# for good surfaces as a fault rather than a process that waits unseen.
REGISTRY_PATIENCE_S = 240.0
FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 10.0


class RegistryUnavailableError(RuntimeError):
    """The registry did not answer for REGISTRY_PATIENCE_S: an infrastructure fault."""


def patiently(
    call: Callable[[], T],
    doing: str,
    *,
    settled: Callable[[Exception], bool],
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> T:
    """``call()``, tried again while it fails with an error ``settled`` does not accept as
    the registry's answer; ``doing`` says what for, in the log and the final error."""
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + REGISTRY_PATIENCE_S
    pause = FIRST_PAUSE_S
    while True:
        try:
            return call()
        except Exception as exc:
            if settled(exc):
                raise
            if clock() + pause > deadline:
                raise RegistryUnavailableError(
                    f"schema registry unavailable for {REGISTRY_PATIENCE_S:.0f} s while "
                    f"{doing}: {exc}") from exc
            log.warning("schema registry unavailable while %s (%s); retrying in %.1f s",
                        doing, exc, pause)
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)
