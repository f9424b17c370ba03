"""A test double for outages, wrapping the real engine (the engine itself is never faked)."""

from __future__ import annotations

import pyarrow as pa

from sinks.clickhouse.backend import BackendUnavailableError, QueryResult
from sinks.clickhouse.chdb_backend import ChdbBackend


class FlakyBackend:
    """The real engine behind a switch that makes inserts fail like a server going away.

    ``land_then_fail`` inserts for real and then reports failure: the acknowledgement lost
    on the way back, the case deduplication tokens exist for.
    """

    read_only = False

    def __init__(self, engine: ChdbBackend) -> None:
        self.engine = engine
        self.fail_inserts = 0
        self.land_then_fail = 0
        self.tokens: list[str | None] = []

    def execute(self, sql: str) -> None:
        self.engine.execute(sql)

    def query(self, sql: str) -> QueryResult:
        return self.engine.query(sql)

    def query_arrow(self, sql: str) -> pa.Table:
        return self.engine.query_arrow(sql)

    def query_formatted(self, sql: str, fmt: str) -> bytes:
        return self.engine.query_formatted(sql, fmt)

    def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> int:
        self.tokens.append(dedup_token)
        if self.fail_inserts:
            self.fail_inserts -= 1
            raise BackendUnavailableError("connection refused")
        rows = self.engine.insert_arrow(table, data, dedup_token)
        if self.land_then_fail:
            self.land_then_fail -= 1
            raise BackendUnavailableError("connection reset after the insert")
        return rows

    def close(self) -> None:
        pass
