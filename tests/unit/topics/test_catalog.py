"""The catalog declares each topic once, with grades derived from the schemas."""

from __future__ import annotations

import pytest

from topics.annotations import Grade
from topics.catalog import Cleanup, Layer, by_name, catalog, raw_topic
from topics.schemas import source_names


def test_names_are_unique() -> None:
    names = [t.name for t in catalog()]
    assert len(names) == len(set(names))


def test_every_source_has_a_raw_topic_with_schemas() -> None:
    for source in source_names():
        topic = raw_topic(source)
        assert topic.layer is Layer.RAW and topic.source == source
        assert topic.key_schema is not None and topic.value_schema is not None
        assert topic.value_subject == f"{topic.name}-value"


def test_grade_is_the_highest_field_grade() -> None:
    # Residents carry citizen ID numbers, annotated core.
    assert raw_topic("household.resident").grade is Grade.CORE


def test_compacted_topics_keep_tombstones_a_while() -> None:
    for topic in catalog():
        config = topic.kafka_config()
        assert config["cleanup.policy"] == topic.cleanup
        if topic.cleanup is Cleanup.COMPACT:
            assert int(config["delete.retention.ms"]) > 0


def test_unknown_names_say_what_is_known() -> None:
    with pytest.raises(KeyError, match="known topics"):
        by_name("raw.nope")
    with pytest.raises(KeyError, match="known sources"):
        raw_topic("nope.nope")
