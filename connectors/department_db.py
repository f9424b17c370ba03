"""A department's own PostgreSQL tables, written as its system would write them: the change
events of a source become SQL inserts, updates and deletes on its declared table
(``topics/cdc.py``), under the department's column names. Debezium then carries each committed
change to the bus; nothing here talks to Kafka.

The tables are made from the same declarations: one column per field of the source's raw row
(renamed as declared), its primary key the declared key. Columns are ``text`` but for numbers:
a department system that checks nothing is what the simulator's injected defects stand for, so
a malformed date must reach the bus as sent, not be refused by the database. What the
database does refuse (a row without its key) is counted and reported, never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from connectors.publisher import DeliveryReport
from topics.annotations import FieldSpec
from topics.cdc import DepartmentTable
from topics.schemas import row_spec

_NUMBER_TYPES = {"int": "bigint", "long": "bigint", "float": "double precision",
                 "double": "double precision"}


def column_type(spec: FieldSpec) -> str:
    avro = spec.avro_type
    branch = next((t for t in avro if t != "null"), "string") if isinstance(avro, list) else avro
    return _NUMBER_TYPES.get(branch, "text") if isinstance(branch, str) else "text"


def create_table(table: DepartmentTable) -> sql.Composed:
    """The declared table, if it does not exist yet, with full before images (Debezium sends
    the whole old row of an update or delete: the raw layer retracts what it took away)."""
    name = sql.Identifier(table.schema, table.table)
    definitions = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(table.column_of(spec.name)),
                                sql.SQL(column_type(spec)))
        for spec in row_spec(table.source).fields)
    key = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, PRIMARY KEY ({})); "
                   "ALTER TABLE {} REPLICA IDENTITY FULL").format(name, definitions, key, name)


class TableWriter:
    """Applies one source's change events to its department table, one transaction each.

    Has the publisher's ``publish``/``poll``/``flush`` shape, so the simulator drives either.
    """

    def __init__(self, table: DepartmentTable, connection: psycopg.Connection[Any]) -> None:
        self.table = table
        self.connection = connection
        self.report = DeliveryReport()
        self._name = sql.Identifier(table.schema, table.table)
        self._key = list(table.key)
        self._key_fields = [table.field_of(c) for c in table.key]

    def publish(self, op: str, *, before: Mapping[str, Any] | None = None,
                after: Mapping[str, Any] | None = None, **_ignored: Any) -> str:
        """The change as the department's system makes it; the event's id, sequence and
        source time are the database's to assign (its LSN and commit time)."""
        self.report.sent += 1
        try:
            with self.connection.transaction():
                self._apply(op, before, after)
        except psycopg.Error as exc:
            self.report.failed += 1
            if len(self.report.errors) < 20:
                self.report.errors.append(
                    f"{self.table.source} {op}: {str(exc).splitlines()[0][:200]}")
        else:
            self.report.delivered += 1
        return ""

    def poll(self) -> None:
        """Each change commits as it is made: nothing waits."""

    def flush(self, timeout_s: float = 0.0) -> DeliveryReport:
        return self.report

    def _apply(self, op: str, before: Mapping[str, Any] | None,
               after: Mapping[str, Any] | None) -> None:
        if op == "d" or (op == "u" and before and after and self._moved(before, after)):
            assert before is not None
            self._delete(before)
        if after is not None:
            self._upsert(after)

    def _moved(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        return any(before.get(f) != after.get(f) for f in self._key_fields)

    def _upsert(self, row: Mapping[str, Any]) -> None:
        """Insert, or update the row with that key: a snapshot read or a repeated create
        states the row as it is now."""
        columns = [self.table.column_of(f) for f in row]
        others = [c for c in columns if c not in self._key]
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO {}").format(
            self._name,
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            sql.SQL(", ").join(map(sql.Identifier, self._key)),
            sql.SQL("UPDATE SET {}").format(sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others))
            if others else sql.SQL("NOTHING"))
        self.connection.execute(statement, list(row.values()))

    def _delete(self, row: Mapping[str, Any]) -> None:
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c))
                                      for c in self._key)
        self.connection.execute(sql.SQL("DELETE FROM {} WHERE {}").format(self._name, where),
                                [row.get(f) for f in self._key_fields])
