"""The faust app: the only module that imports faust.

The theme layer needs state that survives restarts: the profiles live in a faust table
backed by a compacted changelog topic, restored on start or rebalance. The stateless raw layer
runs in its own worker without faust (see raw_worker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import AsyncIterable
from typing import Any

import faust
from confluent_kafka import Producer
from faust.streams import _current_event

from ops.http import start_metrics_server
from ops.settings import Settings
from streams.instrumentation import observe_batch
from streams.output import KafkaOutput, OutputError, output_config
from streams.processor_types import InputMessage
from streams.raw_consumer import RawConsumerLoop
from streams.raw_worker import build_raw_loop
from streams.theme_processor import STAGE, ThemeProcessor
from topics.catalog import state_topic
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder

log = logging.getLogger("govbus.streams.theme")

EXIT_OUTPUT_FAILED = 70


def app_id(settings: Settings) -> str:
    return f"govbus-{settings.topic_namespace}theme".replace(".", "-")


class FaustTableStore:
    """Profile states in a faust table.

    A table write goes to the changelog partition of the event being processed, which faust
    finds through its current-event context. Batches (``take_events``) leave that context
    empty, so each write sets it to the event whose fact caused it, as faust's own per-event
    iteration would.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str) -> dict[str, Any] | None:
        value = self.table.get(key)
        return value if value else None

    def put(self, key: str, value: dict[str, Any] | None, token: Any) -> None:
        reset = _current_event.set(weakref.ref(token))
        try:
            self.table[key] = value
        finally:
            _current_event.reset(reset)


def faust_app(settings: Settings, name: str, **tuning: Any) -> faust.App:
    """A faust app on the settings' cluster, its data folder in the state folder."""
    datadir = settings.state_dir / "streams" / name
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        name,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.theme_store,
        datadir=str(datadir),
        topic_partitions=4,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_acks=-1,  # nothing counts as sent before all in-sync replicas have it
        **tuning,
    )


def profile_table(app: faust.App) -> Any:
    """The profiles table, on the changelog topic the catalog declares (created by `topics
    apply` before any worker starts: faust creating it itself raced the topic's metadata)."""
    changelog = state_topic("theme.profiles")
    return app.Table(
        "profiles",
        default=dict,
        partitions=changelog.partitions,
        changelog_topic=app.topic(
            changelog.name, partitions=changelog.partitions, compacting=True, deleting=False
        ),
    )


def create_app(settings: Settings) -> faust.App:
    """The theme app: one agent over the fact topics, the profile table, the theme output."""
    app = faust_app(
        settings,
        app_id(settings),
        # Room for several batches, so fetching goes on while a batch is processed.
        stream_buffer_maxsize=8 * settings.batch_size,
        broker_max_poll_records=settings.batch_size,
        consumer_max_fetch_size=4 * 1024 * 1024,
    )
    registry = SchemaRegistry(settings.registry_url)
    output = KafkaOutput(Producer(output_config(settings.kafka_bootstrap, app_id(settings))))
    processor = ThemeProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        output,
    )
    # Values are the states' JSON-compatible dicts (faust's default json serializer).
    store = FaustTableStore(profile_table(app))
    facts = app.topic(*processor.input_topics, key_serializer="raw", value_serializer="raw")

    @app.agent(facts, name="theme")
    async def theme(stream: AsyncIterable[Any]) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.batch_size, within=settings.batch_seconds
        ):
            batch = [
                (
                    InputMessage(
                        e.message.topic,
                        e.message.partition,
                        e.message.offset,
                        e.message.key,
                        e.message.value,
                    ),
                    e,
                )
                for e in events
            ]
            started = time.perf_counter()
            stats = processor.process(batch, store)
            try:
                # In a thread: librdkafka's flush releases the GIL, faust keeps heartbeating.
                await loop.run_in_executor(None, output.flush)
            except OutputError as exc:
                # Exit before faust acknowledges the batch: a restart reprocesses it (the
                # profile merge ignores redelivered facts) rather than lose it.
                log.critical("theme outputs not delivered, exiting: %s", exc)
                os._exit(EXIT_OUTPUT_FAILED)
            observe_batch(
                STAGE, len(batch), time.perf_counter() - started, stats.outcomes, stats.quality
            )

    return app


def add_raw_layer(app: faust.App, settings: Settings) -> None:
    """Also run the raw layer in this process, in a thread beside the theme agent."""
    raw_loop = build_raw_loop(settings)

    @app.task  # type: ignore[untyped-decorator]
    async def raw_layer() -> None:
        done = asyncio.get_running_loop().create_future()
        thread = threading.Thread(
            target=_run_into, args=(raw_loop, done), name="raw-layer", daemon=True
        )
        thread.start()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            # faust cancels its tasks on shutdown: finish the batch in hand, then leave.
            raw_loop.stop()
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 30.0)
            raise
        except OutputError as exc:
            log.critical("raw outputs not delivered, exiting: %s", exc)
            os._exit(EXIT_OUTPUT_FAILED)


def _run_into(raw_loop: RawConsumerLoop, done: asyncio.Future[None]) -> None:
    """Run the raw loop; report its end (or failure) to the event loop's future."""
    loop = done.get_loop()
    try:
        raw_loop.run()
    except BaseException as exc:
        loop.call_soon_threadsafe(_settle, done, exc)
    else:
        loop.call_soon_threadsafe(_settle, done, None)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


SHUTDOWN_GRACE_S = 20.0


class _Worker(faust.Worker):
    """faust's worker with a bounded shutdown.

    Seen here: after SIGTERM, faust's stop sometimes waits forever on its own signal-stop
    future. Nothing is lost by ending the process then: outputs are flushed before offsets
    are committed, so whatever was in flight is processed again on restart.
    """

    def _schedule_shutdown(self, signal: Any) -> None:
        timer = threading.Timer(SHUTDOWN_GRACE_S, _exit_now)
        timer.daemon = True
        timer.start()
        super()._schedule_shutdown(signal)


def _exit_now() -> None:
    log.warning("worker did not stop within %.0f s; exiting", SHUTDOWN_GRACE_S)
    logging.shutdown()
    os._exit(0)


def run_worker(settings: Settings, loglevel: str = "warn", with_raw_layer: bool = False) -> None:
    """Run the theme worker (and optionally the raw layer) until SIGINT/SIGTERM."""
    app = create_app(settings)
    if with_raw_layer:
        add_raw_layer(app, settings)
    worker = _Worker(app, loglevel=loglevel, quiet=True)
    server = start_metrics_server(
        settings, "all" if with_raw_layer else "theme", ready=lambda: _readiness(app)
    )
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        # faust has stopped: batches are flushed and committed (or will be reprocessed).
        # Interpreter teardown with librdkafka handles and executor threads still around can
        # hang; there is nothing left to save, so leave at once.
        if server is not None:
            server.stop()
        logging.shutdown()
        os._exit(code)


def _readiness(app: faust.App) -> tuple[bool, str]:
    """Ready once faust has started and no table is still recovering from its changelog."""
    if not app.started:
        return False, "starting"
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    if recovery.active_remaining_total():
        return False, f"recovering tables: {recovery.active_remaining_total()} messages left"
    return True, "processing"
