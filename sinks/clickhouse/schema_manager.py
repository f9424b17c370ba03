"""Brings the engine's databases, tables and views in line with the specs, idempotently.

Safe to run at every start and before every insert of a newer schema: it creates what is
missing, adds columns for new fields, and refuses (with the statements to run) when an
existing column's type no longer matches.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinks.clickhouse.backend import ClickHouseBackend
from sinks.clickhouse.ddl import (
    EvolutionPlan,
    TableSpec,
    add_column_statements,
    create_database_sql,
    create_table_statements,
    plan_evolution,
)
from sinks.clickhouse.sql import qualified, quote_identifier, quote_literal


class TableConflictError(RuntimeError):
    """An existing column's type differs from what the schema now says."""


@dataclass(frozen=True, slots=True)
class RegisteredStatement:
    name: str
    sql: str


class SchemaManager:
    """Applies table specs and registered extra statements (views) to one backend. With a
    ``cluster`` the tables are made on all its nodes: replicated, behind Distributed tables."""

    def __init__(self, backend: ClickHouseBackend, cluster: str | None = None) -> None:
        self._backend = backend
        self._cluster = cluster
        self._statements: dict[str, RegisteredStatement] = {}

    def existing_columns(self, database: str, table: str) -> dict[str, str]:
        result = self._backend.query(
            "SELECT name, type FROM system.columns "
            f"WHERE database = {quote_literal(database)} AND table = {quote_literal(table)} "
            "ORDER BY position"
        )
        return {str(name): str(type_) for name, type_ in result.rows}

    def ensure_table(self, spec: TableSpec) -> EvolutionPlan:
        """Create the database and table if missing, then add columns for new fields.

        Returns the plan that was applied (empty when the table was already current).
        """
        self._backend.execute(create_database_sql(spec.database, self._cluster))
        existing = self.existing_columns(spec.database, spec.name)
        if not existing:
            for statement in create_table_statements(spec, self._cluster):
                self._backend.execute(statement)
            existing = self.existing_columns(spec.database, spec.name)
        plan = plan_evolution(spec, existing)
        if plan.conflicts:
            fixes = "; ".join(
                f"ALTER TABLE {spec.qualified_name} MODIFY COLUMN "
                f"{quote_identifier(c.column)} {c.schema_type}"
                for c in plan.conflicts
            )
            detail = ", ".join(
                f"{c.column}: table {c.table_type}, schema {c.schema_type}" for c in plan.conflicts
            )
            raise TableConflictError(
                f"{spec.qualified_name} differs from its schema ({detail}); "
                f"migrate it deliberately, e.g. {fixes}"
            )
        for column in plan.add:
            for statement in add_column_statements(spec, column, self._cluster):
                self._backend.execute(statement)
        return plan

    def register_statement(self, name: str, sql: str) -> None:
        """Keep an extra statement to run on every apply; it must itself be idempotent
        (``CREATE ... IF NOT EXISTS`` or ``CREATE OR REPLACE``). A name registered again
        replaces the earlier statement."""
        self._statements[name] = RegisteredStatement(name, sql)

    def register_view(self, database: str, name: str, select_sql: str) -> None:
        """A view that follows its definition: replaced on every apply."""
        self.register_statement(
            f"view:{database}.{name}",
            f"CREATE OR REPLACE VIEW {qualified(database, name)} AS {select_sql}",
        )

    def apply_statements(self) -> tuple[str, ...]:
        """Run the registered statements in registration order; returns their names."""
        for statement in self._statements.values():
            self._backend.execute(statement.sql)
        return tuple(self._statements)
