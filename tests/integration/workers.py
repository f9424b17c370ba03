"""Runs `govbus worker` processes for integration tests, and reads topics back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from govbus.wiring import registry
from ops.kafka_client import kafka_config
from ops.settings import Settings, get_settings
from ops.stack.process import terminate
from topics.reader import ReadMessage, TopicReader

GOVBUS = [sys.executable, "-m", "govbus.cli"]


@contextmanager
def running_worker(log_path: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A streams worker in the test's namespace (the env var is inherited)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([*GOVBUS, "worker", "--loglevel", "info", *extra],
                                   stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            yield process
        finally:
            terminate(process)


def read_topic(name: str, settings: Settings | None = None, idle_s: float = 3.0
               ) -> list[ReadMessage]:
    settings = settings or get_settings()
    return list(TopicReader(kafka_config(settings), registry(settings), name).messages(
        idle_timeout_s=idle_s))


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
