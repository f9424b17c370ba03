"""Department tables carried by change data capture, declared once beside the topic catalog.

A department table (its database, schema, table, primary key and column names) maps onto one
govbus source: the stock Debezium PostgreSQL connector reads the table's changes and writes
them, unchanged, to the source's raw topic. Everything else derives from a declaration: the
connector's name, replication slot and publication, the Kafka Connect principal's grants and
the registry artifacts the connector may write. Column renames say which govbus field a
department column is (the raw stage applies them); no department writes connector JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from topics.schemas import row_spec, source_names

# Debezium names its records <topic.prefix>.<schema>.<table>.Envelope (value) and .Key.
VALUE_RECORD = "Envelope"
KEY_RECORD = "Key"


@dataclass(frozen=True)
class DepartmentTable:
    """One department table and the govbus source it feeds."""

    source: str  # <dept>.<table> of avro_schemas/raw: the raw topic and the govbus row
    database: str
    table: str
    key: tuple[str, ...]  # primary key columns, the department's names
    schema: str = "public"
    # department column -> govbus field, for columns whose names differ
    renames: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.source not in source_names():
            raise ValueError(f"{self.source!r} is not a source in avro_schemas/raw")
        fields = {f.name for f in row_spec(self.source).fields}
        unknown = sorted(set(self.renames.values()) - fields)
        if unknown:
            raise ValueError(f"{self.source}: renames name no field of its row: {unknown}")
        for name in (self.database, self.schema, self.table, *self.key, *self.renames):
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise ValueError(f"{self.source}: {name!r} is not a plain lower-case identifier")

    @property
    def dept(self) -> str:
        return self.source.split(".", 1)[0]

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def topic_prefix(self) -> str:
        """Debezium's topic.prefix: it names the records (and so the registry groups)."""
        return self.dept

    @property
    def record_namespace(self) -> str:
        """The Avro namespace of Debezium's key and value records for this table."""
        return f"{self.topic_prefix}.{self.schema}.{self.table}"

    def connector_name(self, namespace: str) -> str:
        return f"{namespace}govbus-cdc.{self.source}"

    def slot_name(self, namespace: str) -> str:
        """Replication slot (and publication) name: PostgreSQL wants [a-z0-9_], 63 at most."""
        return re.sub(r"[^a-z0-9_]", "_", f"govbus_{namespace}{self.source}".lower())[:63]

    def field_of(self, column: str) -> str:
        """The govbus field a department column is."""
        return self.renames.get(column, column)

    def column_of(self, field_name: str) -> str:
        """The department column a govbus field is."""
        return next((c for c, f in self.renames.items() if f == field_name), field_name)


def _renames(**pairs: str) -> Mapping[str, str]:
    return MappingProxyType(pairs)


# The household registry's resident table has the pinyin-initial column names its system uses
# (GMSFHM 公民身份号码, XM 姓名, ...).
DEPARTMENT_TABLES: tuple[DepartmentTable, ...] = (
    DepartmentTable(
        source="household.resident",
        database="household",
        table="hj_resident",
        key=("rybh",),
        renames=_renames(
            rybh="resident_id",
            gmsfhm="id_number",
            xm="name",
            xb="sex",
            csrq="birth_date",
            mz="ethnicity",
            xzqh="division_code",
            zz="address",
            lxdh="phone",
            zt="status",
            djrq="registered_date",
        ),
    ),
    # The other three departments' tables keep the govbus field names.
    DepartmentTable(source="civil.marriage", database="civil", table="hy_marriage",
                    key=("registration_id",)),
    DepartmentTable(source="licence.licence", database="licence", table="zz_licence",
                    key=("licence_id",)),
    DepartmentTable(source="market.enterprise", database="market", table="qy_enterprise",
                    key=("enterprise_id",)),
)


def department_table(source: str) -> DepartmentTable:
    for table in DEPARTMENT_TABLES:
        if table.source == source:
            return table
    known = ", ".join(t.source for t in DEPARTMENT_TABLES)
    raise KeyError(f"no department table is declared for {source!r}; declared: {known}")
