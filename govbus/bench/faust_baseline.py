"""The baseline for ``govbus bench e2e``: the same work as a straightforward faust pipeline.

What someone new to faust would write: one agent over the raw topics iterating one event at
a time (``stream.events()``), each output sent with ``await topic.send(...)`` through faust's
own producer; a second agent over the fact topics merging each fact into the profile table
and sending each theme record, one per fact. No batching, no coalescing per entity, the raw
layer inside faust's event loop.

The per-event work is the bus's own: the same ``RawLayerProcessor`` and ``ThemeProcessor``,
handed one message at a time, so the stage logic (decode, rules, masking, facts, merge,
render, encode, dead letters, findings) is identical and the figure measures only how the
framework is used. Not for production: it exists to be measured against.

Run it with ``python -m govbus.bench.faust_baseline worker`` (settings from ``GOVBUS_*``).
"""

from __future__ import annotations

import logging
import os
import ssl
import sys
import weakref
from collections.abc import AsyncIterable
from typing import Any

import faust
from faust.streams import _current_event

from ops.access import ADMIN_PRINCIPAL
from ops.kafka_client import as_principal, kafka_config, registry_config
from ops.keys import pseudonym_key
from ops.runtime.messages import InputMessage
from ops.settings import Settings, get_settings
from streams.processors.raw import RawLayerProcessor
from streams.processors.theme import ThemeProcessor
from streams.stages.enrich.profile import ProfileState
from streams.stages.masking.pseudonym import Pseudonymizer
from topics.catalog import THEME_PROFILES, Catalog, catalog_for
from topics.registry import SchemaRegistry
from topics.serde import AvroDecoder

Headers = list[tuple[str, str | bytes | None]]


def app_id(settings: Settings) -> str:
    """The baseline's faust app id, which is also its one consumer group."""
    return f"govbus-{settings.topic_namespace}baseline".replace(".", "-")


class FaustTableStore:
    """Profile states in a faust table.

    A table write goes to the changelog partition of the event being processed, which faust
    finds through its current-event context. Batches (``take_events``) leave that context
    empty, so each write sets it to the event whose fact caused it, as faust's own per-event
    iteration would.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: str, token: Any) -> ProfileState | None:
        value = self.table.get(key)
        return ProfileState.from_json(value) if value else None

    def put(self, key: str, value: ProfileState | None, token: Any) -> None:
        reset = _current_event.set(weakref.ref(token))
        try:
            self.table[key] = value.to_json() if value is not None else None
        finally:
            _current_event.reset(reset)


def _credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The baseline connects as the admin: it creates its own internal topics."""
    if not settings.secure:
        return None
    config = kafka_config(as_principal(settings, ADMIN_PRINCIPAL))
    return faust.SASLCredentials(
        username=config["sasl.username"],
        password=config["sasl.password"],
        mechanism=config["sasl.mechanisms"],
        ssl_context=ssl.create_default_context(cafile=config["ssl.ca.location"]),
    )


def faust_app(settings: Settings, name: str, **tuning: Any) -> faust.App:
    """A faust app on the settings' cluster, its data folder in the state folder."""
    datadir = settings.state_dir / "streams" / name
    datadir.mkdir(parents=True, exist_ok=True)
    return faust.App(
        name,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=_credentials(settings),
        store=settings.theme_store,
        datadir=str(datadir),
        topic_partitions=4,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_acks=-1,  # nothing counts as sent before all in-sync replicas have it
        **tuning,
    )


def profile_table(app: faust.App, catalog: Catalog) -> Any:
    """The profiles table, on the changelog topic the catalog declares (created by `topics
    apply` before any worker starts: faust creating it itself raced the topic's metadata)."""
    changelog = catalog.state(THEME_PROFILES)
    return app.Table(
        "profiles",
        default=dict,
        partitions=changelog.partitions,
        changelog_topic=app.topic(
            changelog.name, partitions=changelog.partitions, compacting=True, deleting=False
        ),
    )


Outgoing = tuple[str, bytes | None, bytes | None, Headers | None, int | None]


class Outbox:
    """Collects what a processor produces for one event, to be sent through faust."""

    def __init__(self) -> None:
        self.messages: list[Outgoing] = []

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers | None = None,
        partition: int = -1,
    ) -> None:
        self.messages.append((topic, key, value, headers, None if partition < 0 else partition))

    def take(self) -> list[Outgoing]:
        taken, self.messages = self.messages, []
        return taken


def faust_headers(headers: Headers | None) -> list[tuple[str, bytes]] | None:
    if not headers:
        return None
    return [(k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in headers]


def input_message(event: Any) -> InputMessage:
    message = event.message
    return InputMessage(message.topic, message.partition, message.offset, message.key,
                        message.value)


def create_baseline_app(settings: Settings) -> faust.App:
    """Two per-event agents: raw -> std and facts; facts -> profiles and theme records."""
    app = faust_app(settings, app_id(settings))
    registry = SchemaRegistry(registry_config(as_principal(settings, ADMIN_PRINCIPAL)))

    def schema_ids(subject: str, schema: dict[str, Any]) -> int:
        return registry.register(subject, schema)

    raw_out, theme_out = Outbox(), Outbox()
    key = pseudonym_key(settings)  # this module is its own process's entry point
    catalog = catalog_for(settings)
    raw_layer = RawLayerProcessor(catalog, AvroDecoder(registry.schema_by_id), schema_ids,
                                  Pseudonymizer(key.secret, key.key_id, key.algorithm), raw_out)
    theme_layer = ThemeProcessor(catalog, AvroDecoder(registry.schema_by_id), schema_ids,
                                 theme_out)
    store = FaustTableStore(profile_table(app, catalog))
    topics: dict[str, Any] = {}

    def topic(name: str) -> Any:
        if name not in topics:
            topics[name] = app.topic(name, key_serializer="raw", value_serializer="raw")
        return topics[name]

    raw = app.topic(*raw_layer.input_topics, key_serializer="raw", value_serializer="raw")
    facts = app.topic(*theme_layer.input_topics, key_serializer="raw", value_serializer="raw")

    @app.agent(raw, name="standardize")
    async def standardize(stream: AsyncIterable[Any]) -> None:
        async for event in stream.events():  # type: ignore[attr-defined]
            raw_layer.process([input_message(event)])
            for name, key, value, headers, partition in raw_out.take():
                await topic(name).send(key=key, value=value, headers=faust_headers(headers),
                                       partition=partition)

    @app.agent(facts, name="theme")
    async def theme(stream: AsyncIterable[Any]) -> None:
        async for event in stream.events():  # type: ignore[attr-defined]
            theme_layer.process([(input_message(event), event)], store)
            for name, key, value, headers, _ in theme_out.take():
                await topic(name).send(key=key, value=value, headers=faust_headers(headers))

    return app


def run_baseline(settings: Settings, loglevel: str = "warn") -> None:
    """Run the baseline worker until SIGINT/SIGTERM."""
    worker = faust.Worker(create_baseline_app(settings), loglevel=loglevel, quiet=True)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        # As the bus's worker: interpreter teardown with client threads around can hang.
        logging.shutdown()
        os._exit(code)


def main(argv: list[str]) -> int:
    if argv[:1] != ["worker"] or len(argv) > 2:
        sys.stderr.write("usage: python -m govbus.bench.faust_baseline worker [LOGLEVEL]\n")
        return 2
    run_baseline(get_settings(), argv[1] if len(argv) > 1 else "warn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
