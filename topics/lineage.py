"""The bus's data flow, stage by stage: what each stage reads and writes, and how each
output column is made from input columns.

Derived, never typed: the std columns from the std schemas' ``govbus.derived_from`` and
``govbus.operator`` annotations, the fact and theme columns from the fact map and the theme
schemas (``streams/stages/lineage.py``), the library columns from the sink's tables
(``sinks/lineage.py``). A column made by a desensitizing operator is marked ``masking``, so
whoever reads the lineage sees where clear personal data stops. The command line turns a
flow into OpenLineage run events (``govbus/lineage.py``); this module knows nothing of
OpenLineage, so the wings below the command line do not depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from topics.annotations import DERIVED_FROM, OPERATOR
from topics.catalog import Catalog
from topics.schemas import std_row_schema

IDENTITY: Final = "identity"  # the column is copied as it is


@dataclass(frozen=True, slots=True)
class ColumnSource:
    """One input column an output column is made from, and how."""

    dataset: str  # a topic name, or database.table for a library
    field: str
    transformation: str = IDENTITY  # or the operator (``mask_name``, ``merge``, ...)
    masking: bool = False


Columns = Mapping[str, tuple[ColumnSource, ...]]  # output column -> what it is made from


@dataclass(frozen=True)
class Flow:
    """What one stage (a job) reads and writes. ``columns``: per output, its column lineage;
    ``tables``: the outputs that are ClickHouse libraries rather than topics."""

    job: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    columns: Mapping[str, Columns] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()


def std_columns(catalog: Catalog, source: str) -> Columns:
    """Each std column of ``source``: the raw column it was made from, and by which operator
    (every std operator desensitizes: masks, pseudonymizes or generalizes)."""
    raw = catalog.raw(source).name
    columns: dict[str, tuple[ColumnSource, ...]] = {}
    for column in std_row_schema(source)["fields"]:
        derived_from = column.get(DERIVED_FROM)
        columns[column["name"]] = (
            (ColumnSource(raw, str(derived_from), str(column[OPERATOR]), masking=True),)
            if derived_from else (ColumnSource(raw, column["name"]),)
        )
    return MappingProxyType(columns)
