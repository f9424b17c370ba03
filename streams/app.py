"""The faust app: the only module that imports faust.

The theme layer needs state that survives restarts: the profiles live in a faust table
backed by a compacted changelog topic, restored on start or rebalance. The stateless raw layer
runs in its own worker without faust (see raw_worker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import AsyncIterable
from typing import Any

import faust
from confluent_kafka import Producer
from faust.streams import _current_event

from ops.settings import Settings
from streams.output import KafkaOutput, OutputError, output_config
from streams.processor import InputMessage
from streams.raw_worker import build_raw_loop
from streams.theme_processor import ThemeProcessor
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


def create_app(settings: Settings) -> faust.App:
    """The theme app: one agent over the fact topics, the profile table, the theme output."""
    datadir = settings.state_dir / "streams" / app_id(settings)
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id(settings),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.theme_store,
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
    registry = SchemaRegistry(settings.registry_url)
    output = KafkaOutput(Producer(output_config(settings.kafka_bootstrap, app_id(settings))))
    processor = ThemeProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        output,
    )
    # Values are the states' JSON-compatible dicts (faust's default json serializer).
    profiles = app.Table("profiles", default=dict, partitions=4)
    store = FaustTableStore(profiles)
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
            processor.process(batch, store)
            try:
                # In a thread: librdkafka's flush releases the GIL, faust keeps heartbeating.
                await loop.run_in_executor(None, output.flush)
            except OutputError as exc:
                # Exit before faust acknowledges the batch: a restart reprocesses it (the
                # profile merge ignores redelivered facts) rather than lose it.
                log.critical("theme outputs not delivered, exiting: %s", exc)
                os._exit(EXIT_OUTPUT_FAILED)

    return app


def add_raw_layer(app: faust.App, settings: Settings) -> None:
    """Also run the raw layer in this process, in a thread beside the theme agent."""
    raw_loop = build_raw_loop(settings)

    @app.task  # type: ignore[untyped-decorator]
    async def raw_layer() -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, raw_loop.run)
        except OutputError as exc:
            log.critical("raw outputs not delivered, exiting: %s", exc)
            os._exit(EXIT_OUTPUT_FAILED)

    async def stop_raw_layer(sender: faust.App, **_: Any) -> None:
        raw_loop.stop()

    app.on_before_shutdown.connect(stop_raw_layer)  # type: ignore[arg-type]


def run_worker(settings: Settings, loglevel: str = "warn", with_raw_layer: bool = False) -> None:
    """Run the theme worker (and optionally the raw layer) until SIGINT/SIGTERM."""
    app = create_app(settings)
    if with_raw_layer:
        add_raw_layer(app, settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
