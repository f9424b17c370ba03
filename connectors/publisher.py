"""The department publisher SDK: Avro change events into a source's raw topic.

Idempotent producer with acks=all (no duplicates from producer retries, nothing acknowledged
before all in-sync replicas have it), Confluent wire format through the registry, keyed by the
row's primary key, each record checked against its schema before it is sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from confluent_kafka import KafkaError, Message, Producer
from fastavro.validation import ValidationError, validate

from ops.runtime.client_config import producer_config
from topics.catalog import Catalog
from topics.registry import SchemaRegistry
from topics.schemas import Schema, envelope_of, key_schema, parsed, row_schema
from topics.serde import AvroEncoder

OPS = {"c": "create", "u": "update", "d": "delete", "r": "snapshot read"}


class RecordRejectedError(ValueError):
    """A change event that does not fit its schema; it was not sent."""


class EventFields(TypedDict, total=False):
    """A change event's parts besides its op (all optional: see ``prepare``)."""

    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    sequence: str | None
    source_ts_ms: int | None
    event_id: str | None
    snapshot: str | None


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """A change event checked and encoded, not sent yet."""

    op: str
    event_id: str
    key: bytes
    value: bytes


@dataclass
class DeliveryReport:
    """What the broker acknowledged, and what it refused, since the publisher started."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return self.sent - self.delivered - self.failed


def publisher_config(connection: Mapping[str, Any]) -> dict[str, Any]:
    """The bus's producer configuration (``ops.runtime.client_config``), batching a little
    longer: a department's events are many and small."""
    return producer_config(connection, "govbus-publisher", **{"linger.ms": 50})


