"""`govbus query`'s path to the engine: refused statements, the sink's endpoint when one is
announced, the folder opened read-only when none is (a stale announcement is ignored)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.settings import Settings
from sinks.clickhouse.backend_factory import chdb_folder
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.query_server import QueryServer
from sinks.query_client import QueryError, endpoint_file, endpoint_url, run_query
from sinks.service import announce, withdraw


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def engine(state: Path) -> Iterator[ChdbBackend]:
    """The module's engine lives where the settings say the sink keeps it."""
    backend = ChdbBackend(state / "chdb")
    backend.execute("CREATE DATABASE IF NOT EXISTS q")
    backend.execute("CREATE TABLE IF NOT EXISTS q.t (n UInt32, s String) ENGINE = MergeTree "
                    "ORDER BY n")
    backend.execute("INSERT INTO q.t VALUES (1, 'a'), (2, 'b')")
    yield backend
    backend.close()


@pytest.fixture
def settings(state: Path, engine: ChdbBackend) -> Settings:
    assert chdb_folder(Settings(state_dir=state)) == engine.path
    return Settings(state_dir=state, clickhouse_url=None)


def test_writes_are_refused_before_reaching_any_engine(tmp_path: Path) -> None:
    nowhere = Settings(state_dir=tmp_path, clickhouse_url=None)
    for sql in ("DROP TABLE q.t", "INSERT INTO q.t VALUES (3, 'c')", "SELECT 1; SELECT 2"):
        with pytest.raises(QueryError) as refused:
            run_query(nowhere, sql)
        assert refused.value.refused
        assert str(refused.value).startswith("refused: ")
    with pytest.raises(QueryError, match="format must be one of"):
        run_query(nowhere, "SELECT 1", "xml")
    with pytest.raises(QueryError, match="sink migrate"):
        run_query(nowhere, "SELECT 1")


def test_direct_read_only_when_no_sink_announced(settings: Settings) -> None:
    assert endpoint_url(settings) is None
    body = run_query(settings, "SELECT n, s FROM q.t ORDER BY n", "jsoncompact")
    assert json.loads(body)["data"] == [[1, "a"], [2, "b"]]
    with pytest.raises(QueryError) as wrong:
        run_query(settings, "SELECT nope FROM q.t")
    assert not wrong.value.refused
    assert "\n" not in str(wrong.value)


def test_through_the_announced_endpoint(settings: Settings, engine: ChdbBackend) -> None:
    reader = ChdbBackend(engine.path, read_only=True)
    server = QueryServer(reader)
    server.start()
    path = announce(endpoint_file(settings), server.url)
    try:
        assert endpoint_url(settings) == server.url
        assert run_query(settings, "SELECT s FROM q.t ORDER BY n", "csv") == b'"s"\n"a"\n"b"\n'
        with pytest.raises(QueryError) as refused:
            # Past the client's own check, refused by the engine's read-only mode.
            run_query(settings, "SELECT * FROM q.t SETTINGS readonly = 0")
        assert refused.value.refused
    finally:
        withdraw(path, server.url)
        server.close()
        reader.close()
    assert not endpoint_file(settings).exists()


def test_a_stale_announcement_falls_back_to_the_folder(settings: Settings) -> None:
    path = announce(endpoint_file(settings), "http://127.0.0.1:9/")  # nothing listens there
    try:
        assert run_query(settings, "SELECT count() FROM q.t", "csv").split() == [b'"count()"', b"2"]
    finally:
        path.unlink()


def test_withdraw_leaves_a_newer_announcement(tmp_path: Path) -> None:
    path = announce(tmp_path / "run" / "sink-query.url", "http://127.0.0.1:1/")
    announce(path, "http://127.0.0.1:2/")
    withdraw(path, "http://127.0.0.1:1/")
    assert path.read_text().strip() == "http://127.0.0.1:2/"
