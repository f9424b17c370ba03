from __future__ import annotations

import pytest

pytest.importorskip("faust", reason="the subscriber kit needs the faust extra")

from connectors.subscriber.app import subscriber_app
from connectors.subscriber.codec import ConfluentAvroCodec
from ops.settings import Settings
from topics.serde import AvroEncoder

SCHEMA = {"type": "record", "name": "Licence", "fields": [{"name": "number", "type": "string"}]}


def test_the_codec_decodes_the_confluent_framing_and_refuses_to_write() -> None:
    import json

    codec = ConfluentAvroCodec(lambda schema_id: json.dumps(SCHEMA))
    message = AvroEncoder(SCHEMA, 7).encode({"number": "L-1"})
    assert codec.loads(message) == {"number": "L-1"}
    with pytest.raises(TypeError, match="does not write"):
        codec.dumps({"number": "L-1"})


def test_the_app_is_the_department_in_its_group_namespace_and_creates_no_leader_topic() -> None:
    # Plaintext: the app is only built here, it never connects (no CA to trust).
    settings = Settings(kafka_security="plaintext", topic_namespace="t1.")
    app = subscriber_app(settings, "licence", "expiry")
    assert app.conf.id == "t1.consumer-licence-expiry"
    assert app.conf.topic_disable_leader


def test_records_are_made_from_the_schema() -> None:
    from connectors.subscriber.records import record_class

    schema = {"type": "record", "name": "Thing", "fields": [
        {"name": "valid_until", "type": ["null", "string"]},
        {"name": "number", "type": "string"},
        {"name": "version", "type": "long", "default": 0},
    ]}
    thing = record_class(schema)
    made = thing.from_data({"number": "L-1", "valid_until": "2027-01-01"})
    assert (made.number, made.valid_until, made.version) == ("L-1", "2027-01-01", 0)
    assert thing.__name__ == "Thing"
