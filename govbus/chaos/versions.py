"""Producers on two versions of a source's schema at once, as during a department's rolling
upgrade: beside the declared version, a second producer per department writes a newer,
backward-compatible version of each source's row schema (one optional field added),
registered under the same subject, so every raw topic carries two writer schema ids.

The added field carries a copy of the row's citizen ID: a column the bus has not declared
may hold personal data nobody classified, and the reconciliation's look for clear personal
values downstream proves it was left out (the raw layer resolves every version into the
declared schema).

A row's changes all go through one of the two producers (chosen by its key), as a row
belongs to one instance of a department's system: two producers writing one row could
reorder its changes on the broker, which is another fault.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Producer

from connectors.publisher import ChangeEventPublisher, DeliveryReport, publisher_config
from connectors.simulate import flush_all
from govbus.wiring import admin_settings, registry
from ops.kafka_client import as_principal, kafka_config
from ops.settings import Settings
from topics.annotations import Pii
from topics.catalog import catalog_for
from topics.principals import publisher
from topics.schemas import Schema, envelope_of, key_schema, row_schema, row_spec

ADDED_FIELD = "contact_v2"


def next_version(row: Schema) -> Schema:
    """``row`` with one optional field added (default null): a version the registry takes as
    backward compatible, whose new field the bus has not declared."""
    newer = copy.deepcopy(row)
    newer["fields"].append({
        "name": ADDED_FIELD, "type": ["null", "string"], "default": None,
        "doc": "联系方式 (added by the department's new version; not declared to the bus)"})
    return newer


def on_new_version(key: Mapping[str, Any]) -> bool:
    """Whether a row's changes go through the new version's producer: half of the rows, by
    a stable hash of the row's key."""
    return zlib.crc32(repr(sorted(key.items())).encode()) % 2 == 1


class TwoVersions:
    """One source's changes, each row's through the old or the new version's publisher
    (a ``ChangeTarget``)."""

    def __init__(self, old: ChangeEventPublisher, new: ChangeEventPublisher) -> None:
        self.old = old
        self.new = new
        self.key_fields = [f["name"] for f in key_schema(old.source)["fields"]]
        self.carried = next(f.name for f in row_spec(old.source).fields
                            if f.pii == Pii.ID_NUMBER)

    def publish(self, op: str, *, before: Mapping[str, Any] | None = None,
                after: Mapping[str, Any] | None = None, sequence: str | None = None,
                source_ts_ms: int | None = None, event_id: str | None = None) -> str:
        row = after if after is not None else before
        if row is None or not on_new_version({k: row.get(k) for k in self.key_fields}):
            return self.old.publish(op, before=before, after=after, sequence=sequence,
                                    source_ts_ms=source_ts_ms, event_id=event_id)
        return self.new.publish(op, before=self._extended(before), after=self._extended(after),
                                sequence=sequence, source_ts_ms=source_ts_ms,
                                event_id=event_id)

    def _extended(self, image: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if image is None:
            return None
        return {**image, ADDED_FIELD: image.get(self.carried)}

    def poll(self) -> None:
        self.old.poll()
        self.new.poll()

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        return flush_all({"old": self.old, "new": self.new}, timeout_s)


def two_versions(settings: Settings, old: Mapping[str, ChangeEventPublisher]
                 ) -> dict[str, TwoVersions]:
    """Each source's publisher (``old``) paired with one on the next version, through a
    second producer per department connected as that department's publisher. The admin
    registers the new versions (the registry's door lets no one else), held to the
    subject's compatibility."""
    schemas = registry(admin_settings(settings))
    new: dict[str, ChangeEventPublisher] = {}
    producers: dict[str, Producer] = {}
    for source in old:
        dept = row_spec(source).dept
        principal = as_principal(settings, publisher(dept))
        if dept not in producers:
            producers[dept] = Producer(publisher_config(kafka_config(principal)))
        row = next_version(row_schema(source))
        schemas.register(catalog_for(settings).raw(source).value_subject, envelope_of(row),
                         settings.default_compatibility)
        new[source] = ChangeEventPublisher(catalog_for(settings), source, producers[dept],
                                           registry(principal), settings.default_compatibility,
                                           row=row)
    return {source: TwoVersions(current, new[source]) for source, current in old.items()}
