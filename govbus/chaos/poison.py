"""Input no department should send, sent beside the simulator's own defects (which are valid
Avro with invalid fields: check characters, dates, phones): bytes that are not Avro, an
unknown schema id, a truncated record, and a valid change event that no stage can take (an
update without its row)."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping

from confluent_kafka import Producer

from govbus.wiring import registry
from ops.kafka_client import as_principal
from ops.settings import Settings
from topics.catalog import catalog_for
from topics.principals import publisher
from topics.schemas import change_event_schema, row_spec
from topics.serde import AvroEncoder

UNKNOWN_SCHEMA_ID = 2_000_000_000
KINDS = ("garbage", "unknown_schema_id", "truncated", "no_row")


def poisoner(settings: Settings, producers: Mapping[str, Producer], every: int = 100
             ) -> Callable[[int], None]:
    """Called with each change's index: one in ``every`` is followed by a poison message,
    the kinds in turn, on the source tables in turn (``producers``: by source, connected as
    its department's publisher)."""
    sources = sorted(producers)
    catalog = catalog_for(settings)
    encoders = {}
    for source in sources:
        schema = change_event_schema(source)
        schemas = registry(as_principal(settings, publisher(row_spec(source).dept)))
        encoders[source] = AvroEncoder(
            schema, schemas.register(catalog.raw(source).value_subject, schema)).encode
    made = [0]

    def after(index: int) -> None:
        if index % every != every // 2:
            return
        n = made[0]
        made[0] += 1
        source = sources[n % len(sources)]
        spec = row_spec(source)
        now_ms = int(time.time() * 1000)
        valid = encoders[source]({
            "before": None, "after": None, "op": "u", "ts_ms": now_ms,
            "event_id": f"poison-{n}",
            "source": {"dept": spec.dept, "system": spec.system, "table": spec.table,
                       "sequence": f"poison-{n}", "ts_ms": now_ms, "snapshot": "false"}})
        value = {
            "garbage": b"\xde\xad\xbe\xef not avro",
            "unknown_schema_id": b"\x00" + struct.pack(">I", UNKNOWN_SCHEMA_ID) + valid[5:],
            "truncated": valid[: max(6, len(valid) // 3)],
            "no_row": valid,
        }[KINDS[n % len(KINDS)]]
        producers[source].produce(catalog.raw(source).name, value=value, key=b"poison")

    return after
