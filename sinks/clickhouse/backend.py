"""What the sink needs from a ClickHouse engine, embedded (chDB) or a server alike.

Both backends run the same SQL; they differ only in transport, and in how each reports a
failure, which they translate into the two errors below.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

# Server error codes that say "later may work" rather than "this statement is wrong".
RETRYABLE_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        999,  # KEEPER_EXCEPTION
    }
)
_CODE = re.compile(r"Code:\s*(\d+)")


class BackendError(RuntimeError):
    """A statement failed; ``retryable`` says whether running it again later may succeed."""

    def __init__(self, message: str, code: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable

    @classmethod
    def from_message(cls, message: str) -> BackendError:
        match = _CODE.search(message)
        code = int(match.group(1)) if match else None
        return cls(message, code, code in RETRYABLE_CODES)


class BackendUnavailableError(BackendError):
    """The engine cannot be reached at all (server down, connection refused)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, None, retryable=True)


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


class ClickHouseBackend(Protocol):
    """One engine session. Not shared between threads without the owner's consent."""

    read_only: bool

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing useful (DDL, ALTER)."""

    def query(self, sql: str) -> QueryResult:
        """Run a query and return its rows as Python values."""

    def query_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    def query_formatted(self, sql: str, fmt: str) -> bytes:
        """Run a query and return the engine's own rendering in ``fmt`` (JSON, CSVWithNames)."""

    def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> int:
        """Insert the rows of ``data`` into ``table`` (qualified, quoted) by column name.

        With a token, the engine drops an insert whose token it has already seen on that
        table (the table needs ``non_replicated_deduplication_window`` > 0). Returns the
        rows sent.
        """

    def close(self) -> None: ...


class SerializedBackend:
    """A backend shared by threads (the writers' insert threads and the consumer loop): one
    call at a time, since an engine session is not safe to use from two at once."""

    def __init__(self, inner: ClickHouseBackend) -> None:
        self.inner = inner
        self.read_only = inner.read_only
        self._lock = threading.RLock()

    def execute(self, sql: str) -> None:
        with self._lock:
            self.inner.execute(sql)

    def query(self, sql: str) -> QueryResult:
        with self._lock:
            return self.inner.query(sql)

    def query_arrow(self, sql: str) -> pa.Table:
        with self._lock:
            return self.inner.query_arrow(sql)

    def query_formatted(self, sql: str, fmt: str) -> bytes:
        with self._lock:
            return self.inner.query_formatted(sql, fmt)

    def insert_arrow(self, table: str, data: pa.Table, dedup_token: str | None = None) -> int:
        with self._lock:
            return self.inner.insert_arrow(table, data, dedup_token)

    def close(self) -> None:
        with self._lock:
            self.inner.close()
