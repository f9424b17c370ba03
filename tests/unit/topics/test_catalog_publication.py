"""The published catalog: one record per entry, revised only when the entry changed, a
tombstone for an entry gone; every record fits the catalog topic's schema."""

from __future__ import annotations

import dataclasses

import pytest
from fastavro import parse_schema
from fastavro.validation import validate

from topics.annotations import Category
from topics.catalog import catalog_in
from topics.resource_catalog import ResourceCatalog, build_catalog, catalog_revisions
from topics.sharing import read_declaration

NOW_MS = 1_800_000_000_000
CATALOG = catalog_in("unit.")


@pytest.fixture(scope="module")
def resources() -> ResourceCatalog:
    lands = {CATALOG.theme(c).name: f"govbus.theme_{c}" for c in Category}
    return build_catalog(read_declaration(), CATALOG.all, CATALOG.namespace, lands)


def test_a_first_publication_is_every_entry_at_version_one(resources: ResourceCatalog) -> None:
    revisions = catalog_revisions(resources, {}, NOW_MS)
    assert [r.code for r in revisions] == [r.code for r in resources]
    schema = parse_schema(resources_schema())
    for revision, resource in zip(revisions, resources, strict=True):
        assert revision.version == 1 and revision.record is not None
        assert revision.record == {**resource.as_record(), "version": 1, "source_ts_ms": NOW_MS}
        assert validate(revision.record, schema, raise_errors=True)


def test_publishing_again_writes_only_what_changed(resources: ResourceCatalog) -> None:
    published = {r.code: r.record for r in catalog_revisions(resources, {}, NOW_MS)
                 if r.record is not None}
    assert catalog_revisions(resources, published, NOW_MS + 1) == []

    first, *rest = resources.resources
    edited = dataclasses.replace(first, summary=first.summary + " (修订)")
    revised = catalog_revisions(ResourceCatalog((edited, *rest)), published, NOW_MS + 1)
    assert [(r.code, r.version) for r in revised] == [(first.code, 2)]
    assert revised[0].record is not None
    assert revised[0].record["summary"].endswith("(修订)")
    assert revised[0].record["source_ts_ms"] == NOW_MS + 1


def test_an_entry_gone_from_the_catalog_is_a_tombstone_one_version_up(
        resources: ResourceCatalog) -> None:
    published = {r.code: r.record for r in catalog_revisions(resources, {}, NOW_MS)
                 if r.record is not None}
    first, *rest = resources.resources
    gone = catalog_revisions(ResourceCatalog(tuple(rest)), published, NOW_MS + 1)
    assert [(r.code, r.record, r.version) for r in gone] == [(first.code, None, 2)]


def resources_schema() -> dict[str, object]:
    topic = CATALOG.resource_catalog
    assert topic.value_schema is not None
    return topic.value_schema()
