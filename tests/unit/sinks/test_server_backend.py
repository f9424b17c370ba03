"""The clickhouse-connect backend, run against the embedded engine through clickhouse-connect's
chDB transport: same client calls as against a server, and the same SQL as ChdbBackend."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.backend import BackendError, BackendUnavailableError
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.server_backend import ServerBackend
from tests.unit.sinks.samples import finding


@pytest.fixture
def client(engine: ChdbBackend) -> Iterator[ServerBackend]:
    backend = ServerBackend(f"chdb://{engine.path}")
    yield backend
    backend.close()


def test_same_ddl_and_dedup_tokens(client: ServerBackend, finding_spec: TableSpec) -> None:
    SchemaManager(client).ensure_table(finding_spec)
    data = ArrowBatchBuilder(finding_spec).build(
        [finding(i) for i in range(20)], "q", 0, list(range(20)), 1
    )
    for token in ("q/0/0-19", "q/0/0-19", "other"):
        client.insert_arrow(finding_spec.qualified_name, data, token)
    result = client.query(f"SELECT count(), max(_offset) FROM {finding_spec.qualified_name}")
    assert result.rows == [(40, 19)]
    assert SchemaManager(client).ensure_table(finding_spec).is_empty


def test_read_only_refuses_writes(engine: ChdbBackend, finding_spec: TableSpec) -> None:
    SchemaManager(engine).ensure_table(finding_spec)
    reader = ServerBackend(f"chdb://{engine.path}", read_only=True)
    try:
        assert reader.query(f"SELECT count() FROM {finding_spec.qualified_name}").rows == [(0,)]
        with pytest.raises(BackendError) as refused:
            reader.execute(f"DROP TABLE {finding_spec.qualified_name}")
        assert refused.value.code == 164
    finally:
        reader.close()


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: connection refused.
    with pytest.raises(BackendUnavailableError) as down:
        ServerBackend(f"http://127.0.0.1:{port}", connect_timeout=1)
    assert down.value.retryable
