"""The benchmark's synthetic profiles fit the catalog's schema and its table."""

from __future__ import annotations

import random

from govbus.bench.sink_from_topic import individual_profile, profiles
from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.tables import profile_table
from topics.annotations import Category
from topics.catalog import catalog_in
from topics.schemas import schema_text
from topics.serde import AvroDecoder, AvroEncoder


def test_profiles_encode_decode_and_build() -> None:
    catalog = catalog_in("unit.")
    schema = catalog.theme(Category.INDIVIDUAL).value_schema()  # type: ignore[misc]
    encoder = AvroEncoder(schema, 1)
    decoder = AvroDecoder(lambda _id: schema_text(schema))
    records = [decoder.decode(encoder.encode(r)) for r in profiles(50)]
    assert len({r["person_key"] for r in records}) == 50
    spec = profile_table(catalog, Category.INDIVIDUAL, "bench").spec
    table = ArrowBatchBuilder(spec).build(records, "t", 0, list(range(50)), 1, "t/0/0-49")
    assert table.num_rows == 50
    assert individual_profile(3, random.Random(1))["person_key"] != individual_profile(
        4, random.Random(1))["person_key"]
