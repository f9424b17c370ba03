"""Entities a source record stopped stating: the retracts an update or delete implies.

An update can move a record's statement to another entity (a new legal representative, a
licence re-held): the std layer carries no before image for updates, so only a memory of
which entities the record stated last time can retract the old one's contribution. That
memory is a small JSON-compatible map per source record (``RecordEntities``), kept by the
caller in a table keyed by the source record (raw topics are keyed by it, so one worker sees
all changes of a record, in order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

RecordEntities = dict[str, list[str]]  # "role/category" -> [category, entity_type, entity_key]


class Moved(NamedTuple):
    role: str
    category: str
    entity_type: str
    entity_key: str


def entities_of(facts: Iterable[Mapping[str, Any]]) -> RecordEntities:
    """What a record states now, from its facts."""
    return {
        f"{f['role']}/{f['category']}": [f["category"], f["entity_type"], f["entity_key"]]
        for f in facts
    }


def moved_away(
    previous: Mapping[str, Sequence[str]] | None, current: RecordEntities
) -> list[Moved]:
    """The entities ``previous`` names that ``current`` no longer does, in the same role."""
    if not previous:
        return []
    moved = []
    for slot, (category, entity_type, key) in previous.items():
        now = current.get(slot)
        if now is None or now[2] != key:
            moved.append(Moved(slot.partition("/")[0], category, entity_type, key))
    return moved