class ChangeEventPublisher:
    """Publishes one source table's change events (``<dept>.<table>``)."""

    def __init__(
        self,
        catalog: Catalog,
        source: str,
        producer: Producer,
        registry: SchemaRegistry,
        compatibility: str = "BACKWARD_TRANSITIVE",
        *,
        tombstones: bool = True,
        row: Schema | None = None,
    ) -> None:
        """``row``: the row schema of the version this publisher writes, registered under
        the source's subject (a compatible version); the declared one by default."""
        self.source = source
        self.topic = catalog.raw(source)
        self.producer = producer
        self.tombstones = tombstones
        self.report = DeliveryReport()
        row = row or row_schema(source)
        envelope = envelope_of(row)
        keys = key_schema(source)
        self._key_encoder = AvroEncoder(
            keys, registry.register(self.topic.key_subject, keys, compatibility)
        )
        self._value_encoder = AvroEncoder(
            envelope, registry.register(self.topic.value_subject, envelope, compatibility)
        )
        self._row_fields = frozenset(f["name"] for f in row["fields"])
        self._key_fields = tuple(f["name"] for f in keys["fields"])
        self._parsed_row = parsed(row)
        self._parsed_key = parsed(keys)
        self._source = {
            "dept": row["govbus.dept"],
            "system": row["govbus.system"],
            "table": row["govbus.table"],
        }

    def publish(self, op: str, **event: Unpack[EventFields]) -> str:
        """Check, encode and send one change event; returns its event id. ``snapshot``: the
        read's place in a snapshot run, as Debezium marks it (``first``, ``true``, ``last``,
        ...; default ``true`` for a read, ``false`` otherwise).

        Raises RecordRejectedError, naming the field, when the event does not fit its schema.
        """
        return self.send(self.prepare(op, **event))

    def prepare(
        self,
        op: str,
        *,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        sequence: str | None = None,
        source_ts_ms: int | None = None,
        event_id: str | None = None,
        snapshot: str | None = None,
    ) -> PreparedEvent:
        """Check and encode one change event without sending it (``publish`` = ``send`` of
        this): a caller that must send all or nothing prepares every event first."""
        self._check_shape(op, before, after)
        row = after if after is not None else before
        assert row is not None  # _check_shape guarantees one image
        key = {name: row.get(name) for name in self._key_fields}
        now_ms = int(time.time() * 1000)
        event_id = event_id or str(uuid.uuid4())
        envelope = {
            "before": before,
            "after": after,
            "source": {
                **self._source,
                "sequence": sequence,
                "ts_ms": source_ts_ms or now_ms,
                "snapshot": snapshot or ("true" if op == "r" else "false"),
            },
            "op": op,
            "ts_ms": now_ms,
            "event_id": event_id,
        }
        return PreparedEvent(op, event_id, self._encode_key(key),
                             self._encode_value(envelope, before, after))

    def send(self, event: PreparedEvent) -> str:
        """Send a prepared event; returns its event id."""
        self._produce(event.key, event.value)
        if event.op == "d" and self.tombstones:
            # As Debezium does: lets compaction forget the row once the delete is seen.
            self._produce(event.key, None)
        return event.event_id

    def poll(self) -> None:
        """Serve delivery reports without blocking."""
        self.producer.poll(0)

    def flush(self, timeout_s: float = 30.0) -> DeliveryReport:
        """Wait until every sent event is acknowledged or failed."""
        remaining = self.producer.flush(timeout_s)
        if remaining:
            self.report.errors.append(
                f"{remaining} events still unacknowledged after {timeout_s} s"
            )
        return self.report

    def _produce(self, key: bytes, value: bytes | None) -> None:
        while True:
            try:
                self.producer.produce(
                    self.topic.name, value=value, key=key, on_delivery=self._on_delivery
                )
                break
            except BufferError:
                # The local queue is full: let librdkafka drain it, then try again.
                self.producer.poll(0.05)
        self.report.sent += 1

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.report.delivered += 1
        else:
            self.report.failed += 1
            if len(self.report.errors) < 20:
                self.report.errors.append(f"{self.topic.name}: {error.str()}")

    def _check_shape(
        self, op: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
    ) -> None:
        if op not in OPS:
            raise RecordRejectedError(f"op {op!r} is not one of {', '.join(OPS)}")
        if op in ("c", "r", "u") and after is None:
            raise RecordRejectedError(f"op {op!r} ({OPS[op]}) needs an after image")
        if op in ("u", "d") and before is None:
            raise RecordRejectedError(f"op {op!r} ({OPS[op]}) needs a before image")
        for image_name, image in (("before", before), ("after", after)):
            if image is not None:
                unknown = image.keys() - self._row_fields
                if unknown:
                    raise RecordRejectedError(
                        f"{self.source}: {image_name} has field(s) not in the schema: "
                        f"{', '.join(sorted(unknown))}"
                    )

    def _encode_key(self, key: dict[str, Any]) -> bytes:
        try:
            return self._key_encoder.encode(key)
        except (TypeError, ValueError):
            raise RecordRejectedError(_explain(self.source, "key", key, self._parsed_key)) from None

    def _encode_value(
        self,
        envelope: dict[str, Any],
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> bytes:
        try:
            return self._value_encoder.encode(envelope)
        except (TypeError, ValueError, AttributeError):
            # Encoding is the fast check; explaining which field broke it is the slow one.
            for name, image in (("before", before), ("after", after)):
                if image is not None:
                    message = _explain(self.source, name, image, self._parsed_row)
                    if message:
                        raise RecordRejectedError(message) from None
            raise RecordRejectedError(f"{self.source}: envelope does not fit its schema") from None


def _explain(source: str, part: str, record: Mapping[str, Any], schema: Any) -> str:
    try:
        validate(dict(record), schema, raise_errors=True)
    except ValidationError as exc:
        # A union reports one error per branch; group them into one line per field.
        expected: dict[str, tuple[Any, list[str]]] = {}
        for error in exc.errors:
            name = str(error.field).rsplit(".", 1)[-1]
            expected.setdefault(name, (error.datum, []))[1].append(_type_name(error.schema))
        problems = "; ".join(
            f"field {name!r}: {datum!r} is not {' or '.join(types)}"
            for name, (datum, types) in list(expected.items())[:3]
        )
        return f"{source}: {part} does not fit its schema: {problems}"
    return ""


def _type_name(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("type"))
    return str(schema)
