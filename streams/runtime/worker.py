"""``govbus worker``: runs the raw layer, the theme layer, or both in one process.

With both, each layer's loop has a thread: a loop waiting on the broker (consume, delivery
reports) releases the GIL to the other. SIGINT/SIGTERM stop both loops; each finishes and
commits what it has in hand. If one loop fails, the other is stopped too and the process
exits non-zero, with nothing committed that was not delivered.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from ops.http import start_metrics_server
from ops.kafka_client import as_principal
from ops.runtime.allocator import return_free_memory
from ops.runtime.gc_policy import tune_gc
from ops.runtime.kafka_output import OutputError
from ops.runtime.loop import ConsumerRuntime
from ops.settings import Settings
from streams.stages.masking.pseudonym import Pseudonymizer
from topics.principals import RAW_WORKER, THEME_WORKER

log = logging.getLogger("govbus.streams.runtime.worker")

ROLES = ("raw", "theme", "all")
EXIT_OUTPUT_FAILED = 70
EXIT_FAILED = 1


def run_worker(settings: Settings, role: str, pseudonymizer: Pseudonymizer | None) -> int:
    """Run the role's loops until SIGINT/SIGTERM; returns the exit code. The raw layer's
    pseudonym key comes from the caller (the command line)."""
    return_free_memory()
    loops: list[ConsumerRuntime] = []
    # Each layer connects as its own principal, also when both run in one process.
    if role in ("raw", "all"):
        if pseudonymizer is None:
            raise ValueError(f"role {role!r} needs a pseudonymizer")
        # Each layer's modules only where it runs: the raw layer's text scan loads a
        # part-of-speech tagger the theme layer has no use for.
        from streams.runtime.raw_worker import build_raw_runtime

        loops.append(build_raw_runtime(as_principal(settings, RAW_WORKER), pseudonymizer))
    if role in ("theme", "all"):
        from streams.runtime.theme_worker import build_theme_runtime

        loops.append(build_theme_runtime(as_principal(settings, THEME_WORKER)))
    failures: list[BaseException] = []
    tune_gc()

    def stop(_signum: int = 0, _frame: FrameType | None = None) -> None:
        for loop in loops:
            loop.stop()

    def run(loop: ConsumerRuntime) -> None:
        try:
            loop.run()
        except BaseException as exc:
            log.critical("%s loop failed, stopping the worker: %s", loop.step.name, exc)
            failures.append(exc)
            stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = start_metrics_server(settings, role, ready=lambda: _readiness(loops))
    threads = [threading.Thread(target=run, args=(loop,), name=f"{loop.step.name}-loop")
               for loop in loops]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # in slices, so the main thread serves signals
    finally:
        if server is not None:
            server.stop()
    if any(isinstance(exc, OutputError) for exc in failures):
        return EXIT_OUTPUT_FAILED
    return EXIT_FAILED if failures else 0


def _readiness(loops: list[ConsumerRuntime]) -> tuple[bool, str]:
    states = [loop.readiness() for loop in loops]
    return all(ready for ready, _ in states), "; ".join(reason for _, reason in states)
