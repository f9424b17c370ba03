"""``govbus sink migrate``: the database, every sink table, the reference table and the views,
brought in line with the catalog's schemas. Idempotent: run it at every start."""

from __future__ import annotations

from dataclasses import dataclass

from sinks.clickhouse.backend import ClickHouseBackend
from sinks.clickhouse.ddl import create_database_sql
from sinks.clickhouse.divisions import DIVISIONS_TABLE, load_divisions
from sinks.clickhouse.kanon import DEFAULT_K
from sinks.clickhouse.schema_manager import SchemaManager
from sinks.clickhouse.tables import SinkTable
from sinks.clickhouse.views import create_view_sql, theme_views


@dataclass(frozen=True, slots=True)
class MigrationStep:
    """One object migrate looked at: what it is, what was done, and a detail."""

    name: str
    kind: str  # table | view | reference
    action: str  # created | evolved | current | replaced | loaded
    detail: str = ""


def migrate(
    backend: ClickHouseBackend,
    database: str,
    tables: tuple[SinkTable, ...],
    k: int = DEFAULT_K,
    cluster: str | None = None,
) -> list[MigrationStep]:
    """``tables``: what the sink fills (``sink_tables``); ``k``: counts below it are suppressed
    in the views, classes below it flagged."""
    manager = SchemaManager(backend, cluster)
    backend.execute(create_database_sql(database, cluster))
    steps: list[MigrationStep] = []
    for table in tables:
        spec = table.spec
        existed = bool(manager.existing_columns(spec.database, spec.name))
        plan = manager.ensure_table(spec)
        if not existed:
            steps.append(
                MigrationStep(spec.name, "table", "created", f"from {', '.join(table.topics)}")
            )
        elif plan.add:
            added = ", ".join(c.name for c in plan.add)
            steps.append(MigrationStep(spec.name, "table", "evolved", f"added {added}"))
        else:
            steps.append(MigrationStep(spec.name, "table", "current"))
    codes = load_divisions(backend, database)
    steps.append(MigrationStep(DIVISIONS_TABLE, "reference", "loaded", f"{codes} codes"))
    for view in theme_views(database, {t.spec.name: t.spec for t in tables}, k):
        manager.register_statement(f"view:{database}.{view.name}", create_view_sql(database, view))
        steps.append(MigrationStep(view.name, "view", "replaced", view.title))
    manager.apply_statements()
    return steps
