"""A stand-in govbus process for scrape tests: serves known metric values until stopped.

Run as ``python -m tests.integration.ops.emitter`` with GOVBUS_STATE_DIR set; prints its
base URL once ready. Dept ``itest`` gets fixed counts; ``itest-live`` keeps counting.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

from ops import metrics
from ops.http import start_metrics_server
from ops.settings import get_settings

IN, OUT, REJECTED, FILTERED = 120, 100, 15, 5
BATCHES, BATCH_EVENTS = 50, 20
LATENCY_S = 1.5
LAG = 42


def _exit(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)  # runs atexit: the announcement file is removed


def main() -> None:
    signal.signal(signal.SIGTERM, _exit)
    server = start_metrics_server(get_settings(), "emitter")
    assert server is not None
    events = metrics.stage_events
    for outcome, count in (("in", IN), ("out", OUT), ("rejected", REJECTED),
                           ("filtered", FILTERED)):
        events.labels(stage="standardize", dept="itest", outcome=outcome).inc(count)
    metrics.dlq_events.labels(stage="standardize", step="raw.rules", dept="itest",
                              reason="required.missing").inc(REJECTED)
    metrics.quality_findings.labels(dept="itest", dimension="completeness",
                                    reason="required.missing").inc(REJECTED)
    for _ in range(BATCHES):
        metrics.record_stage_batch("standardize", BATCH_EVENTS, 0.004)
    metrics.record_insert("person", OUT, 0.03)
    now_ms = time.time() * 1000
    for _ in range(OUT):
        metrics.observe_end_to_end("person", now_ms - LATENCY_S * 1000)
    metrics.set_consumer_lag("govbus-itest", "raw.itest.person", 0, LAG)
    server.set_ready()
    print(server.url, flush=True)
    live = events.labels(stage="standardize", dept="itest-live", outcome="in")
    while True:
        live.inc(5)
        time.sleep(0.1)


if __name__ == "__main__":
    main()
