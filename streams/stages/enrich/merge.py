"""The merged view of one entity: its contributions combined by one datum, one source (一数一源).

For each theme attribute the authoritative department (from the theme schema) wins with its
most recent non-null value; without one, the most recent non-null value of any department
does. Every other department's values are kept as candidates, and one that differs from a
non-null authoritative value is a disagreement (a conflict finding when it first appears).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from streams.stages.enrich.order import OrderKey, order_key
from streams.stages.enrich.theme_spec import theme_spec

ContributionKey = tuple[str, str, str]  # (source, record_key, role)
LinkTuple = tuple[str, str, str]  # (relation, category, key)
CandidateKey = tuple[str, str, str]  # (attribute, dept, value)
Disagreement = tuple[str, str, str, str, str]  # (attribute, dept, source, authority's, other's)


class Contribution(NamedTuple):
    """What one role in one source record states about the entity, and when.

    Made by ``contribution``, which also splits the attributes by authority once, so a merge
    (run on every fact, over every contribution of the entity) only updates dicts.
    """

    dept: str
    ts: int
    sequence: str | None
    retracted: bool
    attributes: Mapping[str, str]  # non-null values only: a null states nothing
    links: tuple[LinkTuple, ...]
    order: OrderKey
    authoritative: Mapping[str, str]  # the attributes this department is the authority for
    others: Mapping[str, str]  # the other theme attributes it states
    candidate_keys: tuple[CandidateKey, ...]  # ``others`` as candidates


def contribution(
    category: str,
    dept: str,
    ts: int,
    sequence: str | None,
    retracted: bool,
    attributes: Mapping[str, str],
    links: tuple[LinkTuple, ...],
    order: OrderKey | None = None,
) -> Contribution:
    authority = theme_spec(category).authority
    authoritative = {a: v for a, v in attributes.items() if authority.get(a) == dept}
    if len(authoritative) == len(attributes):
        others: dict[str, str] = {}
    else:
        # Attributes outside the theme schema are dropped: there is nothing to merge them into.
        others = {a: v for a, v in attributes.items()
                  if a in authority and a not in authoritative}
    return Contribution(
        dept, ts, sequence, retracted, attributes, links,
        order_key(ts, sequence) if order is None else order,
        authoritative, others, tuple((a, dept, v) for a, v in others.items()),
    )


class Conflict(NamedTuple):
    """A department whose value of an attribute disagrees with the authority's."""

    attribute: str
    dept: str
    source: str  # the disagreeing department's source table
    authority: str  # the authoritative department


class View(NamedTuple):
    values: dict[str, str]  # attribute -> winning value
    candidates: dict[CandidateKey, tuple[int, str]]  # -> (latest source_ts_ms, source)
    links: tuple[LinkTuple, ...]  # sorted, distinct
    sources: tuple[str, ...]  # sorted departments
    disagreements: frozenset[Disagreement]
    source_ts_ms: int

    def same_profile(self, other: View | None) -> bool:
        """Equal as rendered, timestamps included. A restatement of the same values that
        advances a timestamp is a new revision: otherwise which restatement's time the last
        emitted profile shows would depend on how facts from different departments happened
        to interleave, and a reprocessed stream (after a crash) could end on another one."""
        return (
            other is not None
            and self.values == other.values
            and self.links == other.links
            and self.sources == other.sources
            and self.candidates == other.candidates
            and self.source_ts_ms == other.source_ts_ms
        )


def merge(category: str, contributions: Mapping[ContributionKey, Contribution]) -> View | None:
    """The view of the active contributions; None when there is none (entity deleted)."""
    # (order, key) is unique per contribution, so the tuples sort without a key function.
    active = [(c.order, key, c) for key, c in contributions.items() if not c.retracted]
    if not active:
        return None
    active.sort()
    authoritative: dict[str, str] = {}
    others: dict[str, str] = {}
    candidates: dict[CandidateKey, tuple[int, str]] = {}
    links: set[LinkTuple] = set()
    depts: set[str] = set()
    # Retractions count: a record deleted or moved away changes the profile at its time, and
    # the profile's source time says how fresh it is (and what its latency is measured from).
    latest = max(c.ts for c in contributions.values())
    # Oldest first, so a later statement overwrites an earlier one.
    for _, (source, _, _), c in active:
        depts.add(c.dept)
        links.update(c.links)
        authoritative.update(c.authoritative)
        if c.candidate_keys:
            others.update(c.others)
            mark = (c.ts, source)
            for candidate in c.candidate_keys:
                candidates[candidate] = mark
    others.update(authoritative)
    disagreements = frozenset(
        (attribute, dept, source, wins, value)
        for (attribute, dept, value), (_, source) in candidates.items()
        if (wins := authoritative.get(attribute)) is not None
        and wins != value
        and not agrees(wins, value)
    )
    return View(others, candidates, tuple(sorted(links)), tuple(sorted(depts)), disagreements,
                latest)


def agrees(authority: str, other: str) -> bool:
    """Equal, or one is a mask of the other (a licence's masked holder name and the
    market register's clear enterprise name are the same name, not a conflict)."""
    if authority == other:
        return True
    if len(authority) != len(other) or ("*" not in authority and "*" not in other):
        return False
    return all(a == b or a == "*" or b == "*" for a, b in zip(authority, other, strict=True))


def new_conflicts(
    category: str, before: View | None, after: View | None
) -> tuple[Conflict, ...]:
    """Disagreements ``after`` has that ``before`` had not (new, or with changed values),
    one per (attribute, dept, source)."""
    if after is None or not after.disagreements:
        return ()
    known = before.disagreements if before is not None else frozenset()
    fresh = after.disagreements - known
    if not fresh:
        return ()
    authority = theme_spec(category).authority
    return tuple(
        sorted({Conflict(a, d, s, authority[a]) for a, d, s, _, _ in fresh})
    )
