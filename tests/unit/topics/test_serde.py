"""The Confluent wire format round-trips and rejects what it cannot read."""

from __future__ import annotations

import copy
import struct
from typing import Any

import pytest

from tests.unit.streams.samples import RAW_ROWS
from topics.patience import RegistryUnavailableError
from topics.schemas import change_event_schema, envelope_of, row_schema, schema_text
from topics.serde import AvroDecoder, AvroEncoder, UndecodableMessageError, schema_id_of

SOURCE = "household.resident"
ROW = RAW_ROWS["household.resident"]
EVENT = {
    "before": None,
    "after": ROW,
    "source": {
        "dept": "household",
        "system": "hukou",
        "table": "resident",
        "sequence": "7",
        "ts_ms": 1,
        "snapshot": "false",
    },
    "op": "c",
    "ts_ms": 2,
    "event_id": "e1",
}


def _codec(schema_id: int = 42) -> tuple[AvroEncoder, AvroDecoder]:
    schema = change_event_schema(SOURCE)
    texts = {schema_id: schema_text(schema)}
    return AvroEncoder(schema, schema_id), AvroDecoder(texts.__getitem__)


def _version(change: Any) -> dict[str, Any]:
    """The change-event schema of another version of the row schema (``change`` edits the
    row's field list in place)."""
    row = copy.deepcopy(row_schema(SOURCE))
    change(row["fields"])
    return envelope_of(row)


def _added(fields: list[dict[str, Any]]) -> None:
    fields.append({"name": "contact", "type": ["null", "string"], "default": None})


def _dropped(fields: list[dict[str, Any]]) -> None:
    fields[:] = [f for f in fields if f["name"] != "phone"]


def test_writers_of_other_versions_decode_into_the_declared_reader() -> None:
    declared = change_event_schema(SOURCE)
    newer, older = _version(_added), _version(_dropped)
    texts = {1: schema_text(declared), 2: schema_text(newer), 3: schema_text(older)}
    decoder = AvroDecoder(texts.__getitem__).resolving_into([declared])
    with_contact = {**EVENT, "after": {**ROW, "contact": "13800138000"}}
    without_phone = {**EVENT, "after": {k: v for k, v in ROW.items() if k != "phone"}}
    assert decoder.decode(AvroEncoder(declared, 1).encode(EVENT)) == EVENT
    # A field the declared schema lacks is skipped; one the writer lacks takes its default.
    assert decoder.decode(AvroEncoder(newer, 2).encode(with_contact)) == EVENT
    assert decoder.decode(AvroEncoder(older, 3).encode(without_phone)) == {
        **EVENT, "after": {**ROW, "phone": None}}
    # Without readers, each message as written.
    assert AvroDecoder(texts.__getitem__).decode(
        AvroEncoder(newer, 2).encode(with_contact)) == with_contact


def test_a_writer_of_another_name_decodes_as_written() -> None:
    other = {"type": "record", "name": "Envelope", "namespace": "pg.public.resident",
             "fields": [{"name": "op", "type": "string"}]}
    decoder = AvroDecoder({5: schema_text(other)}.__getitem__,
                          readers=[change_event_schema(SOURCE)])
    assert decoder.decode(AvroEncoder(other, 5).encode({"op": "c"})) == {"op": "c"}


def test_round_trip_with_confluent_framing() -> None:
    encoder, decoder = _codec()
    message = encoder.encode(EVENT)
    assert message[0] == 0 and struct.unpack(">I", message[1:5])[0] == 42
    assert schema_id_of(message) == 42
    assert decoder.decode(message) == EVENT


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"\x00\x00", "serde.too_short"),
        (b"\x01\x00\x00\x00\x2a\x00", "serde.bad_magic"),
        (b"\x00\x00\x00\x00\x07\x00", "serde.unknown_schema_id"),
        (b"\x00\x00\x00\x00\x2a\xff\xff", "serde.corrupt"),
    ],
)
def test_undecodable_bytes_name_their_reason(message: bytes, code: str) -> None:
    _, decoder = _codec()
    with pytest.raises(UndecodableMessageError) as caught:
        decoder.decode(message)
    assert caught.value.reason_code == code


@pytest.mark.parametrize("value", ["", "k1:abc", "licence:食品经营许可证:JY1", "x" * 300])
def test_string_fast_path_matches_fastavro(value: str) -> None:
    import io

    from fastavro import parse_schema, schemaless_writer

    schema = {"type": "string", "doc": "key"}
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(schema), value)
    encoded = AvroEncoder(schema, 7).encode(value)
    assert encoded[5:] == buffer.getvalue()
    assert AvroDecoder({7: '"string"'}.__getitem__).decode(encoded) == value


def test_a_registry_that_does_not_answer_is_waited_for_not_dead_lettered() -> None:
    encoder, _ = _codec()
    text = schema_text(change_event_schema(SOURCE))
    answers: list[BaseException | str] = [TimeoutError("read timed out"),
                                          ConnectionError("refused"), text]
    slept: list[float] = []

    def fetch(_schema_id: int) -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    decoder = AvroDecoder(fetch, sleep=slept.append)
    assert decoder.decode(encoder.encode(EVENT)) == EVENT
    assert slept == [0.5, 1.0]


def test_a_registry_away_too_long_is_an_infrastructure_fault() -> None:
    encoder, _ = _codec()
    now = [0.0]

    def fetch(_schema_id: int) -> str:
        raise ConnectionError("refused")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    decoder = AvroDecoder(fetch, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(RegistryUnavailableError):
        decoder.decode(encoder.encode(EVENT))
    assert now[0] >= 200
