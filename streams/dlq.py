"""Dead-letter records: the original bytes with headers saying where they came from and why.

The header names follow Kafka Connect's ``errors.deadletterqueue.context.headers.enable``
layout (``__connect.errors.*``) with the bus's own prefix, so tools built for Connect DLQs
read these too; ``reason`` and ``detail`` carry the stable reason code and its explanation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

PREFIX = "__govbus.errors."
TOPIC = PREFIX + "topic"
PARTITION = PREFIX + "partition"
OFFSET = PREFIX + "offset"
STAGE = PREFIX + "stage"
REASON = PREFIX + "reason"
DETAIL = PREFIX + "detail"
EXCEPTION_CLASS = PREFIX + "exception.class.name"
DEPT = PREFIX + "dept"
EVENT_ID = PREFIX + "event_id"
TIMESTAMP = PREFIX + "timestamp_ms"
REPLAYED = PREFIX + "replayed"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where an input message was read."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message for ``dlq.<stage>``: original key and value bytes, plus headers."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]]


def dead_letter(
    provenance: Provenance,
    key: bytes | None,
    value: bytes | None,
    *,
    stage: str,
    reason: str,
    detail: str,
    exception_class: str,
    now_ms: int,
    dept: str = "",
    event_id: str = "",
) -> DeadLetter:
    headers = {
        TOPIC: provenance.topic,
        PARTITION: str(provenance.partition),
        OFFSET: str(provenance.offset),
        STAGE: stage,
        REASON: reason,
        DETAIL: detail,
        EXCEPTION_CLASS: exception_class,
        DEPT: dept,
        EVENT_ID: event_id,
        TIMESTAMP: str(now_ms),
    }
    return DeadLetter(key, value, [(k, v.encode()) for k, v in headers.items()])


def header_map(headers: list[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers of a read DLQ message, decoded (missing values as empty strings)."""
    return {k: (v.decode(errors="replace") if v else "") for k, v in headers or []}


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """A read DLQ message: where it came from, why, and its original bytes."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get(REASON, "")

    @property
    def dept(self) -> str:
        return self.headers.get(DEPT, "")

    @property
    def origin_topic(self) -> str:
        return self.headers.get(TOPIC, "")

    @property
    def event_id(self) -> str:
        return self.headers.get(EVENT_ID, "")


def summarize(letters: list[DeadLetterView]) -> Counter[tuple[str, str]]:
    """Counts by (reason, department)."""
    return Counter((letter.reason, letter.dept) for letter in letters)


def select(letters: list[DeadLetterView], *, reason: str | None = None,
           dept: str | None = None, event_ids: set[str] | None = None) -> list[DeadLetterView]:
    """The letters matching every given filter (None = any)."""
    return [
        letter for letter in letters
        if (reason is None or letter.reason == reason)
        and (dept is None or letter.dept == dept)
        and (not event_ids or letter.event_id in event_ids)
    ]


def replay_headers(letter: DeadLetterView, now_ms: int) -> list[tuple[str, str | bytes | None]]:
    """Marks a re-published event, so a second rejection shows it was already replayed."""
    return [(REPLAYED, str(now_ms).encode()), (REASON, letter.reason.encode())]
