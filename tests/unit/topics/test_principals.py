"""The principals' grants: least privilege, derived from the catalog."""

from __future__ import annotations

from ops.settings import Settings
from topics.catalog import RAW_ROWS, THEME_PROFILES, Layer, catalog_for
from topics.principals import (
    ADMIN,
    RAW_WORKER,
    SINK,
    SUBSCRIBER,
    THEME_WORKER,
    Operation,
    principal,
    principal_topics,
    principals,
    publisher,
)

# The namespace and groups a test makes are a Settings it builds, not the environment.
SETTINGS = Settings(topic_namespace="")
CATALOG = catalog_for(SETTINGS)


def _topics(name: str, operation: Operation) -> set[str]:
    return {g.resource for g in principal(name, SETTINGS).grants if g.operation is operation
            and g.kind == "TOPIC"}


def test_every_principal_is_declared_once() -> None:
    names = [p.name for p in principals(SETTINGS)]
    assert len(names) == len(set(names))
    assert {ADMIN, RAW_WORKER, THEME_WORKER, SINK, SUBSCRIBER} <= set(names)


def test_a_publisher_writes_its_own_departments_raw_topics_only() -> None:
    raw = CATALOG.by_layer(Layer.RAW)
    for dept in {t.dept for t in raw}:
        assert _topics(publisher(dept), Operation.WRITE) == {t.name for t in raw if t.dept == dept}
        assert not _topics(publisher(dept), Operation.READ)


def test_raw_is_read_by_the_raw_worker_alone() -> None:
    raw = {t.name for t in CATALOG.by_layer(Layer.RAW)}
    readers = {p.name for p in principals(SETTINGS) if raw & _topics(p.name, Operation.READ)}
    assert readers == {RAW_WORKER}


def test_the_workers_write_only_their_layers() -> None:
    raw_writes = {t.split(".")[0] for t in _topics(RAW_WORKER, Operation.WRITE)}
    # raw: the snapshot closings it carries between a table's raw partitions
    assert raw_writes == {"raw", "std", "fact", "state", "dlq", "quality"}
    theme_writes = {t.split(".")[0] for t in _topics(THEME_WORKER, Operation.WRITE)}
    assert theme_writes == {"theme", "state", "dlq", "quality"}


def test_each_worker_reads_and_writes_its_own_state_changelog_only() -> None:
    rows, profiles = CATALOG.state(RAW_ROWS).name, CATALOG.state(THEME_PROFILES).name
    for name, own, other in ((RAW_WORKER, rows, profiles), (THEME_WORKER, profiles, rows)):
        for operation in (Operation.READ, Operation.WRITE):
            assert own in _topics(name, operation)
            assert other not in _topics(name, operation)


def test_the_sink_reads_theme_fact_quality_audit_and_subscriptions() -> None:
    layers = {t.split(".")[0] for t in _topics(SINK, Operation.READ)}
    assert layers == {"theme", "fact", "quality", "audit", "sharing"}


def test_a_consuming_department_reads_the_catalog_and_its_grants_only() -> None:
    from topics.principals import consumer

    granted = {"market": frozenset({"std.licence.licence"})}
    market = next(p for p in principals(SETTINGS, granted) if p.name == consumer("market"))
    reads = {g.resource for g in market.grants if g.kind == "TOPIC"}
    assert reads == {CATALOG.resource_catalog.name, CATALOG.std("licence.licence").name}
    assert {g.operation for g in market.grants if g.kind == "TOPIC"} == {
        Operation.READ, Operation.DESCRIBE}


def test_the_admin_has_no_acls_of_its_own() -> None:
    assert principal_topics(ADMIN, SETTINGS) == []


def test_connect_writes_only_its_raw_topics_its_storage_and_its_registry_artifacts() -> None:
    from topics.cdc import DEPARTMENT_TABLES
    from topics.principals import principal

    connect = principal("connect", SETTINGS)
    written = {g.resource for g in connect.grants if g.operation == "WRITE"}
    carried = {CATALOG.raw(t.source).name for t in DEPARTMENT_TABLES}
    assert written == carried | {t.name for t in CATALOG.by_layer(Layer.CONNECT)}
    assert not any(g.resource.startswith(("std.", "fact.", "theme.")) for g in connect.grants)
    assert ("household.public.hj_resident", "raw.household.resident-Envelope") in (
        connect.registry_writes)
    assert connect.registry_writes == {
        (t.record_namespace, f"{CATALOG.raw(t.source).name}-{record}")
        for t in DEPARTMENT_TABLES for record in ("Key", "Envelope")}
