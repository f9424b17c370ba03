"""The change-data-capture converter registers through the registry's own v2 API and frames
events with the Confluent wire format carrying the *content* id. The raw layer looks schemas up
through the Confluent-compatible API, so that API must resolve an id as a content id, not as a
global id. Registering the same content under a second subject makes the two ids differ.

The converter reaches the registry through its door (TLS, HTTP basic) like every client; the
admin registers here, as any principal allowed to write would."""

from __future__ import annotations

import io
import json
import ssl
import struct
import uuid

import fastavro
import httpx

from ops.access import ADMIN_PRINCIPAL, AccessFolder
from ops.kafka_client import as_principal, password_of, registry_config
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
    settings: Settings, artifact: str, schema: dict[str, object]
) -> dict[str, int]:
    v2_base = settings.registry_url.replace("/ccompat/v7", "/registry/v2")
    admin = as_principal(settings, ADMIN_PRINCIPAL)
    response = httpx.post(
        f"{v2_base}/groups/default/artifacts",
        params={"ifExists": "RETURN_OR_UPDATE", "canonical": "true"},
        headers={"X-Registry-ArtifactId": artifact, "X-Registry-ArtifactType": "AVRO"},
        content=json.dumps(schema),
        auth=(ADMIN_PRINCIPAL, password_of(admin, ADMIN_PRINCIPAL).get_secret_value()),
        verify=ssl.create_default_context(cafile=str(AccessFolder(settings).ca_file)),
        timeout=10,
    )
    response.raise_for_status()
    meta: dict[str, int] = response.json()
    return meta


def test_confluent_api_resolves_converter_ids_as_content_ids(stack: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    # A distinct record first, so this test's content id is not its global id.
    schema = {**ENVELOPE, "namespace": f"dept{tag}.public.resident"}
    _register_like_the_converter(stack, f"t{tag}.first-value", schema)
    second = _register_like_the_converter(stack, f"t{tag}.second-value", schema)
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
    registry = SchemaRegistry(registry_config(as_principal(stack, ADMIN_PRINCIPAL)))
    text = registry.schema_by_id(schema_id)
    record = fastavro.schemaless_reader(
        io.BytesIO(payload[5:]), fastavro.parse_schema(json.loads(text)), None
    )
    assert magic == 0
    assert record == {"id": "11010519491231002X", "born": 19000, "phone": None}
