"""The raw layer reads Debezium's own events: the same change, written by the stock connector or
published through the SDK, gives the same std event, key and facts (doubles, no services)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ops.runtime.messages import InputMessage
from streams.processors.raw import RawLayerProcessor
from streams.stages.masking.pseudonym import Pseudonymizer
from tests.unit.streams.test_debezium import _date, _nullable, envelope_schema
from topics.catalog import catalog_in
from topics.cdc import department_table
from topics.schemas import change_event_schema, key_schema, schema_text
from topics.serde import AvroDecoder, AvroEncoder, schema_id_of

CATALOG = catalog_in("unit.")
TABLE = department_table("household.resident")
TOPIC = CATALOG.raw(TABLE.source).name
COLUMNS: list[dict[str, Any]] = [
    {"name": "rybh", "type": "string"},
    *({"name": c, "type": _nullable("string"), "default": None}
      for c in ("gmsfhm", "xm", "xb", "mz", "xzqh", "zz", "lxdh", "zt")),
    {"name": "csrq", "type": _nullable(_date()), "default": None},
    {"name": "djrq", "type": _nullable({"type": "long", "connect.version": 1,
                                         "connect.name": "io.debezium.time.MicroTimestamp"}),
     "default": None},
]
DEBEZIUM_VALUE = envelope_schema(COLUMNS)
DEBEZIUM_KEY = {"type": "record", "name": "Key", "namespace": TABLE.record_namespace,
                "connect.name": f"{TABLE.record_namespace}.Key",
                "fields": [{"name": "rybh", "type": "string"}]}

ROW = {"resident_id": "R1", "id_number": "11010519491231002X", "name": "张三", "sex": "1",
       "birth_date": "1949-12-31", "ethnicity": "01", "division_code": "110105",
       "address": "北京市朝阳区建国路88号", "phone": None, "status": "正常",
       "registered_date": "2024-01-02 03:04:05.123456"}
COLUMN_OF = {field: column for column, field in TABLE.renames.items()}


def department_row(row: dict[str, Any]) -> dict[str, Any]:
    """The govbus row as the department's table holds it, in Debezium's logical types."""
    values = {COLUMN_OF[f]: v for f, v in row.items()}
    values["csrq"] = (date.fromisoformat(row["birth_date"]) - date(1970, 1, 1)).days
    stamp = datetime.fromisoformat(row["registered_date"]) - datetime(1970, 1, 1)
    values["djrq"] = stamp.days * 86_400_000_000 + stamp.seconds * 1_000_000 + stamp.microseconds
    return values


class Registry:
    """Ids by content, as the registry gives them; the decoder fetches by id."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}

    def __call__(self, _subject: str, schema: dict[str, Any]) -> int:
        text = schema_text(schema)
        for schema_id, known in self.texts.items():
            if known == text:
                return schema_id
        self.texts[len(self.texts) + 1] = text
        return len(self.texts)

    def fetch(self, schema_id: int) -> str:
        return self.texts[schema_id]


class Output:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    def produce(self, topic: str, key: bytes | None, value: bytes | None,
                headers: Any = None) -> None:
        self.sent.append((topic, key, value))


