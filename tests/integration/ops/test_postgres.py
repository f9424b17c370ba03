"""The department PostgreSQL of the local stack: initialised, started, used and stopped, with
logical decoding on and nothing left running."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from ops.settings import PROJECT_ROOT, Settings
from ops.stack.postgres import PostgresServer
from ops.stack.process import pid_alive, port_in_use
from tests.integration.ops.conftest import free_port


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    # Under the project's state folder, not pytest's temporary one: the server's own user
    # must be able to reach its data folder, and pytest's is root's alone.
    state = PROJECT_ROOT / ".state" / "scratch" / f"pg-{uuid.uuid4().hex[:8]}"
    server = PostgresServer(Settings(state_dir=state, postgres_port=free_port()))
    yield server
    server.stop()
    shutil.rmtree(state, ignore_errors=True)


def test_starts_with_logical_decoding_takes_a_table_and_stops(postgres: PostgresServer) -> None:
    pid = postgres.start()
    assert postgres.sql("SHOW wal_level") == "logical"
    postgres.ensure_database("household")
    postgres.ensure_database("household")  # idempotent
    postgres.sql("CREATE TABLE resident (id text PRIMARY KEY, born date)", "household")
    postgres.sql("INSERT INTO resident VALUES ('11010519491231002X', '1949-12-31')", "household")
    assert postgres.sql("SELECT id, born FROM resident", "household") == (
        "11010519491231002X|1949-12-31"
    )
    assert postgres.start() == pid  # harmless when already up

    assert postgres.stop()
    assert not pid_alive(pid)
    assert not port_in_use(postgres.host, postgres.port)
    assert postgres.process.pid() is None


def test_a_restart_keeps_the_data(postgres: PostgresServer) -> None:
    postgres.start()
    postgres.sql("CREATE TABLE kept (n int)")
    postgres.sql("INSERT INTO kept VALUES (42)")
    postgres.stop()
    postgres.start()
    assert postgres.sql("SELECT n FROM kept") == "42"
