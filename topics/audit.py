"""The audit trail: who did what, when, with what outcome, as events on the audit topic.

Three sources write it: the admin's user and ACL changes, the query endpoint's queries, and
the broker's authorization denials (read from its authorizer log). The sink lands the topic
in the ``audit`` table, kept at least six months.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import Producer

from ops.runtime.client_config import producer_config
from topics.catalog import Topic
from topics.registry import SchemaRegistry
from topics.serde import AvroEncoder


@dataclass(frozen=True)
class AuditEvent:
    kind: str
    principal: str
    action: str
    resource: str = ""
    outcome: str = "done"
    source_host: str = ""
    detail: str = ""
    ts_ms: int = 0
    event_id: str = ""

    def record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id or uuid.uuid4().hex,
            "kind": self.kind,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "outcome": self.outcome,
            "source_host": self.source_host,
            "detail": self.detail,
            "source_ts_ms": self.ts_ms or int(time.time() * 1000),
        }


class AuditTrail:
    """Produces audit events (acks=all) to the audit topic (the catalog's ``audit``)."""

    def __init__(self, topic: Topic, connection: Mapping[str, Any],
                 registry: SchemaRegistry) -> None:
        assert topic.key_schema is not None and topic.value_schema is not None
        self.topic = topic.name
        self._key = AvroEncoder(topic.key_schema(),
                                registry.register(topic.key_subject, topic.key_schema()))
        self._value = AvroEncoder(topic.value_schema(),
                                  registry.register(topic.value_subject, topic.value_schema()))
        self._producer = Producer(producer_config(connection, "govbus-audit",
                                                  **{"linger.ms": 100, "log_level": 0}))

    def record(self, events: Iterable[AuditEvent]) -> int:
        count = 0
        for event in events:
            record = event.record()
            self._producer.produce(self.topic, self._value.encode(record),
                                   self._key.encode(record["principal"]))
            self._producer.poll(0)
            count += 1
        return count

    def flush(self, timeout_s: float = 10.0) -> int:
        """Waits for the broker; returns how many events are still not acknowledged."""
        return int(self._producer.flush(timeout_s))


# [2026-11-28T18:03:13,278] INFO Principal = User:subscriber is Denied operation = DESCRIBE
# from host = 127.0.0.1 on resource = Topic:LITERAL:raw.x for request = Metadata ...
_DENIAL = re.compile(
    r"^\[(?P<ts>[^\]]+)\] \w+ Principal = (?P<principal>\S+) is Denied operation = "
    r"(?P<operation>\S+) from host = (?P<host>\S+) on resource = (?P<resource>\S+) "
    r"for request = (?P<request>\S+)"
)


def broker_denials(lines: Iterable[str]) -> Iterator[AuditEvent]:
    """Audit events for the authorizer log's denials (other lines are skipped)."""
    for line in lines:
        match = _DENIAL.match(line)
        if match is None:
            continue
        try:
            stamp = datetime.fromisoformat(match["ts"].replace(",", ".") + "+00:00")
            ts_ms = int(stamp.timestamp() * 1000)
        except ValueError:
            ts_ms = 0
        yield AuditEvent(
            kind="broker.denied",
            principal=match["principal"].removeprefix("User:"),
            action=f"{match['operation']} ({match['request']})",
            resource=match["resource"],
            outcome="denied",
            source_host=match["host"],
            ts_ms=ts_ms,
        )
