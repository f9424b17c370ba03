"""Entities a source row stopped naming: the retracts a change of the row implies.

What a row names is kept per row, by role, in its state (``rows.RowState``), as a small
JSON-compatible map (``RecordEntities``); a change compares the entities its facts name with
that map, never with the event's before image.
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
