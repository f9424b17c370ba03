"""Settings choose the engine: no URL means chDB in the state folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.settings import Settings
from sinks.clickhouse.backend_factory import CHDB_FOLDER, open_backend
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.server_backend import ServerBackend


def test_chdb_by_default(tmp_path: Path) -> None:
    backend = open_backend(Settings(state_dir=tmp_path))
    try:
        assert isinstance(backend, ChdbBackend)
        assert backend.path == tmp_path / CHDB_FOLDER
        assert backend.query("SELECT 1").rows == [(1,)]
    finally:
        backend.close()


def test_url_selects_the_client(tmp_path: Path) -> None:
    # clickhouse-connect's chDB transport stands in for a server URL.
    backend = open_backend(
        Settings(state_dir=tmp_path, clickhouse_url=f"chdb://{tmp_path / 'engine'}"),
        read_only=True,
    )
    try:
        assert isinstance(backend, ServerBackend)
        assert backend.read_only
        assert backend.query("SELECT 1").rows == [(1,)]
    finally:
        backend.close()


def test_a_cluster_needs_a_server(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GOVBUS_CLICKHOUSE_CLUSTER needs GOVBUS_CLICKHOUSE_URL"):
        open_backend(Settings(state_dir=tmp_path, clickhouse_cluster="govbus_cluster"))
