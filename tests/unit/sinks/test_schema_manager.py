"""Creating, re-applying and evolving tables and views on the real engine."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from sinks.clickhouse.chdb_backend import ChdbBackend
from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.schema_manager import SchemaManager, TableConflictError


def test_created_table_matches_its_spec_exactly(
    engine: ChdbBackend, profile_spec: TableSpec
) -> None:
    manager = SchemaManager(engine)
    plan = manager.ensure_table(profile_spec)
    assert plan.is_empty
    existing = manager.existing_columns(profile_spec.database, profile_spec.name)
    assert list(existing) == [c.name for c in profile_spec.columns]
    # Applying again is a no-op, and the server's own type spelling compares equal.
    assert manager.ensure_table(profile_spec).is_empty


def test_new_optional_field_adds_a_nullable_column(
    engine: ChdbBackend, profile_spec: TableSpec
) -> None:
    manager = SchemaManager(engine)
    manager.ensure_table(profile_spec)
    schema = copy.deepcopy(dict(profile_spec.schema))
    schema["fields"].append({"name": "nickname", "type": ["null", "string"], "default": None})
    plan = manager.ensure_table(replace(profile_spec, schema=schema))
    assert [c.name for c in plan.add] == ["nickname"]
    existing = manager.existing_columns(profile_spec.database, profile_spec.name)
    assert existing["nickname"] == "Nullable(String)"


def test_changed_type_is_refused_with_the_fix(engine: ChdbBackend, profile_spec: TableSpec) -> None:
    manager = SchemaManager(engine)
    manager.ensure_table(profile_spec)
    schema = copy.deepcopy(dict(profile_spec.schema))
    for field in schema["fields"]:
        if field["name"] == "score":
            field["type"] = ["null", "float"]
    with pytest.raises(TableConflictError, match="MODIFY COLUMN `score` Nullable"):
        manager.ensure_table(replace(profile_spec, schema=schema))


def test_registered_views_apply_idempotently_and_follow_redefinition(
    engine: ChdbBackend, profile_spec: TableSpec
) -> None:
    manager = SchemaManager(engine)
    manager.ensure_table(profile_spec)
    db = profile_spec.database
    manager.register_view(
        db, "live_person", f"SELECT person_key FROM {profile_spec.qualified_name} FINAL"
    )
    assert manager.apply_statements() == (f"view:{db}.live_person",)
    assert manager.apply_statements() == (f"view:{db}.live_person",)
    manager.register_view(
        db, "live_person", f"SELECT person_key, version FROM {profile_spec.qualified_name} FINAL"
    )
    manager.apply_statements()
    assert list(manager.existing_columns(db, "live_person")) == ["person_key", "version"]
