"""A ClickHouse server over HTTP through clickhouse-connect; same SQL as the embedded engine.

Arrow goes in with ``insert_arrow`` (``INSERT ... FORMAT Arrow``), the deduplication token
as a per-insert setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from sinks.clickhouse.backend import BackendError, BackendUnavailableError, QueryResult


class ServerBackend:
    """A clickhouse-connect client; ``read_only`` sends ``readonly=1`` with every query."""

    def __init__(self, url: str, read_only: bool = False,
                 limits: Mapping[str, int] | None = None, **client_options: Any) -> None:
        self.read_only = read_only
        # Limits first: once readonly=1 applies, the server refuses to change a setting.
        self._settings: dict[str, Any] = {**(limits or {}), "readonly": 1} if read_only else {}
        try:
            self._client: Any = clickhouse_connect.get_client(dsn=url, **client_options)
        except OperationalError as exc:
            raise BackendUnavailableError(str(exc)) from exc
        except ClickHouseError as exc:
            raise BackendError.from_message(str(exc)) from exc

    def execute(self, sql: str) -> None:
        self._call(self._client.command, sql, settings=self._settings or None)

    def query(self, sql: str) -> QueryResult:
        result = self._call(self._client.query, sql, settings=self._settings or None)
        return QueryResult(tuple(result.column_names), [tuple(r) for r in result.result_rows])

    def query_arrow(self, sql: str) -> pa.Table:
        table = self._call(self._client.query_arrow, sql, settings=self._settings or None)
        if not isinstance(table, pa.Table):
            raise BackendError(f"server returned {type(table).__name__} for an Arrow query")
        return table

    def query_formatted(self, sql: str, fmt: str) -> bytes:
        data = self._call(self._client.raw_query, sql, fmt=fmt, settings=self._settings or None)
        return bytes(data)

    def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> int:
        if data.num_rows == 0:
            return 0
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else None
        self._call(self._client.insert_arrow, table, data, settings=settings)
        return int(data.num_rows)

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except OperationalError as exc:
            # The transport failed (refused, reset, timed out); the statement itself may
            # be fine, so the caller may retry.
            raise BackendUnavailableError(str(exc)) from exc
        except ClickHouseError as exc:
            raise BackendError.from_message(str(exc)) from exc

    def __enter__(self) -> ServerBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
