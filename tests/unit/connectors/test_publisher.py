"""The publisher's checks, keying and envelope, without a broker (integration covers that)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.jsonl import publish_lines
from connectors.publisher import ChangeEventPublisher, RecordRejectedError
from tests.unit.streams.samples import RAW_ROWS
from topics.catalog import catalog_in
from topics.schemas import schema_text
from topics.serde import AvroDecoder

ROW = RAW_ROWS["household.resident"]


class RecordingProducer:
    """Stands in for librdkafka: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    def produce(self, topic: str, value: bytes | None, key: bytes, on_delivery: Any) -> None:
        self.sent.append((topic, key, value))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        return 0


class DictRegistry:
    """Stands in for the registry: ids by subject, texts by id."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}

    def register(self, subject: str, schema: dict[str, Any], compatibility: str | None) -> int:
        schema_id = len(self.texts) + 1
        self.texts[schema_id] = schema_text(schema)
        return schema_id


@pytest.fixture
def setup() -> tuple[ChangeEventPublisher, RecordingProducer, AvroDecoder]:
    producer, registry = RecordingProducer(), DictRegistry()
    publisher = ChangeEventPublisher(catalog_in("unit."), "household.resident",
                                     producer, registry)  # type: ignore[arg-type]
    return publisher, producer, AvroDecoder(registry.texts.__getitem__)


def test_create_is_keyed_by_primary_key(setup) -> None:
    publisher, producer, decoder = setup
    event_id = publisher.publish("c", after=ROW, sequence="5", source_ts_ms=123)
    [(topic, key, value)] = producer.sent
    assert topic == "unit.raw.household.resident"
    assert decoder.decode(key) == {"resident_id": ROW["resident_id"]}
    event = decoder.decode(value)
    assert event["after"] == ROW and event["before"] is None and event["op"] == "c"
    assert event["event_id"] == event_id
    assert event["source"] == {
        "dept": "household",
        "system": "hukou",
        "table": "resident",
        "sequence": "5",
        "ts_ms": 123,
        "snapshot": "false",
    }


def test_delete_is_followed_by_a_tombstone(setup) -> None:
    publisher, producer, _ = setup
    publisher.publish("d", before=ROW)
    assert [value is None for _, _, value in producer.sent] == [False, True]
    assert producer.sent[0][1] == producer.sent[1][1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"op": "x", "after": ROW}, "op 'x'"),
        ({"op": "c"}, "needs an after image"),
        ({"op": "u", "after": ROW}, "needs a before image"),
        ({"op": "c", "after": {**ROW, "shoe_size": 42}}, "shoe_size"),
        ({"op": "c", "after": {**ROW, "name": 42}}, "field 'name': 42 is not null or string"),
        ({"op": "c", "after": {**ROW, "resident_id": None}}, "resident_id"),
    ],
)
def test_misfits_are_rejected_before_sending(setup, kwargs, message) -> None:
    publisher, producer, _ = setup
    with pytest.raises(RecordRejectedError, match=message):
        publisher.publish(**kwargs)
    assert producer.sent == []


def test_jsonl_reports_bad_lines_and_sends_good_ones(setup) -> None:
    publisher, producer, _ = setup
    import json

    lines = [
        json.dumps(ROW),
        "{not json",
        json.dumps({"op": "u", "before": ROW, "after": {**ROW, "phone": "13900139000"}}),
        json.dumps({"op": "c", "after": {**ROW, "name": 1}}),
        "",
        json.dumps([1, 2]),
        json.dumps({"op": "c", "after": ROW, "colour": "red"}),
    ]
    report = publish_lines(publisher, lines)
    assert report.published == 2 and len(producer.sent) == 2
    assert [n for n, _ in report.bad_lines] == [2, 4, 6, 7]
    assert "not JSON" in report.bad_lines[0][1] and "colour" in report.bad_lines[3][1]
