"""The profile state of one entity and how a fact changes it.

State = the contributions seen, keyed by (source, record_key, role), plus a revision
counter. The revision is the theme record's version (a ReplacingMergeTree version): it lives
in the state, so it keeps increasing across restarts.

Facts arrive at least once and, across records, in any order: per contribution, an older
fact is ignored and an equal one (a redelivery) is a no-op.

Retraction markers and the lateness horizon. A retracted contribution stays as a marker with
its order, so a late, older assert of the same record cannot bring it back. A marker is kept
for as long as such a fact can still be expected: once its time is older than the entity's
newest contribution time minus the horizon (``GOVBUS_RETRACTION_HORIZON_HOURS``, like
Kafka's ``delete.retention.ms`` for tombstones; the theme processor passes it), it is
dropped; given no horizon, ``apply_fact`` keeps markers for ever. Dropping one never changes the
profile: a marker states no value, and the newest time, which the profile's freshness is,
is never dropped. Without a marker, the state cannot tell a late fact about a record it
forgot from a new record. So a fact older than that same bound whose contribution the state
does not hold is not applied: it is ``BEYOND_HORIZON``, and the processor dead-letters it
with that reason (nothing lost, nothing resurrected; raise the horizon and replay it if it
is wanted). A deleted entity's state keeps the markers of its last horizon; they go when a
fact makes the entity newer.

``apply_fact`` changes the state it is given in place (the caller owns it: the theme
processor holds each entity's state for the batch): one fact costs no copy of the entity's
contributions. When it raises, the state is left as it was.
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
    # Older than the entity's newest time minus the horizon, and not held: its marker may
    # have been dropped, so it cannot be judged (dead-lettered, never applied)
    BEYOND_HORIZON = "beyond_horizon"


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
HOUR_MS = 3_600_000


class ProfileState:
    """Contributions of one entity and its revision; the merged view is cached."""

    __slots__ = ("_newest_ts", "_view", "category", "contributions", "revision")

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
        self._newest_ts = max((c.ts for c in contributions.values()), default=0)

    @property
    def newest_ts(self) -> int:
        """The latest source time of any contribution, retractions included."""
        return self._newest_ts

    def copy(self) -> ProfileState:
        """A state of its own (``apply_fact`` changes the one it is given)."""
        return ProfileState(self.category, dict(self.contributions), self.revision, self._view)

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
    state: ProfileState | None, fact: Mapping[str, Any], horizon_ms: int | None = None
) -> tuple[ProfileState | None, Applied]:
    """The state after ``fact`` and what happened. ``state`` is changed in place (a new one
    is made when it is None); it is returned unchanged when the fact is stale, a duplicate
    or beyond the horizon (nothing to store). Markers older than the entity's newest time
    minus ``horizon_ms`` are dropped (None: markers are kept for ever)."""
    key = (fact["source"], fact["record_key"], fact["role"])
    ts, sequence = fact["source_ts_ms"], fact["sequence"]
    order = order_key(ts, sequence)
    if state is None:
        category = fact["category"]
        state = ProfileState(category, {}, 0, None)
        held = None
    else:
        category = state.category
        held = state.contributions.get(key)
        if held is not None:
            if order < held.order:
                return state, Applied(Status.STALE)
            if order == held.order:
                return state, Applied(Status.DUPLICATE)
        elif horizon_ms is not None and ts < state.newest_ts - horizon_ms:
            return state, Applied(Status.BEYOND_HORIZON)
    if fact["op"] == "retract":
        made = contribution(category, fact["dept"], ts, sequence, True, {}, (), order)
    else:
        made = contribution(
            category, fact["dept"], ts, sequence, False,
            {a: v for a, v in fact["attributes"].items() if v is not None},
            _links(fact["links"]), order,
        )
    contributions = state.contributions
    before = state.view()
    contributions[key] = made
    try:
        after = merge(category, contributions)
        if after is None:
            status = Status.UNCHANGED if before is None else Status.DELETED
        else:
            status = Status.UNCHANGED if after.same_profile(before) else Status.UPDATED
        conflicts = new_conflicts(category, before, after)
    except BaseException:
        # A fact the merge cannot take leaves the entity as it was.
        if held is None:
            del contributions[key]
        else:
            contributions[key] = held
        raise
    if status is not Status.UNCHANGED:
        state.revision += 1
    state._view = after
    if ts > state._newest_ts:
        state._newest_ts = ts
        if horizon_ms is not None:
            _drop_old_markers(contributions, ts - horizon_ms)
    return state, Applied(status, conflicts)


def _drop_old_markers(contributions: dict[ContributionKey, Contribution], before_ts: int
                      ) -> None:
    """Drops the retraction markers older than ``before_ts`` (the profile stays the same:
    markers state no values, and the newest time is later)."""
    old = [key for key, c in contributions.items() if c.retracted and c.ts < before_ts]
    for key in old:
        del contributions[key]


def _links(links: list[Mapping[str, str]]) -> tuple[LinkTuple, ...]:
    return tuple((link["relation"], link["category"], link["key"]) for link in links)
