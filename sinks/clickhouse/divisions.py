"""The GB/T 2260 division names as a reference table, so views can name a district code.

Loaded from the code table the bus ships (``topics.codes``); the insert carries a token
derived from the table's content, so loading it again inserts nothing, and a changed code
table adds its new rows (ReplacingMergeTree by code keeps one row per code under FINAL).
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from sinks.clickhouse.backend import ClickHouseBackend
from sinks.clickhouse.sql import qualified, quote_literal
from topics.codes.divisions import division_table

DIVISIONS_TABLE = "ref_divisions"
TITLE = "GB/T 2260 行政区划代码 (administrative division codes and names)"


def create_divisions_sql(database: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS {qualified(database, DIVISIONS_TABLE)}
(
    `code` String,
    `name` String,
    `province` String,
    `prefecture` String,
    `full_name` String,
    `status` LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY code
SETTINGS non_replicated_deduplication_window = 100
COMMENT {quote_literal(TITLE)}"""


def division_rows() -> pa.Table:
    divisions = sorted(division_table(), key=lambda d: d.code)
    return pa.table(
        {
            "code": [d.code for d in divisions],
            "name": [d.name for d in divisions],
            "province": [d.province for d in divisions],
            "prefecture": [d.prefecture for d in divisions],
            "full_name": [d.full_name for d in divisions],
            "status": [str(d.status) for d in divisions],
        }
    )


def load_divisions(backend: ClickHouseBackend, database: str) -> int:
    """Create and fill the table (idempotent); returns the rows in the code table."""
    backend.execute(create_divisions_sql(database))
    rows = division_rows()
    digest = hashlib.sha256()
    for column in rows.columns:
        digest.update("\x1f".join(column.to_pylist()).encode())
    backend.insert_arrow(
        qualified(database, DIVISIONS_TABLE), rows, f"{DIVISIONS_TABLE}/{digest.hexdigest()[:16]}"
    )
    return int(rows.num_rows)
