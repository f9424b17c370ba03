"""The profile state of one entity and how a fact changes it.

State = every contribution ever seen, keyed by (source, record_key, role), plus a revision
counter. A retracted contribution stays as a marker with its order, so a late, older assert
of the same record cannot bring it back. The revision is the theme record's version (a
ReplacingMergeTree version): it lives in the state, so it keeps increasing across restarts.

Facts arrive at least once and, across records, in any order: per contribution, an older
fact is ignored and an equal one (a redelivery) is a no-op. ``apply_fact`` never mutates
its input state: it returns a new one sharing the unchanged contributions.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from streams.stages.enrich.merge import (
    Conflict,
    Contribution,
    ContributionKey,
    LinkTuple,
    View,
    contribution,
    merge,
    new_conflicts,
)
from streams.stages.enrich.order import order_key


class Status(StrEnum):
    UPDATED = "updated"  # the profile changed: emit the rendered record
    DELETED = "deleted"  # no active contribution remains: emit a tombstone
    UNCHANGED = "unchanged"  # the state moved on, the profile did not: store, emit nothing
    STALE = "stale"  # older than what the contribution holds: ignored
    DUPLICATE = "duplicate"  # the same order again (a redelivery): ignored


class Applied(NamedTuple):
    status: Status
    conflicts: tuple[Conflict, ...] = ()  # introduced or changed by this fact

    @property
    def emit(self) -> bool:
        return self.status is Status.UPDATED or self.status is Status.DELETED

    @property
    def store(self) -> bool:
        """The state moved on: write it, even when the profile is unchanged (its newer
        order must survive a restart, or a late older fact would be taken)."""
        return self.emit or self.status is Status.UNCHANGED

    @property
    def changed(self) -> bool:
        """The profile changed (same as ``emit``)."""
        return self.emit

    @property
    def stale(self) -> bool:
        """Ignored: older than, or a redelivery of, what the state holds."""
        return self.status is Status.STALE or self.status is Status.DUPLICATE


_NOT_MERGED: Any = object()


class ProfileState:
    """Contributions of one entity and its revision; the merged view is cached."""

    __slots__ = ("_view", "category", "contributions", "revision")

    def __init__(
        self,
        category: str,
        contributions: dict[ContributionKey, Contribution],
        revision: int = 0,
        view: View | None = _NOT_MERGED,
    ) -> None:
        self.category = category
        self.contributions = contributions
        self.revision = revision
        self._view = view

    def view(self) -> View | None:
        """The merged profile, or None when the entity is deleted."""
        if self._view is _NOT_MERGED:
            self._view = merge(self.category, self.contributions)
        return self._view

    @property
    def deleted(self) -> bool:
        return self.view() is None

    def to_json(self) -> dict[str, Any]:
        """A compact JSON-compatible form (shares attribute maps: do not mutate them)."""
        return {
            "k": self.category,
            "v": self.revision,
            "c": [
                [source, record_key, role, c.dept, c.ts, c.sequence, int(c.retracted),
                 c.attributes, [list(link) for link in c.links]]
                for (source, record_key, role), c in self.contributions.items()
            ],
        }

    def to_bytes(self) -> bytes:
        """The changelog form: ``to_json`` as JSON bytes."""
        return orjson.dumps(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> ProfileState:
        return cls.from_json(orjson.loads(data))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProfileState:
        category = data["k"]
        contributions = {
            (source, record_key, role): contribution(
                category, dept, ts, sequence, bool(retracted), attributes,
                tuple((r, c, k) for r, c, k in links),
            )
            for source, record_key, role, dept, ts, sequence, retracted, attributes, links
            in data["c"]
        }
        return cls(category, contributions, data["v"])


def apply_fact(
    state: ProfileState | None, fact: Mapping[str, Any]
) -> tuple[ProfileState | None, Applied]:
    """The state after ``fact`` and what happened; the input state is not changed.

    Returns the same state object when the fact is stale or a duplicate (nothing to store).
    """
    key = (fact["source"], fact["record_key"], fact["role"])
    ts, sequence = fact["source_ts_ms"], fact["sequence"]
    order = order_key(ts, sequence)
    held = state.contributions.get(key) if state is not None else None
    if held is not None:
        if order < held.order:
            return state, Applied(Status.STALE)
        if order == held.order:
            return state, Applied(Status.DUPLICATE)
    category = state.category if state is not None else fact["category"]
    if fact["op"] == "retract":
        made = contribution(category, fact["dept"], ts, sequence, True, {}, (), order)
    else:
        made = contribution(
            category, fact["dept"], ts, sequence, False,
            {a: v for a, v in fact["attributes"].items() if v is not None},
            _links(fact["links"]), order,
        )
    if state is None:
        revision, before = 0, None
        contributions = {key: made}
    else:
        revision, before = state.revision, state.view()
        contributions = {**state.contributions, key: made}
    after = merge(category, contributions)
    if after is None:
        status = Status.UNCHANGED if before is None else Status.DELETED
    else:
        status = Status.UNCHANGED if after.same_profile(before) else Status.UPDATED
    if status is not Status.UNCHANGED:
        revision += 1
    return (
        ProfileState(category, contributions, revision, after),
        Applied(status, new_conflicts(category, before, after)),
    )


def _links(links: list[Mapping[str, str]]) -> tuple[LinkTuple, ...]:
    return tuple((link["relation"], link["category"], link["key"]) for link in links)
