"""The two-schema-versions fault's pure parts: the next version of a row schema, which rows
go through its producer, and what that producer is given; and the raw layer taking both
versions alike."""

from __future__ import annotations

import copy
from typing import Any

from govbus.chaos.versions import ADDED_FIELD, TwoVersions, next_version, on_new_version
from ops.runtime.messages import InputMessage
from streams.processors.raw import RawLayerProcessor
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.doubles import CapturingOutput, MemoryRegistry
from tests.unit.streams.samples import RAW_ROWS
from topics.catalog import catalog_in
from topics.schemas import envelope_of, row_schema
from topics.serde import AvroDecoder, AvroEncoder

CATALOG = catalog_in("unit.")
SOURCE = "household.resident"
ROW = RAW_ROWS[SOURCE]


def test_the_next_version_adds_one_optional_field_and_leaves_the_declared_one_alone() -> None:
    declared = row_schema(SOURCE)
    before = copy.deepcopy(declared)
    newer = next_version(declared)
    assert declared == before
    assert newer["fields"][:-1] == declared["fields"]
    added = newer["fields"][-1]
    assert added["name"] == ADDED_FIELD and added["default"] is None
    assert added["type"] == ["null", "string"]


def test_rows_are_split_between_the_versions_by_key_and_stay_with_one() -> None:
    keys = [{"resident_id": f"R{i}"} for i in range(1000)]
    chosen = [on_new_version(k) for k in keys]
    assert 400 < sum(chosen) < 600
    assert chosen == [on_new_version(k) for k in keys]


class _Publisher:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sent: list[dict[str, Any]] = []

    def publish(self, op: str, **event: Any) -> str:
        self.sent.append({"op": op, **event})
        return "id"


def test_the_new_version_s_rows_carry_the_id_number_in_the_undeclared_field() -> None:
    old, new = _Publisher(SOURCE), _Publisher(SOURCE)
    both = TwoVersions(old, new)  # type: ignore[arg-type]
    for i in range(20):
        row = {**ROW, "resident_id": f"R{i}"}
        both.publish("u", before=row, after=row, sequence=str(i))
    assert old.sent and new.sent
    assert all(ADDED_FIELD not in e["after"] for e in old.sent)
    for event in new.sent:
        assert on_new_version({"resident_id": event["after"]["resident_id"]})
        for image in (event["before"], event["after"]):
            assert image[ADDED_FIELD] == ROW["id_number"]


def _envelope(row: dict[str, Any]) -> dict[str, Any]:
    return {"before": None, "after": row, "op": "c", "ts_ms": 1_000, "event_id": "e1",
            "source": {"dept": "household", "system": "hukou", "table": "resident",
                       "sequence": "1", "ts_ms": 1_000, "snapshot": "false"}}


def _older() -> dict[str, Any]:
    """A version before ``phone`` was added."""
    older = copy.deepcopy(row_schema(SOURCE))
    older["fields"] = [f for f in older["fields"] if f["name"] != "phone"]
    return older


def test_the_raw_layer_standardizes_every_version_alike_and_drops_the_undeclared_field(
) -> None:
    """Each version's event is resolved into the declared schema: the newer one's added
    field is left out, the older one's missing field takes its default."""
    registry = MemoryRegistry()
    subject = CATALOG.raw(SOURCE).value_subject
    outputs = []
    without_phone = {k: v for k, v in ROW.items() if k != "phone"}
    for schema, row in ((envelope_of(row_schema(SOURCE)), {**ROW, "phone": None}),
                        (envelope_of(next_version(row_schema(SOURCE))),
                         {**ROW, "phone": None, ADDED_FIELD: ROW["id_number"]}),
                        (envelope_of(_older()), without_phone)):
        output = CapturingOutput()
        processor = RawLayerProcessor(CATALOG, AvroDecoder(registry.schema_by_id),
                                      registry.register, Pseudonymizer(b"k", "k1"), output,
                                      clock_ms=lambda: 1_700_000_000_000)
        value = AvroEncoder(schema, registry.register(subject, schema)).encode(_envelope(row))
        stats = processor.process([InputMessage(CATALOG.raw(SOURCE).name, 0, 1, b"k", value)])
        assert stats.standardized == 1
        outputs.append(output.records)
    assert outputs[0] == outputs[1] == outputs[2]  # std, facts, findings byte for byte
    std = [v for t, _, v, _, _ in outputs[1] if t == CATALOG.std(SOURCE).name]
    assert std and all(ROW["id_number"].encode() not in (v or b"") for v in std)


def test_the_reconciliation_names_the_writer_schema_ids_of_each_raw_topic() -> None:
    from govbus.chaos.reconcile import writer_schema_ids
    from topics.reader import ReadMessage

    def read(topic: str, value: bytes | None) -> ReadMessage:
        return ReadMessage(topic, 0, 0, 0, None, None, {}, value)

    framed = [read("raw.a", b"\x00\x00\x00\x00\x07" + b"x"), read("raw.a", b"\x00\x00\x00\x00\x09"),
              read("raw.a", b"\x00\x00\x00\x00\x07"), read("raw.b", b"garbage"),
              read("raw.b", None)]
    assert writer_schema_ids(framed) == {"raw.a": [7, 9]}
