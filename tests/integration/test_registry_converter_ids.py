"""The change-data-capture converter registers through the registry's own v2 API and frames
events with the Confluent wire format carrying the *content* id. The raw layer looks schemas up
through the Confluent-compatible API, so that API must resolve an id as a content id, not as a
global id. Registering the same content under a second subject makes the two ids differ."""

from __future__ import annotations

import io
import json
import struct
import uuid

import fastavro
import httpx

from ops.settings import Settings
from topics.registry import SchemaRegistry

ENVELOPE = {
    "type": "record",
    "name": "Envelope",
    "namespace": "dept.public.resident",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "born", "type": {"type": "int", "connect.name": "io.debezium.time.Date"}},
        {"name": "phone", "type": ["null", "string"], "default": None},
    ],
}


def _register_like_the_converter(
    v2_base: str, artifact: str, schema: dict[str, object]
) -> dict[str, int]:
    response = httpx.post(
        f"{v2_base}/groups/default/artifacts",
        params={"ifExists": "RETURN_OR_UPDATE", "canonical": "true"},
        headers={"X-Registry-ArtifactId": artifact, "X-Registry-ArtifactType": "AVRO"},
        content=json.dumps(schema),
        timeout=10,
    )
    response.raise_for_status()
    meta: dict[str, int] = response.json()
    return meta


def test_confluent_api_resolves_converter_ids_as_content_ids(stack: Settings) -> None:
    v2_base = stack.registry_url.replace("/ccompat/v7", "/registry/v2")
    tag = uuid.uuid4().hex[:8]
    # A distinct record first, so this test's content id is not its global id.
    schema = {**ENVELOPE, "namespace": f"dept{tag}.public.resident"}
    _register_like_the_converter(v2_base, f"t{tag}.first-value", schema)
    second = _register_like_the_converter(v2_base, f"t{tag}.second-value", schema)
    assert second["contentId"] != second["globalId"]

    framed = io.BytesIO()
    framed.write(struct.pack(">bI", 0, second["contentId"]))
    fastavro.schemaless_writer(
        framed,
        fastavro.parse_schema(schema),
        {"id": "11010519491231002X", "born": 19000, "phone": None},
    )

    payload = framed.getvalue()
    magic, schema_id = struct.unpack(">bI", payload[:5])
    text = SchemaRegistry(stack.registry_url).schema_by_id(schema_id)
    record = fastavro.schemaless_reader(
        io.BytesIO(payload[5:]), fastavro.parse_schema(json.loads(text)), None
    )
    assert magic == 0
    assert record == {"id": "11010519491231002X", "born": 19000, "phone": None}
