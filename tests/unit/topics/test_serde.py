"""The Confluent wire format round-trips and rejects what it cannot read."""

from __future__ import annotations

import struct

import pytest

from tests.unit.streams.samples import RAW_ROWS
from topics.patience import RegistryUnavailableError
from topics.schemas import change_event_schema, schema_text
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
