"""After a fault: what went in, where it ended, and what the theme libraries hold.

Every raw event must end exactly once in std or in the DLQ. An event is named by its event
id; a message that has none to read (garbage bytes, an unknown schema id) by its position,
which its dead letter's headers name. Tombstones and a table's snapshot closings are not
events. The theme rows are compared with those of an undisturbed run over the same raw
messages: the raw and theme processors run in this process over exactly what the broker
holds, so the comparison needs no second pipeline and no second load.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ops.runtime.messages import InputMessage
from streams.runtime.row_store import CLOSING_KEY
from topics.dead_letters import EVENT_ID, OFFSET, PARTITION, TOPIC
from topics.reader import ReadMessage
from topics.serde import UndecodableMessageError, schema_id_of

# Columns an undisturbed run cannot reproduce: when the row was made, and its revision
# number (the theme layer writes an entity once per batch, so it counts batches, which a
# run under a fault cuts differently).
PROCESSING_TIME_COLUMNS = frozenset({"updated_ms", "version"})


@dataclass(frozen=True)
class Accounting:
    """Raw events against where they ended."""

    events_in: int
    in_std: int
    in_dlq: int
    lost: int
    duplicated: int
    lost_examples: tuple[str, ...] = ()
    duplicated_examples: tuple[str, ...] = ()


def raw_identity(message: ReadMessage) -> str | None:
    """An event's id, or its position when nothing in it can be read; None: not an event."""
    if message.raw_value is None or message.raw_key == CLOSING_KEY:
        return None
    if message.value is not None and message.value.get("event_id"):
        return str(message.value["event_id"])
    return f"{message.topic}:{message.partition}:{message.offset}"


def letter_identity(message: ReadMessage, events: set[str]) -> str:
    """The identity of the raw event a dead letter holds, as ``raw_identity`` named it: its
    event id, or where it was read (a letter names both when it could read the id)."""
    headers = message.headers
    position = f"{headers.get(TOPIC)}:{headers.get(PARTITION)}:{headers.get(OFFSET)}"
    event_id = headers.get(EVENT_ID, "")
    return event_id if event_id in events or position not in events else position


def account(raw: Iterable[ReadMessage], std: Iterable[ReadMessage],
            dead_letters: Iterable[ReadMessage]) -> Accounting:
    events = {i for m in raw if (i := raw_identity(m)) is not None}
    std_ids = Counter(str(m.value["event_id"]) for m in std if m.value is not None)
    dlq_ids = Counter(letter_identity(m, events) for m in dead_letters)
    ended = std_ids + dlq_ids
    lost = sorted(events - set(ended))
    duplicated = sorted(i for i, n in ended.items() if n > 1 and i in events)
    return Accounting(len(events), sum(std_ids.values()), sum(dlq_ids.values()), len(lost),
                      sum(ended[i] - 1 for i in duplicated), tuple(lost[:5]),
                      tuple(duplicated[:5]))


def writer_schema_ids(messages: Iterable[ReadMessage]) -> dict[str, list[int]]:
    """The schema ids the messages were written with, by topic (what is not Confluent
    framing, and tombstones, left out)."""
    found: dict[str, set[int]] = {}
    for message in messages:
        if message.raw_value is None:
            continue
        try:
            schema_id = schema_id_of(message.raw_value)
        except UndecodableMessageError:
            continue
        found.setdefault(message.topic, set()).add(schema_id)
    return {topic: sorted(ids) for topic, ids in sorted(found.items())}


def as_input(message: ReadMessage) -> InputMessage:
    return InputMessage(message.topic, message.partition, message.offset, message.raw_key,
                        message.raw_value)


def comparable(row: Mapping[str, Any]) -> str:
    """A row as the comparison sees it: every column but the processing times, canonical."""
    return json.dumps({k: v for k, v in row.items() if k not in PROCESSING_TIME_COLUMNS},
                      sort_keys=True, ensure_ascii=False, default=str)


def differing(expected: Mapping[str, Mapping[str, Any]],
              found: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Entity keys whose row differs, or is in one side only."""
    keys = set(expected) | set(found)
    return sorted(k for k in keys if k not in expected or k not in found
                  or comparable(expected[k]) != comparable(found[k]))


def clear_values_found(clear: set[str], records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Which of the raw events' clear personal values appear in any downstream record."""
    found: set[str] = set()
    for record in records:
        text = json.dumps(record, ensure_ascii=False, default=str)
        found |= {value for value in clear if value in text}
    return found
