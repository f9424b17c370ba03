"""Decoded Avro records + ingest metadata -> an Arrow table typed exactly as the table's DDL.

Built column by column from the spec (never by inferring types from rows), so the same
records always give the same table and ClickHouse never has to guess a conversion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sinks.clickhouse.columns import Column, Meta
from sinks.clickhouse.ddl import TableSpec


class BatchConversionError(ValueError):
    """A value that does not fit its column: a bug or a schema mismatch, never retryable."""


class ArrowBatchBuilder:
    """Builds insert-ready Arrow tables for one table spec."""

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.schema = spec.arrow_schema

    def build(
        self,
        rows: Sequence[Mapping[str, Any]],
        topic: str,
        partition: int,
        offsets: Sequence[int],
        ingested_ms: int,
        batch: str = "",
    ) -> pa.Table:
        """One row per record; ``offsets[i]`` is the Kafka offset of ``rows[i]``; ``batch``
        is the insert's deduplication token, stored with each row for recovery."""
        if len(rows) != len(offsets):
            raise ValueError(f"{len(rows)} rows but {len(offsets)} offsets")
        n = len(rows)
        arrays: list[pa.Array] = []
        for column in self.spec.columns:
            if column.meta is not None:
                arrays.append(
                    _meta_array(column, n, topic, partition, offsets, ingested_ms, batch)
                )
            else:
                arrays.append(_field_array(column, rows))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _meta_array(
    column: Column,
    n: int,
    topic: str,
    partition: int,
    offsets: Sequence[int],
    ingested_ms: int,
    batch: str,
) -> pa.Array:
    arrow = column.type.arrow
    constant: object
    if column.meta is Meta.OFFSET:
        return pa.array(offsets, arrow)
    if column.meta is Meta.TOPIC:
        constant = topic
    elif column.meta is Meta.PARTITION:
        constant = partition
    elif column.meta is Meta.BATCH:
        constant = batch
    else:
        constant = ingested_ms
    return pa.repeat(pa.scalar(constant, arrow), n)


def _field_array(column: Column, rows: Sequence[Mapping[str, Any]]) -> pa.Array:
    name = column.source_field
    kind = column.type
    values = [row.get(name) for row in rows]  # type: ignore[arg-type]
    if kind.convert is not None:
        convert = kind.convert
        values = [None if v is None else convert(v) for v in values]
    if not kind.nullable and kind.is_composite:
        # fill_null cannot fill lists, maps and structs, so they are filled before building.
        default = kind.default
        values = [default if v is None else v for v in values]
    try:
        array = pa.array(values, kind.arrow)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise BatchConversionError(f"column {column.name!r} ({kind.sql}): {exc}") from exc
    if not kind.nullable and array.null_count:
        array = pc.fill_null(array, pa.scalar(kind.default, kind.arrow))
    if kind.send_as is not None:
        array = array.cast(kind.send_as)
    return array
