"""Dead-letter records: the original bytes with headers saying where they came from and why.

Errors are data: a step of a processor that cannot take a message returns a ``Failure``
tagged with the step's id; that one message goes to its stage's DLQ and the batch goes on, as
Kafka Connect's ``errors.tolerance=all`` does. Transient infrastructure errors are not
failures: they pause and retry, and never dead-letter.

The header names follow Kafka Connect's ``errors.deadletterqueue.context.headers.enable``
layout (``__connect.errors.*``) with the bus's own prefix, so tools built for Connect DLQs
read these too; ``step`` names where it failed, ``reason`` and ``detail`` carry the stable
reason code and its explanation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar

from ops.runtime.kafka_output import Output
from ops.runtime.messages import InputMessage
from topics.catalog import Catalog
from topics.reader import TopicReader

T = TypeVar("T")

# Dead letters read, or replayed, at a time: a DLQ is read and replayed chunk by chunk, so
# what a tool holds is bounded by this, not by the DLQ's size.
CHUNK = 1000

PREFIX = "__govbus.errors."
TOPIC = PREFIX + "topic"
PARTITION = PREFIX + "partition"
OFFSET = PREFIX + "offset"
STAGE = PREFIX + "stage"
STEP = PREFIX + "step"
REASON = PREFIX + "reason"
DETAIL = PREFIX + "detail"
EXCEPTION_CLASS = PREFIX + "exception.class.name"
DEPT = PREFIX + "dept"
EVENT_ID = PREFIX + "event_id"
TIMESTAMP = PREFIX + "timestamp_ms"
REPLAYED = PREFIX + "replayed"


# The steps of the processors, as the DLQ headers and the metrics name them.
RAW_DECODE = "raw.decode"  # the message, its Debezium envelope or a snapshot closing
RAW_RULES = "raw.rules"  # the standards' rules, cleaning and masking
RAW_ENCODE = "raw.encode"  # the std event
RAW_FACTS = "raw.facts"  # the source row's state and the facts it names
THEME_DECODE = "theme.decode"
THEME_APPLY = "theme.apply"  # a fact merged into its entity's profile state
THEME_RENDER = "theme.render"  # the 360 profile made from the state
THEME_ENCODE = "theme.encode"
SINK_BUILD = "sink.build"  # a message decoded into its table's row


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a step could not take one message."""

    step: str
    reason: str
    detail: str
    exception_class: str

    @classmethod
    def of(cls, step: str, exc: BaseException) -> Failure:
        """An unexpected exception: the reason is the step's own ``<step>_failed``."""
        return cls(step, f"{step}_failed", f"{type(exc).__name__}: {exc}"[:300],
                   type(exc).__name__)


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
    failure: Failure,
    now_ms: int,
    dept: str = "",
    event_id: str = "",
) -> DeadLetter:
    headers = {
        TOPIC: provenance.topic,
        PARTITION: str(provenance.partition),
        OFFSET: str(provenance.offset),
        STAGE: stage,
        STEP: failure.step,
        REASON: failure.reason,
        DETAIL: failure.detail,
        EXCEPTION_CLASS: failure.exception_class,
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
    def step(self) -> str:
        return self.headers.get(STEP, "")

    @property
    def dept(self) -> str:
        return self.headers.get(DEPT, "")

    @property
    def origin_topic(self) -> str:
        return self.headers.get(TOPIC, "")

    @property
    def event_id(self) -> str:
        return self.headers.get(EVENT_ID, "")


def read_dead_letters(reader: TopicReader, chunk: int = CHUNK) -> Iterator[DeadLetterView]:
    """A DLQ's letters up to its end when asked, read ``chunk`` at a time and never decoded
    (the original bytes may be anything)."""
    for messages in reader.chunks_to_end(chunk):
        for message in messages:
            yield DeadLetterView(message.key(), message.value(), header_map(message.headers()))


def summarize(letters: Iterable[DeadLetterView]) -> Counter[tuple[str, str]]:
    """Counts by (reason, department)."""
    return Counter((letter.reason, letter.dept) for letter in letters)


def select(letters: Iterable[DeadLetterView], *, reason: str | None = None,
           dept: str | None = None, event_ids: set[str] | None = None
           ) -> Iterator[DeadLetterView]:
    """The letters matching every given filter (None = any), as they come."""
    return (
        letter for letter in letters
        if (reason is None or letter.reason == reason)
        and (dept is None or letter.dept == dept)
        and (not event_ids or letter.event_id in event_ids)
    )


def replay_headers(letter: DeadLetterView, now_ms: int) -> list[tuple[str, str | bytes | None]]:
    """Marks a re-published event, so a second rejection shows it was already replayed."""
    return [(REPLAYED, str(now_ms).encode()), (REASON, letter.reason.encode())]


class FlushingOutput(Output, Protocol):
    def flush(self, timeout_s: float = ...) -> Any:
        """Wait for every output so far; raise unless all were acknowledged."""


def replay(letters: Iterable[DeadLetterView], output: FlushingOutput, now_ms: int,
           chunk: int = CHUNK) -> int:
    """Re-publishes each letter to the topic it came from, marked as replayed, ``chunk`` at
    a time: a chunk is acknowledged before the next is taken from ``letters``, so a DLQ of
    any size is replayed with one chunk in hand. Returns how many."""
    replayed = 0
    for letters_chunk in chunked(letters, chunk):
        for letter in letters_chunk:
            output.produce(letter.origin_topic, letter.key, letter.value,
                           replay_headers(letter, now_ms))
        output.flush()
        replayed += len(letters_chunk)
    return replayed


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, each taken only when asked for."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


Out = TypeVar("Out", bound=Output)


class DeadLetterEmitter(Generic[Out]):
    """Sends an input message, as it was read, to its stage's dead-letter topic."""

    def __init__(self, catalog: Catalog, stage: str, output: Out) -> None:
        self.stage = stage
        self.topic = catalog.dlq(stage).name
        self.output = output

    def emit(self, message: InputMessage, failure: Failure, *, now_ms: int, dept: str = "",
             event_id: str = "") -> None:
        letter = dead_letter(
            Provenance(message.topic, message.partition, message.offset),
            message.key,
            message.value,
            stage=self.stage,
            failure=failure,
            now_ms=now_ms,
            dept=dept,
            event_id=event_id,
        )
        self.output.produce(self.topic, letter.key, letter.value, letter.headers)