class Department:
    """Writes one table's changes twice: as the connector does and as the SDK does."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.offset = 0
        self.dbz_value = AvroEncoder(DEBEZIUM_VALUE, registry("x-Envelope", DEBEZIUM_VALUE))
        self.dbz_key = AvroEncoder(DEBEZIUM_KEY, registry("x-Key", DEBEZIUM_KEY))
        envelope, keys = change_event_schema(TABLE.source), key_schema(TABLE.source)
        self.sdk_value = AvroEncoder(envelope, registry("raw-value", envelope))
        self.sdk_key = AvroEncoder(keys, registry("raw-key", keys))

    def message(self, key: bytes | None, value: bytes | None) -> InputMessage:
        self.offset += 1
        return InputMessage(TOPIC, 0, self.offset, key, value)

    def debezium(self, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
                 lsn: int) -> InputMessage:
        row = after or before
        assert row is not None
        value = {
            "before": before and department_row(before), "after": after and department_row(after),
            "op": op, "ts_ms": 1_700_000_000_500,
            "source": {"version": "3.6.1.Final", "connector": "postgresql", "name": "household",
                       "ts_ms": 1_700_000_000_000, "snapshot": "false", "db": "household",
                       "sequence": None, "schema": "public", "table": "hj_resident",
                       "txId": 7, "lsn": lsn},
        }
        return self.message(self.dbz_key.encode({"rybh": row["resident_id"]}),
                            self.dbz_value.encode(value))

    def sdk(self, op: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
            lsn: int) -> InputMessage:
        row = after or before
        assert row is not None
        value = {
            "before": before, "after": after, "op": op, "ts_ms": 1_700_000_000_500,
            "event_id": "",
            "source": {"dept": "household", "system": "hukou", "table": "resident",
                       "sequence": str(lsn), "ts_ms": 1_700_000_000_000, "snapshot": "false"},
        }
        return self.message(self.sdk_key.encode({"resident_id": row["resident_id"]}),
                            self.sdk_value.encode(value))


@pytest.fixture
def setup() -> tuple[RawLayerProcessor, Output, Department, AvroDecoder]:
    registry = Registry()
    output = Output()
    department = Department(registry)
    decoder = AvroDecoder(registry.fetch)
    processor = RawLayerProcessor(CATALOG, decoder, registry, Pseudonymizer(b"k" * 32, "k1"),
                                  output, clock_ms=lambda: 1_700_000_001_000)
    return processor, output, department, decoder


CHANGES: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = [
    ("c", None, ROW),
    ("u", ROW, {**ROW, "phone": "13900001111"}),
    ("c", None, {**ROW, "resident_id": "R2", "id_number": "110105491231002"}),
    ("d", {**ROW, "phone": "13900001111"}, None),
]


def _outputs(output: Output, decoder: AvroDecoder) -> list[tuple[str, Any, Any]]:
    """Every output decoded."""
    return [(topic, decoder.decode(key) if key is not None else None,
             decoder.decode(value) if value is not None else None)
            for topic, key, value in output.sent]


def test_debezium_and_the_sdk_give_the_same_std_events_keys_and_facts(setup: Any) -> None:
    processor, output, department, decoder = setup
    via_sdk = processor.process([department.sdk(op, b, a, lsn)
                                 for lsn, (op, b, a) in enumerate(CHANGES, 100)])
    from_sdk, output.sent = _outputs(output, decoder), []
    department.offset = 0  # the same topic positions, so the same event ids
    # A second bus: the first one's row tables hold these rows at these positions already.
    processor = RawLayerProcessor(CATALOG, processor.decoder, department.registry,
                                  Pseudonymizer(b"k" * 32, "k1"), output,
                                  clock_ms=lambda: 1_700_000_001_000)
    via_debezium = processor.process([department.debezium(op, b, a, lsn)
                                      for lsn, (op, b, a) in enumerate(CHANGES, 100)])
    from_debezium = _outputs(output, decoder)
    assert via_sdk.standardized == via_debezium.standardized == len(CHANGES)
    assert via_debezium.rejected == 0 and via_debezium.facts == via_sdk.facts > 0
    assert from_debezium == from_sdk
    std = [(key, value) for topic, key, value in from_debezium
           if topic == CATALOG.std(TABLE.source).name]
    assert [key for key, _ in std] == [{"resident_id": r} for r in ("R1", "R1", "R2", "R1")]
    # The std key is the govbus key, under the std topic's key schema, not Debezium's.
    std_keys = [key for topic, key, _ in output.sent if topic == CATALOG.std(TABLE.source).name]
    assert all(key is not None and schema_id_of(key) == department.sdk_key.schema_id
               for key in std_keys)
    assert std[1][1]["source"]["sequence"] == "101"  # the LSN orders one row's changes


def test_tombstones_and_truncates_are_filtered_with_their_reason(setup: Any) -> None:
    processor, _output, department, _ = setup
    delete = department.debezium("d", ROW, None, 5)
    truncate = department.dbz_value.encode({
        "before": None, "after": None, "op": "t", "ts_ms": 1,
        "source": {"version": "3", "connector": "postgresql", "name": "household", "ts_ms": 1,
                   "snapshot": "false", "db": "household", "sequence": None,
                   "schema": "public", "table": "hj_resident", "txId": 8, "lsn": 6}})
    stats = processor.process([delete, department.message(delete.key, None),
                               department.message(None, truncate)])
    assert stats.standardized == 1 and stats.filtered == 2
    assert stats.ignored == {("household", "debezium.tombstone"): 1,
                             ("household", "debezium.truncate"): 1}
    assert stats.outcomes[("household", "filtered")] == 2


def test_an_sdk_tombstone_still_passes_through_the_stage(setup: Any) -> None:
    processor, _, department, _ = setup
    key = department.sdk_key.encode({"resident_id": "R1"})
    stats = processor.process([department.message(key, None)])
    assert stats.filtered == 1 and not stats.ignored


def test_a_debezium_event_that_does_not_map_goes_to_the_dlq_with_its_reason(setup: Any) -> None:
    processor, output, department, _decoder = setup
    odd = department.dbz_value.encode({
        "before": None, "after": department_row(ROW), "op": "x", "ts_ms": 1,
        "source": {"version": "3", "connector": "postgresql", "name": "household", "ts_ms": 1,
                   "snapshot": "false", "db": "household", "sequence": None,
                   "schema": "public", "table": "hj_resident", "txId": 8, "lsn": 6}})
    message = department.message(None, odd)
    stats = processor.process([message])
    assert stats.rejected == 1 and stats.rejected_by_reason == {"debezium.unknown_op": 1}
    [(topic, _, value)] = output.sent
    assert topic.endswith("dlq.standardize") and value == odd  # the original bytes, unchanged
    assert stats.dead_letters[("household", "raw.decode", "debezium.unknown_op")] == 1


def _debezium_event(columns: list[dict[str, Any]], registry: Registry, row: dict[str, Any],
                    lsn: int) -> bytes:
    """An insert written under another version of the table's schema."""
    schema = envelope_schema(columns)
    names = {c["name"] for c in columns}
    return AvroEncoder(schema, registry("x-Envelope", schema)).encode({
        "before": None, "after": {k: v for k, v in row.items() if k in names}, "op": "c",
        "ts_ms": 1_700_000_000_500,
        "source": {"version": "3.6.1.Final", "connector": "postgresql", "name": "household",
                   "ts_ms": 1_700_000_000_000, "snapshot": "false", "db": "household",
                   "sequence": None, "schema": "public", "table": "hj_resident",
                   "txId": 9, "lsn": lsn}})


