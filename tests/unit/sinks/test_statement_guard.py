"""The query endpoint's first line of defence: one read-only statement per request."""

from __future__ import annotations

import pytest

from sinks.clickhouse.statement_guard import RefusedStatementError, check_read_only


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select count() from govbus.person FINAL;  ",
        "-- who is here\nSELECT 1",
        "/* block\n comment */ WITH x AS (SELECT 1) SELECT * FROM x",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SHOW TABLES FROM govbus",
        "DESCRIBE TABLE govbus.person",
        "DESC govbus.person",
        "EXPLAIN SELECT 1",
        "EXISTS TABLE govbus.person",
        "SELECT 'it''s; DROP TABLE x' AS s",
        "SELECT 'a\\'; DROP' AS s",
        "SELECT `into`, outfile FROM t",
    ],
)
def test_read_statements_pass(sql: str) -> None:
    assert check_read_only(sql)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO t VALUES (1)", "not 'INSERT'"),
        ("DROP TABLE govbus.person", "not 'DROP'"),
        ("-- SELECT\nALTER TABLE t DELETE WHERE 1", "not 'ALTER'"),
        ("/* SELECT */ TRUNCATE TABLE t", "not 'TRUNCATE'"),
        ("SET readonly = 0", "not 'SET'"),
        ("SELECT 1; DROP TABLE t", "one statement"),
        ("SELECT 1 INTO OUTFILE 'x.csv'", "INTO OUTFILE"),
        ("select * from python(df)", "python()"),
        ("SELECT * FROM `python`(df)", "python()"),
        ("SELECT 'unterminated", "unterminated"),
        ("/* SELECT", "unterminated"),
        ("   ;  ", "empty"),
        ("# SELECT\nDROP TABLE t", "not '#'"),
    ],
)
def test_everything_else_is_refused(sql: str, reason: str) -> None:
    with pytest.raises(RefusedStatementError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_read_only(sql)
