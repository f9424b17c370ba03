"""The catalog declares each topic once, with grades derived from the schemas, named in the
namespace it is made for."""

from __future__ import annotations

import pytest

from ops.settings import Settings
from topics.annotations import Grade
from topics.catalog import Cleanup, Layer, catalog_for, catalog_in
from topics.schemas import source_names

CATALOG = catalog_in("unit.")


def test_names_are_unique() -> None:
    names = [t.name for t in CATALOG.all]
    assert len(names) == len(set(names))


def test_every_name_is_in_the_namespace() -> None:
    assert all(t.name.startswith("unit.") for t in CATALOG.all)
    assert CATALOG.raw("household.resident").name == "unit.raw.household.resident"


def test_a_catalog_per_namespace_and_the_settings_choose_it() -> None:
    staging = catalog_for(Settings(topic_namespace="staging."))
    assert staging is catalog_in("staging.")
    assert staging.dlq("sink").name == "staging.dlq.sink"
    assert catalog_in("").dlq("sink").name == "dlq.sink"


def test_every_source_has_a_raw_topic_with_schemas() -> None:
    for source in source_names():
        topic = CATALOG.raw(source)
        assert topic.layer is Layer.RAW and topic.source == source
        assert topic.key_schema is not None and topic.value_schema is not None
        assert topic.value_subject == f"{topic.name}-value"


def test_grade_is_the_highest_field_grade() -> None:
    # Residents carry citizen ID numbers, annotated core.
    assert CATALOG.raw("household.resident").grade is Grade.CORE


def test_compacted_topics_keep_tombstones_a_while() -> None:
    for topic in CATALOG.all:
        config = topic.kafka_config()
        assert config["cleanup.policy"] == topic.cleanup
        if topic.cleanup is Cleanup.COMPACT:
            assert int(config["delete.retention.ms"]) > 0


def test_by_name_with_or_without_the_namespace() -> None:
    assert CATALOG.by_name("quality.findings") is CATALOG.quality
    assert CATALOG.by_name("unit.audit.events") is CATALOG.audit


def test_unknown_names_say_what_is_known() -> None:
    with pytest.raises(KeyError, match="known topics"):
        CATALOG.by_name("raw.nope")
    with pytest.raises(KeyError, match="known sources"):
        CATALOG.raw("nope.nope")
