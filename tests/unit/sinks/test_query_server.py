"""The read-only HTTP endpoint, served from the real engine on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from sinks.clickhouse.arrow_batch import ArrowBatchBuilder
from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.query_server import QueryServer
from sinks.clickhouse.schema_manager import SchemaManager
from tests.unit.sinks.samples import finding


@pytest.fixture
def server(engine: ChdbBackend, finding_spec: TableSpec) -> Iterator[QueryServer]:
    SchemaManager(engine).ensure_table(finding_spec)
    rows = [finding(i) for i in range(3)]
    data = ArrowBatchBuilder(finding_spec).build(rows, "q", 0, [0, 1, 2], 1)
    engine.insert_arrow(finding_spec.qualified_name, data, "seed")
    reader = ChdbBackend(engine.path, read_only=True)
    served = QueryServer(reader)
    served.start()
    yield served
    served.close()
    reader.close()


def test_select_as_json_and_csv(server: QueryServer, finding_spec: TableSpec) -> None:
    sql = f"SELECT event_id FROM {finding_spec.qualified_name} ORDER BY event_id"
    answer = httpx.get(server.url, params={"query": sql})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert [r["event_id"] for r in json.loads(answer.text)["data"]] == ["e0", "e1", "e2"]
    csv = httpx.post(server.url, params={"format": "csv"}, content=sql)
    assert csv.status_code == 200
    assert csv.text == '"event_id"\n"e0"\n"e1"\n"e2"\n'


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE {table}",
        "INSERT INTO {table} (event_id) VALUES ('x')",
        "SELECT 1; DROP TABLE {table}",
        "SELECT 1 INTO OUTFILE 'leak.csv'",
    ],
)
def test_writes_are_forbidden(server: QueryServer, finding_spec: TableSpec, sql: str) -> None:
    answer = httpx.post(server.url, content=sql.format(table=finding_spec.qualified_name))
    assert answer.status_code == 403
    assert answer.text.count("\n") == 1
    count = httpx.get(
        server.url, params={"query": f"SELECT count() AS n FROM {finding_spec.qualified_name}"}
    )
    assert int(json.loads(count.text)["data"][0]["n"]) == 3


def test_engine_refusal_of_readonly_breach_is_forbidden(server: QueryServer) -> None:
    # Passes the keyword check; the read-only connection refuses it.
    answer = httpx.get(server.url, params={"query": "SELECT * FROM file('secrets.txt')"})
    assert answer.status_code == 403
    assert "readonly" in answer.text


def test_bad_sql_and_bad_requests(server: QueryServer) -> None:
    assert httpx.get(server.url, params={"query": "SELECT nope_column"}).status_code == 400
    assert httpx.get(server.url).status_code == 400
    assert httpx.get(server.url, params={"query": "SELECT 1", "format": "xml"}).status_code == 400


def test_needs_a_read_only_backend(engine: ChdbBackend) -> None:
    with pytest.raises(ValueError, match="read-only"):
        QueryServer(engine)


def test_with_users_every_request_needs_credentials_and_is_reported(
        engine: ChdbBackend) -> None:
    from pydantic import SecretStr

    from sinks.clickhouse.query_server import QueryRecord

    records: list[QueryRecord] = []
    reader = ChdbBackend(engine.path, read_only=True,
                         limits={"max_execution_time": 1, "max_result_rows": 5})
    served = QueryServer(reader, users={"analyst": SecretStr("pw")}, on_query=records.append)
    served.start()
    try:
        assert httpx.get(served.url, params={"query": "SELECT 1"}).status_code == 401
        assert httpx.get(served.url, params={"query": "SELECT 1"},
                         auth=("analyst", "wrong")).status_code == 401
        ok = httpx.get(served.url, params={"query": "SELECT number FROM numbers(3)"},
                       auth=("analyst", "pw"))
        assert ok.status_code == 200
        # The engine's limits: result rows, time, and no query may lift them.
        for sql in ("SELECT number FROM numbers(10)", "SELECT count() FROM system.numbers",
                    "SELECT 1 SETTINGS max_result_rows = 100"):
            assert httpx.get(served.url, params={"query": sql},
                             auth=("analyst", "pw")).status_code == 403, sql
    finally:
        served.close()
        reader.close()
    assert [r.status for r in records] == [401, 401, 200, 403, 403, 403]
    assert records[2].user == "analyst" and records[2].rows == 3


def test_grants_let_each_user_read_only_its_libraries(engine: ChdbBackend,
                                                      finding_spec: TableSpec) -> None:
    """What a statement reads comes from the engine's analyzer: a CTE, a subquery or a
    view of a table not granted is refused before it runs; a granted view is readable
    without the table under it."""
    from pydantic import SecretStr

    from sinks.query_grants import QueryUser

    SchemaManager(engine).ensure_table(finding_spec)
    db, table = finding_spec.database, finding_spec.name
    engine.execute(f"CREATE VIEW IF NOT EXISTS `{db}`.v_counts AS "
                   f"SELECT count() AS n FROM {finding_spec.qualified_name}")
    engine.execute(f"CREATE TABLE IF NOT EXISTS `{db}`.latest (k String, v Int64) "
                   "ENGINE = ReplacingMergeTree(v) ORDER BY k")
    reader = ChdbBackend(engine.path, read_only=True)
    grants = {"viewer": QueryUser("viewer", ("v_*",), ""),
              "reader": QueryUser("reader", (table, "v_*", "latest"), "")}
    served = QueryServer(reader, users={u: SecretStr("pw") for u in (*grants, "nobody")},
                         grants=grants, database=db)
    served.start()

    def status(user: str, sql: str) -> int:
        return httpx.post(served.url, content=sql, auth=(user, "pw")).status_code

    try:
        assert status("viewer", f"SELECT n FROM `{db}`.v_counts") == 200
        assert status("viewer", f"SELECT count() FROM {finding_spec.qualified_name}") == 403
        assert status("viewer", f"WITH x AS (SELECT 1 FROM {finding_spec.qualified_name}) "
                                "SELECT count() FROM x") == 403
        assert status("viewer", f"SELECT 1 WHERE 1 IN (SELECT 1 FROM "
                                f"{finding_spec.qualified_name})") == 403
        assert status("viewer", f"DESCRIBE {finding_spec.qualified_name}") == 403
        assert status("viewer", "SELECT * FROM file('/etc/hostname', 'LineAsString')") == 403
        assert status("viewer", "SELECT count() FROM system.tables") == 403
        assert status("viewer", "SELECT 1") == 200
        assert status("reader", f"SELECT count() FROM {finding_spec.qualified_name}") == 200
        assert status("reader", f"SELECT count() FROM `{db}`.latest FINAL") == 200
        assert status("viewer", f"SELECT count() FROM `{db}`.latest FINAL") == 403
        assert status("nobody", "SELECT 1") == 403
        refused = httpx.post(served.url, content=f"SELECT * FROM {finding_spec.qualified_name}",
                             auth=("viewer", "pw"))
        assert refused.text.strip() == (f"user 'viewer' is not granted "
                                        f"{finding_spec.qualified_name.replace('`', '')} "
                                        "(granted: v_*)")
    finally:
        served.close()
        reader.close()
