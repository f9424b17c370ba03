"""The department tables the simulator writes, made from the source declarations."""

from __future__ import annotations

import pytest

from connectors.department_db import create_table
from topics.cdc import DEPARTMENT_TABLES, DepartmentTable, department_table
from topics.schemas import row_spec


@pytest.mark.parametrize("table", DEPARTMENT_TABLES, ids=lambda t: t.source)
def test_every_field_is_a_column_under_the_departments_name(table: DepartmentTable) -> None:
    ddl = create_table(table).as_string(None)
    column_of = {field: column for column, field in table.renames.items()}
    for spec in row_spec(table.source).fields:
        assert f'"{column_of.get(spec.name, spec.name)}" ' in ddl
    quoted = ", ".join(f'"{c}"' for c in table.key)
    assert f"PRIMARY KEY ({quoted})" in ddl
    assert "REPLICA IDENTITY FULL" in ddl  # whole before images for retractions


def test_numbers_are_numbers_and_everything_else_text_as_sent() -> None:
    ddl = create_table(department_table("market.enterprise")).as_string(None)
    assert '"registered_capital" double precision' in ddl
    assert '"established_date" text' in ddl  # a malformed date reaches the bus as sent
    assert '"csrq" text' in create_table(department_table("household.resident")).as_string(None)
