"""The sink conformance suite: the real broker and registry, `govbus sink run` as a process,
and the real engine (chDB; a ClickHouse server too when one is reachable).

Every theme record lands once; a SIGKILL mid-batch and a restart give the same table
contents as an uninterrupted run; a delete removes the profile; a new optional field adds a
Nullable column without losing a row.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.settings import Settings
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.tables import (
    AUDIT_TABLE,
    RESOURCE_CATALOG_TABLE,
    SUBSCRIPTIONS_TABLE,
    sink_tables,
)
from sinks.query_client import QueryError, run_query
from sinks.service import group_id
from tests.integration.sinks.conftest import drop_database, make_settings
from tests.integration.sinks.harness import (
    SinkRun,
    ThemePublisher,
    apply_sink_topics,
    child_env,
    committed,
    drained,
    fact,
    finding,
    key_of,
    profile,
    running,
    sink_topics,
)
from topics.annotations import Category
from topics.catalog import catalog_for

pytestmark = pytest.mark.integration

PERSON, ORG, THING, EVENT = tuple(Category)


STARTED: list[SinkRun] = []


@pytest.fixture(autouse=True)
def _no_sink_left_behind() -> Iterator[None]:
    """A failing or timed-out test must not leave its sink process running."""
    yield
    while STARTED:
        run = STARTED.pop()
        if run.alive():
            run.kill()


def sink_run(settings: Settings, tmp_path: Path, name: str = "sink") -> SinkRun:
    run = SinkRun(settings, child_env(settings), tmp_path / f"{name}.log")
    STARTED.append(run)
    return run


AUDITOR = "auditor"  # the audit trail is granted to the auditor alone


def reader_of(table_name: str) -> str | None:
    """The query user that may read a table (None: the settings' default, the analyst)."""
    return AUDITOR if table_name == AUDIT_TABLE else None


def table(settings: Settings, name: str) -> str:
    return f"`{settings.clickhouse_database}`.`{name}`"


def publish_all(
    publisher: ThemePublisher, people: int, others: int, updates: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Profiles of the four categories (some updated), facts and findings; returns the
    messages per table and the live entities per profile table."""
    theme = publisher.catalog.theme
    for i in range(people):
        publisher.send(theme(PERSON), key_of(PERSON, i), profile(PERSON, i))
    for i in range(updates):
        publisher.send(theme(PERSON), key_of(PERSON, i), profile(PERSON, i, version=2))
    for category in (ORG, THING, EVENT):
        for i in range(others):
            publisher.send(theme(category), key_of(category, i), profile(category, i))
    for i in range(2 * others):
        category = (PERSON, ORG, THING, EVENT)[i % 4]
        publisher.send(publisher.catalog.fact(category), key_of(category, i), fact(i, category))
    for i in range(others):
        publisher.send(publisher.catalog.quality, f"e{i}", finding(i))
    publisher.flush()
    messages = {"theme_individual": people + updates, "theme_organization": others,
                "theme_thing": others, "theme_event": others, "facts": 2 * others,
                "quality_findings": others, SUBSCRIPTIONS_TABLE: 0, RESOURCE_CATALOG_TABLE: 0}
    live = {"theme_individual": people, "theme_organization": others,
            "theme_thing": others, "theme_event": others, SUBSCRIPTIONS_TABLE: 0,
            RESOURCE_CATALOG_TABLE: 0}
    return messages, live


def specs_of(run: SinkRun) -> list[TableSpec]:
    """The tables the run's sink fills."""
    tables = sink_tables(catalog_for(run.settings), run.settings.clickhouse_database)
    return [t.spec for t in tables]


def assert_once(run: SinkRun, messages: dict[str, int], live: dict[str, int]) -> None:
    """Append-only tables: every message is one row, none twice. Profile tables: no Kafka
    message stored twice, and after FINAL exactly one row per live entity (the engine's own
    merges may already have folded older versions away, so rows <= messages)."""
    published = [spec for spec in specs_of(run)
                 if spec.name != AUDIT_TABLE]  # the endpoint's own audit trail: see below
    for spec in published:
        name, expected = spec.name, messages[spec.name]
        (row,) = run.rows(
            f"SELECT count() AS n, uniqExact(_topic, _partition, _offset) AS u "
            f"FROM {spec.qualified_name}"
        )
        rows, distinct = int(row["n"]), int(row["u"])
        if spec.is_profile:
            assert distinct == rows <= expected, f"{name}: {rows} rows, {distinct} distinct"
            final = run.scalar(f"SELECT count() FROM {spec.qualified_name} FINAL")
            assert final == live[name], f"{name}: {final} live rows, expected {live[name]}"
        else:
            assert (rows, distinct) == (expected, expected), (
                f"{name}: {rows} rows, {distinct} distinct, expected {expected}"
            )


def test_every_record_lands_once(engine_settings: Settings, tmp_path: Path) -> None:
    settings = engine_settings
    apply_sink_topics(settings)
    messages, live = publish_all(ThemePublisher(settings), people=300, others=200, updates=50)
    group = group_id(settings)
    run = sink_run(settings, tmp_path)
    with running(run):
        run.wait(lambda: drained(run, group), "every offset committed")
        assert_once(run, messages, live)
        # A write through the endpoint is refused while the sink owns the engine.
        with pytest.raises(QueryError) as refused:
            run_query(settings, f"INSERT INTO {table(settings, 'facts')} SELECT * FROM "
                      f"{table(settings, 'facts')}")
        assert refused.value.refused
        with pytest.raises(QueryError) as bad:
            run_query(settings, "SELECT no_such_column FROM system.one")
        assert not bad.value.refused
    assert run.process is not None and run.process.returncode == 0, run.tail()

    # Profiles: one live row per entity, the newer version wins.
    current = run.rows(f"SELECT count() AS n, countIf(version = 2) AS v2 "
                       f"FROM {table(settings, 'theme_individual')} FINAL")
    assert [(int(r["n"]), int(r["v2"])) for r in current] == [(300, 50)]
    # The views add up to what was published, cells below k suppressed (NULL, flagged).
    population = table(settings, "v_population_by_district")
    enterprises = table(settings, "v_enterprises_by_type")
    assert_adds_up(run, population, "persons", 300)
    assert_adds_up(run, enterprises, "enterprises", 200)
    named = run.rows(
        f"SELECT DISTINCT district_name FROM {enterprises} WHERE district_code = '110105'"
    )
    assert named == [{"district_name": "北京市朝阳区"}]
    assert_adds_up(run, table(settings, "v_licences_by_type"), "licences", 200)
    # profile(): expiry in (i % 200 - 20) days, so i % 200 in 20..110 expire within 90 days
    # (the day boundary may move one either way while the test runs).
    expiring = run.scalar(f"SELECT count() FROM {table(settings, 'v_licences_expiring')}")
    assert 89 <= expiring <= 92
    assert run.scalar(
        f"SELECT sum(findings) FROM {table(settings, 'v_quality_by_dept_dimension')}"
    ) == 200

    # A restart reads nothing again and inserts nothing twice. Only the audit events of
    # queries asked after the last run's last poll are new (the endpoint audits every query).
    audit = table(settings, AUDIT_TABLE)
    audited = run.scalar(f"SELECT count() FROM {audit}", AUDITOR)
    with running(run):
        run.wait(lambda: drained(run, group), "restart settled")
    new = run.scalar(f"SELECT count() FROM {audit}", AUDITOR) - audited
    assert run.tail().rstrip().endswith(f"sink stopped: {new} messages read, {new} rows sent")
    assert_once(run, messages, live)


def uncommitted_rows(run: SinkRun, group: str) -> int:
    """Rows in the tables whose offsets the group has not committed: inserted, then killed
    before the commit (what the restart must not insert again)."""
    offsets = committed(run.settings, group, sink_topics(catalog_for(run.settings)))
    conditions = " OR ".join(
        f"(_topic = '{t}' AND _partition = {p} AND _offset >= {o})" for (t, p), o in offsets.items()
    )
    total = 0
    for spec in specs_of(run):
        total += run.scalar(f"SELECT count() FROM {spec.qualified_name} WHERE {conditions}",
                            reader_of(spec.name))
    return total


def contents(run: SinkRun) -> dict[str, list[Any]]:
    """Every table's rows after FINAL, without the per-run insert metadata."""
    found: dict[str, list[Any]] = {}
    for spec in specs_of(run):
        columns = ", ".join(
            f"`{c.name}`" for c in spec.columns if c.name not in ("_ingested_ms", "_batch")
        )
        final = " FINAL" if spec.is_profile else ""
        body = run_query(
            run.as_user(reader_of(spec.name)),
            f"SELECT {columns} FROM {spec.qualified_name}{final} "
            "ORDER BY _topic, _partition, _offset",
            "jsoneachrow",
        )
        found[spec.name] = [json.loads(line) for line in body.decode().splitlines()]
    return found


def test_sigkill_mid_batch_then_restart_matches_an_uninterrupted_run(
    engine_settings: Settings, tmp_path: Path
) -> None:
    settings = engine_settings
    apply_sink_topics(settings)
    publisher = ThemePublisher(settings)
    messages, live = publish_all(publisher, people=8000, others=2000, updates=2000)
    for i in range(0, 300, 3):  # deletes among them: tombstones and deleted flags
        publisher.send(publisher.catalog.theme(PERSON), key_of(PERSON, i), None)
        deleted = profile(THING, i + 1, version=9, deleted=True)
        publisher.send(publisher.catalog.theme(THING), key_of(THING, i + 1), deleted)
    publisher.flush()
    messages["theme_individual"] += 100
    messages["theme_thing"] += 100
    live["theme_individual"] -= 100
    live["theme_thing"] -= 100

    group = group_id(settings)
    killed = sink_run(settings, tmp_path, "killed")
    caught_between_insert_and_commit = 0
    kills = 0
    topics = sink_topics(catalog_for(settings))
    rng = random.Random(5)
    progress = 0
    # Kill while the sink is busy (a flush inserts a round of batches, then commits once),
    # until two kills have struck between an insert and its commit.
    while kills < 10 and caught_between_insert_and_commit < 2 and not drained(killed, group):
        killed.start()
        killed.wait(
            lambda progress=progress: sum(committed(settings, group, topics).values()) > progress,
            "the sink to commit something",
            poll_s=0.02,
        )
        time.sleep(rng.uniform(0.0, 0.3))
        killed.kill()
        kills += 1
        progress = sum(committed(settings, group, topics).values())
        if uncommitted_rows(killed, group):
            caught_between_insert_and_commit += 1
    with running(killed):
        killed.wait(lambda: drained(killed, group), "every offset committed after the kills")
    assert caught_between_insert_and_commit >= 1, (
        f"none of {kills} kills landed between an insert and its commit: nothing was tested"
    )
    assert "uncommitted inserts to skip again" in killed.log.read_text()
    assert_once(killed, messages, live)

    # The same topics, uninterrupted, into another engine folder / database and group.
    suffix = uuid.uuid4().hex[:8]
    calm_settings = make_settings(tmp_path / "b", settings.clickhouse_url, suffix, "calm",
                                  access_dir=settings.access_folder,
                                  topic_namespace=settings.topic_namespace)
    apply_sink_topics(calm_settings)  # and the calm group's ACL for the sink principal
    calm = sink_run(calm_settings, tmp_path, "calm")
    try:
        with running(calm):
            calm.wait(lambda: drained(calm, group_id(calm_settings)), "uninterrupted run")
        assert_once(calm, messages, live)
        assert contents(killed) == contents(calm)
    finally:
        if calm_settings.clickhouse_url:
            drop_database(calm_settings)


def test_delete_removes_the_profile(engine_settings: Settings, tmp_path: Path) -> None:
    settings = engine_settings
    apply_sink_topics(settings)
    publisher = ThemePublisher(settings)
    person = publisher.catalog.theme(PERSON)
    for i in range(10):
        publisher.send(person, key_of(PERSON, i), profile(PERSON, i, version=4))
    publisher.flush()
    group = group_id(settings)
    run = sink_run(settings, tmp_path)
    individual = table(settings, "theme_individual")
    with running(run):
        run.wait(lambda: drained(run, group), "profiles landed")
        assert run.scalar(f"SELECT count() FROM {individual} FINAL") == 10
        publisher.send(publisher.catalog.theme(PERSON), key_of(PERSON, 3), None)  # tombstone
        deleted = profile(PERSON, 5, version=5, deleted=True)
        publisher.send(publisher.catalog.theme(PERSON), key_of(PERSON, 5), deleted)
        publisher.flush()
        run.wait(lambda: drained(run, group), "deletes landed")
        keys = {r["person_key"] for r in run.rows(f"SELECT person_key FROM {individual} FINAL")}
        gone = {key_of(PERSON, 3), key_of(PERSON, 5)}
        assert keys == {key_of(PERSON, i) for i in range(10)} - gone
        tombstone = run.rows(
            f"SELECT version, is_deleted, name FROM {individual} "
            f"WHERE person_key = '{key_of(PERSON, 3)}' ORDER BY version"
        )
        # Above the version it deletes; every other column at its default.
        assert [(int(r["version"]), int(r["is_deleted"]), r["name"]) for r in tombstone][-1] == (
            5, 1, None)
        assert_adds_up(run, table(settings, "v_population_by_district"), "persons", 8)


def assert_adds_up(run: SinkRun, view: str, count: str, published: int) -> None:
    """The shown cells and the suppressed ones (each 1..k-1) account for every row."""
    k = run.settings.privacy_k
    shown, hidden = (int(v) for v in run.rows(
        f"SELECT sum(ifNull({count}, 0)) AS shown, countIf(suppressed) AS hidden FROM {view}"
    )[0].values())
    assert shown + hidden <= published <= shown + hidden * (k - 1)
    assert run.scalar(f"SELECT count() FROM {view} WHERE suppressed AND {count} IS NOT NULL") == 0


def test_new_optional_field_adds_a_nullable_column_without_loss(
    engine_settings: Settings, tmp_path: Path
) -> None:
    settings = engine_settings
    apply_sink_topics(settings)
    publisher = ThemePublisher(settings)
    topic = publisher.catalog.theme(PERSON)
    base = topic.value_schema()  # type: ignore[misc]
    newer = copy.deepcopy(base)
    newer["fields"].insert(3, {
        "name": "nickname", "type": ["null", "string"], "default": None,
        "doc": "A nickname (test-only field).", "govbus.pii": "none", "govbus.grade": "general",
    })
    group = group_id(settings)
    run = sink_run(settings, tmp_path)
    individual = table(settings, "theme_individual")
    with running(run):
        for i in range(30):
            publisher.send(topic, key_of(PERSON, i), profile(PERSON, i))
        publisher.flush()
        run.wait(lambda: drained(run, group), "rows of the first schema")
        for i in range(30, 60):
            record = {**profile(PERSON, i), "nickname": f"小{i}"}
            publisher.send(topic, key_of(PERSON, i), record, newer)
        for i in range(60, 70):  # a department still on the older schema
            publisher.send(topic, key_of(PERSON, i), profile(PERSON, i))
        publisher.flush()
        run.wait(lambda: drained(run, group), "rows of both schemas")
        column = [c for c in run.rows(f"DESCRIBE TABLE {individual}") if c["name"] == "nickname"]
        assert [c["type"] for c in column] == ["Nullable(String)"]
        rows = run.rows(f"SELECT person_key, nickname FROM {individual} FINAL ORDER BY person_key")
    assert len(rows) == 70
    for i, row in enumerate(rows):
        assert row["person_key"] == key_of(PERSON, i)
        assert row["nickname"] == (f"小{i}" if 30 <= i < 60 else None)
