"""Debezium's own events on a raw topic, turned into the govbus raw envelope the stages read.

A department table carried by change data capture (``topics/cdc.py``) has the stock connector
write its changes, unchanged, to its source's raw topic, beside any events published through
the SDK. The raw layer decodes every message once; when the writer schema of the message's id
is Debezium's, this maps the decoded event onto the govbus envelope (``streams/stages/debezium.py``,
one mapper per schema id, built on first sight) and the row's primary key onto the govbus key,
so the stages, the std and fact topics and everything after them see one kind of event.

The key is taken from the row image Debezium sent (its key is the table's primary key, which
every image carries, a delete's too), not by decoding the message key a second time; it is
encoded with the govbus key schema, so a std event is keyed as if the SDK had published it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ops import metrics
from ops.runtime.messages import InputMessage
from streams.processors.emitters import SchemaIds
from streams.stages.debezium import DebeziumMapper, Ignored, MappingError, is_debezium
from streams.stages.outcomes import Rejected
from topics.catalog import Catalog
from topics.cdc import DEPARTMENT_TABLES, KEY_RECORD, DepartmentTable
from topics.schemas import full_name, key_schema, row_spec
from topics.serde import AvroDecoder, AvroEncoder, UndecodableMessageError, schema_id_of

log = logging.getLogger("govbus.streams.cdc")


@dataclass(frozen=True, slots=True)
class RawInput:
    """A raw message as the stages read it: the govbus envelope (None: a tombstone) and the
    key its std event is produced with."""

    envelope: dict[str, Any] | None
    key: bytes | None


@dataclass(frozen=True)
class _Table:
    declared: DepartmentTable
    encode_key: Callable[[dict[str, Any]], bytes]


class DebeziumInput:
    """Recognizes Debezium's events by their writer schema and maps them; passes others on."""

    def __init__(self, catalog: Catalog, decoder: AvroDecoder, schema_ids: SchemaIds,
                 tables: Iterable[DepartmentTable] = DEPARTMENT_TABLES) -> None:
        self.decoder = decoder
        self._tables: dict[str, _Table] = {}
        for table in tables:
            keys, std = key_schema(table.source), catalog.std(table.source)
            encoder = AvroEncoder(keys, schema_ids(std.key_subject, keys))
            self._tables[catalog.raw(table.source).name] = _Table(table, encoder.encode)
        # Per writer schema id: its mapper, None for a schema that is not Debezium's, or the
        # rejection of a Debezium schema no mapper can be built for.
        self._mappers: dict[int, DebeziumMapper | Rejected | None] = {}
        self._debezium_keys: dict[int, bool] = {}

    def read(self, message: InputMessage,
             envelope: dict[str, Any] | None) -> RawInput | Ignored | Rejected:
        """The decoded message as the govbus envelope and key, or why it is not standardized."""
        table = self._tables.get(message.topic)
        if table is None:
            return RawInput(envelope, message.key)
        if message.value is None or envelope is None:
            if self._is_debezium_key(message.key, table.declared):
                return Ignored("debezium.tombstone")
            return RawInput(envelope, message.key)
        mapper = self._mapper(schema_id_of(message.value), table.declared)
        if mapper is None:
            return RawInput(envelope, message.key)
        if isinstance(mapper, Rejected):
            return mapper
        mapped = mapper(envelope)
        if not isinstance(mapped, dict):
            return mapped
        image = envelope.get("after") or envelope.get("before") or {}
        try:
            key = table.encode_key(mapper.map_key(image))
        except MappingError as exc:
            return Rejected(exc.reason_code, exc.detail, exception_class="MappingError")
        except (ValueError, TypeError) as exc:
            return Rejected("debezium.key", f"the key does not fit the govbus key: {exc}",
                            exception_class=type(exc).__name__)
        return RawInput(mapped, key)

    def _mapper(self, schema_id: int, table: DepartmentTable) -> DebeziumMapper | Rejected | None:
        if schema_id in self._mappers:
            return self._mappers[schema_id]
        writer = self.decoder.writer_declaration(schema_id)
        mapper: DebeziumMapper | Rejected | None = None
        if is_debezium(writer):
            try:
                mapper = DebeziumMapper(writer, table, row_spec(table.source))
            except MappingError as exc:
                mapper = Rejected(exc.reason_code, exc.detail, exception_class="MappingError")
            else:
                _report_undeclared(table.source, mapper.unmapped)
        self._mappers[schema_id] = mapper
        return mapper

    def _is_debezium_key(self, key: bytes | None, table: DepartmentTable) -> bool:
        """A key written by the connector (its Key record): the tombstone after its delete."""
        if key is None:
            return False
        try:
            schema_id = schema_id_of(key)
            known = self._debezium_keys.get(schema_id)
            if known is None:
                known = full_name(self.decoder.writer_declaration(schema_id)) == (
                    f"{table.record_namespace}.{KEY_RECORD}")
                self._debezium_keys[schema_id] = known
        except UndecodableMessageError:
            return False  # not a key this bus can read: the stages judge the message
        return known


def _report_undeclared(source: str, columns: tuple[str, ...]) -> None:
    """A column the table gained at the source is left out until its declaration (and its
    personal-data class) says what it is: said once per writer schema, and on the gauge."""
    metrics.source_undeclared_columns.labels(table=source).set(len(columns))
    if columns:
        log.warning("%s: the captured table has columns its declaration does not carry, left "
                    "out until declared: %s", source, ", ".join(columns))
