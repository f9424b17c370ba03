"""Chooses the engine from settings: a server URL means clickhouse-connect, else chDB."""

from __future__ import annotations

from pathlib import Path

from ops.settings import Settings
from sinks.clickhouse.backend import ClickHouseBackend

CHDB_FOLDER = "chdb"


def chdb_folder(settings: Settings) -> Path:
    """The embedded engine's data folder (one owner process at a time)."""
    return settings.state_dir / CHDB_FOLDER


def query_limits(settings: Settings) -> dict[str, int]:
    """The engine's own limits on a read-only connection: with readonly=1 no query may
    change them (the engine refuses any SETTINGS clause or SET)."""
    return {
        "max_execution_time": settings.query_max_execution_s,
        "max_result_rows": settings.query_max_result_rows,
    }


def open_backend(settings: Settings, read_only: bool = False) -> ClickHouseBackend:
    # Imported here so a process using one engine never loads the other's library.
    limits = query_limits(settings) if read_only else {}
    if settings.clickhouse_cluster and not settings.clickhouse_url:
        raise ValueError("GOVBUS_CLICKHOUSE_CLUSTER needs GOVBUS_CLICKHOUSE_URL: chDB is one node")
    if settings.clickhouse_url:
        from sinks.clickhouse.server_backend import ServerBackend

        return ServerBackend(settings.clickhouse_url, read_only=read_only, limits=limits)
    from sinks.clickhouse.chdb_backend import ChdbBackend

    return ChdbBackend(chdb_folder(settings), read_only=read_only, limits=limits)
