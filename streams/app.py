"""The faust app: the only module that imports faust.

The theme layer needs state that survives restarts: faust's changelog-backed tables. The
stateless raw layer runs in its own worker without faust (see raw_worker).
"""

from __future__ import annotations

import logging

import faust

from ops.settings import Settings

log = logging.getLogger("govbus.streams")

EXIT_OUTPUT_FAILED = 70


def app_id(settings: Settings) -> str:
    return f"govbus-{settings.topic_namespace}streams".replace(".", "-").rstrip("-")


def create_app(settings: Settings) -> faust.App:
    """The streams app with its agents, wired to the settings' cluster and registry."""
    datadir = settings.state_dir / "streams" / app_id(settings)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id(settings),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(datadir),
        topic_partitions=4,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        # Room for several batches, so fetching goes on while a batch is processed.
        stream_buffer_maxsize=8 * settings.batch_size,
        broker_max_poll_records=settings.batch_size,
        consumer_max_fetch_size=4 * 1024 * 1024,
        web_enabled=False,
        producer_acks=-1,
    )
    return app


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    """Run the streams worker in this process until it is stopped (SIGINT/SIGTERM)."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