def test_a_column_added_at_the_source_is_left_out_and_reported(setup: Any) -> None:
    processor, output, department, decoder = setup
    widened = [*COLUMNS, {"name": "bz", "type": _nullable("string"), "default": None}]
    row = {**department_row({**ROW, "resident_id": "R7"}), "bz": "身份证号11010519491231002X"}
    before = department.debezium("c", None, ROW, 10)
    after = department.message(department.dbz_key.encode({"rybh": "R7"}),
                               _debezium_event(widened, department.registry, row, 11))
    stats = processor.process([before, after])
    assert stats.standardized == 2 and stats.rejected == 0  # nothing lost to the new column
    std = [decoder.decode(value) for topic, _, value in output.sent
           if topic == CATALOG.std(TABLE.source).name and value is not None]
    assert [e["after"]["resident_id"] for e in std] == ["R1", "R7"]
    assert "11010519491231002X" not in repr(std)  # the undeclared column is not carried
    assert REGISTRY.get_sample_value("govbus_source_undeclared_columns",
                                     {"table": TABLE.source}) == 1


def test_a_dropped_required_column_dead_letters_only_that_schemas_events(setup: Any) -> None:
    processor, output, department, _ = setup
    narrowed = [c for c in COLUMNS if c["name"] != "xm"]  # the name column, required
    dropped = department.message(
        department.dbz_key.encode({"rybh": "R8"}),
        _debezium_event(narrowed, department.registry,
                        department_row({**ROW, "resident_id": "R8"}), 12))
    stats = processor.process([dropped, department.debezium("c", None, ROW, 13)])
    # The declaration requires a name: the rules reject each such event, naming the field.
    assert stats.rejected_by_reason == {"required.missing": 1}
    assert stats.standardized == 1  # the table's events under its declared schema go on
    assert [t for t, _, _ in output.sent if t.endswith("dlq.standardize")] != []
