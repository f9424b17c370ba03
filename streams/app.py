"""The faust app: the only module that imports faust.

One agent consumes every raw topic in batches (``take_events``), hands each batch to the
plain-Python processor, and flushes the batch's outputs before faust may acknowledge (and so
commit) the batch's input offsets: at-least-once, with the bus's dedup at the edges.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterable, Callable
from typing import Any

import faust
from confluent_kafka import Producer

from ops.settings import Settings
from streams.masking.pseudonym import pseudonymizer_from
from streams.output import KafkaOutput, OutputError, output_config
from streams.processor import BatchStats, InputMessage, StandardizeProcessor
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder

log = logging.getLogger("govbus.streams")

EXIT_OUTPUT_FAILED = 70


def app_id(settings: Settings) -> str:
    return f"govbus-{settings.topic_namespace}streams".replace(".", "-").rstrip("-")


def create_app(settings: Settings, on_batch: Callable[[BatchStats], None] | None = None
               ) -> faust.App:
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
        stream_buffer_maxsize=4 * settings.batch_size,
        web_enabled=False,
        producer_acks=-1,
    )
    registry = SchemaRegistry(settings.registry_url)
    output = KafkaOutput(Producer(output_config(settings.kafka_bootstrap, app_id(settings))))
    processor = StandardizeProcessor(
        AvroDecoder(registry.schema_by_id),
        lambda subject, schema: registry.register(subject, schema),
        pseudonymizer_from(settings),
        output,
    )
    raw = app.topic(*processor.input_topics, key_serializer="raw", value_serializer="raw")

    @app.agent(raw, name="standardize")
    async def standardize(stream: AsyncIterable[Any]) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.batch_size, within=settings.batch_seconds
        ):
            batch = [
                InputMessage(e.message.topic, e.message.partition, e.message.offset,
                             e.message.key, e.message.value)
                for e in events
            ]
            stats = processor.process(batch)
            try:
                # In a thread: librdkafka's flush releases the GIL, faust keeps heartbeating.
                await loop.run_in_executor(None, output.flush)
            except OutputError as exc:
                # Exit without acknowledging the batch: the restarted worker reprocesses it
                # from the last committed offset rather than lose it.
                log.critical("outputs not delivered, exiting: %s", exc)
                os._exit(EXIT_OUTPUT_FAILED)
            if on_batch is not None:
                on_batch(stats)

    return app


def run_worker(settings: Settings, loglevel: str = "warn") -> None:
    """Run the streams worker in this process until it is stopped (SIGINT/SIGTERM)."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
