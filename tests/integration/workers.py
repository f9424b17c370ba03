"""Runs `govbus worker` processes for integration tests, and reads topics back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from govbus.chaos.pipeline import layer_progress
from govbus.wiring import registry
from ops.kafka_client import kafka_config
from ops.settings import Settings
from ops.stack.process import terminate
from topics.reader import ReadMessage, TopicReader

GOVBUS = [sys.executable, "-m", "govbus.cli"]


def namespace_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a govbus command in the settings' topic namespace."""
    return {**os.environ, "GOVBUS_TOPIC_NAMESPACE": settings.topic_namespace, **extra}


@contextmanager
def running_worker(settings: Settings, log_path: Path, *extra: str
                   ) -> Iterator[subprocess.Popen[bytes]]:
    """A streams worker in the settings' namespace."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([*GOVBUS, "worker", "--loglevel", "info", *extra],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env=namespace_env(settings))
        try:
            yield process
        finally:
            terminate(process)


@contextmanager
def drained(settings: Settings, layers: list[str], quiet_s: float = 2.0
            ) -> Iterator[Callable[[], bool]]:
    """A condition for ``wait_for``: the layers' groups (``raw``, ``theme``, ``sink``) have
    committed all of their inputs, and nothing moved for ``quiet_s``."""
    progress = layer_progress(settings, layers)
    try:
        yield progress.drained(quiet_s)
    finally:
        progress.close()


def read_topic(settings: Settings, name: str) -> list[ReadMessage]:
    """Every message of the topic up to its end as of now (a caller waiting for output
    asks again: ``wait_for``)."""
    return list(TopicReader(kafka_config(settings), registry(settings), name)
                .messages_to_end())


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str,
             process: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"worker exited ({process.returncode}) before {what}:\n{tail}")
        time.sleep(1.0)
    tail = log.read_text(errors="replace")[-3000:] if log else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{tail}")
