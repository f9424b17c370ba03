"""``govbus privacy audit``: the citizen IDs the published rows leave, counted on the rows.

The disclosure model checks record types against the policy before anything runs; this reads
what a running bus actually published and counts, per row and per person, the citizen ID
numbers still consistent with it (``topics/codes/id_candidates.py``, which shares no code
with the model). It sees what the model cannot: the times a person is on record, which bound
the birth date. Sources:
- every live profile of ``theme_individual`` and every fact row in ClickHouse;
- per person, the profile joined with every fact about the person (the pseudonym joins them);
- with ``topics``, every std topic's rows as the broker holds them (read as the admin).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from govbus.wiring import admin_settings, registry
from ops.kafka_client import kafka_config
from ops.settings import Settings
from sinks.clickhouse.sql import quote_identifier
from sinks.clickhouse.tables import entity_key_field, facts_table, profile_table
from sinks.query_client import run_query
from topics.annotations import Category
from topics.catalog import Catalog, catalog_for
from topics.codes.id_candidates import IdKnowledge, persons, published_values
from topics.reader import TopicReader
from topics.schemas import source_names

Row = Mapping[str, Any]
JOINED = "per person: profile + facts joined on the pseudonym"


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One library, topic or join: how many rows say something of a citizen ID, and the
    fewest candidates any of them leaves."""

    published: str
    rows: int
    narrowing: int  # rows that say anything of a citizen ID
    fewest: int | None
    below: int  # rows left with fewer candidates than the minimum


def audit_rows(published: str, rows: Iterable[Iterable[Row]], minimum: int,
               today: dt.date) -> AuditLine:
    """Counts each group of rows (one row, or all rows about a person) as one attacker view."""
    total = narrowing = below = 0
    fewest: int | None = None
    for group in rows:
        total += 1
        counts = [known.candidates(today) for known in _persons_in(group) if known.narrowing]
        if not counts:
            continue
        narrowing += 1
        fewest = min(counts) if fewest is None else min(fewest, *counts)
        below += min(counts) < minimum
    return AuditLine(published, total, narrowing, fewest, below)


def _persons_in(group: Iterable[Row]) -> list[IdKnowledge]:
    """What the rows say of each person: a single row may name several (a marriage's
    parties), rows grouped for one person name that person."""
    rows = list(group)
    if len(rows) == 1:
        return [IdKnowledge().read_all(values) for values in persons(rows[0])]
    known = IdKnowledge()
    for row in rows:
        known.read_all(published_values(row))
    return [known]


def person_views(profiles: Iterable[Row], facts: Iterable[Row], key: str
                 ) -> Iterator[list[Row]]:
    """Each profile with the facts whose entity is the person."""
    about: dict[str, list[Row]] = defaultdict(list)
    for fact in facts:
        about[str(fact.get("entity_key"))].append(fact)
    for profile in profiles:
        yield [profile, *about.get(str(profile.get(key)), ())]


def json_rows(document: bytes) -> list[Row]:
    """The rows of the engine's JSON rendering of a result."""
    return [row for row in json.loads(document).get("data", []) if isinstance(row, dict)]


def audit_libraries(select: Callable[[str], list[Row]], catalog: Catalog, database: str,
                    minimum: int, day: dt.date) -> list[AuditLine]:
    """The audit lines of the person library, the person facts, and their join."""
    people = profile_table(catalog, Category.INDIVIDUAL, database).spec
    facts_spec = facts_table(catalog, database).spec
    key = entity_key_field(people.schema)
    profiles = select(f"SELECT * FROM {people.qualified_name} FINAL "
                      f"WHERE {quote_identifier(people.is_deleted_column)} = 0")
    facts = select(f"SELECT * FROM {facts_spec.qualified_name} "
                   f"WHERE category = '{Category.INDIVIDUAL}'")
    return [
        audit_rows(f"clickhouse {people.name}", ([p] for p in profiles), minimum, day),
        audit_rows(f"clickhouse {facts_spec.name} ({Category.INDIVIDUAL})",
                   ([f] for f in facts), minimum, day),
        audit_rows(JOINED, person_views(profiles, facts, key), minimum, day),
    ]


def audit(settings: Settings, minimum: int, topics: bool = False,
          today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()
          ) -> list[AuditLine]:
    """The libraries as the query endpoint answers, and optionally every std topic."""
    day = today()
    catalog = catalog_for(settings)
    lines = audit_libraries(lambda sql: json_rows(run_query(settings, sql, "json")),
                            catalog, settings.clickhouse_database, minimum, day)
    if topics:
        admin = admin_settings(settings)
        connection, schemas = kafka_config(admin), registry(admin)
        for source in source_names():
            name = catalog.std(source).name
            rows = (_std_row(m.value) for m in TopicReader(connection, schemas, name)
                    .messages(idle_timeout_s=2.0) if m.value is not None)
            lines.append(audit_rows(name, ([r] for r in rows), minimum, day))
    return lines


def _std_row(envelope: Row) -> Row:
    """A std event as an attacker reads it: its row and the time it was recorded."""
    row = envelope.get("after") or envelope.get("before") or {}
    return {**row, "source_ts_ms": envelope.get("ts_ms")}
