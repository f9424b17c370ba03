"""The two stages' flows (``topics/lineage.py``): raw -> std and facts, facts -> theme.

A fact attribute is made from std columns (the fact map), each made from a raw column (the
std schema), so the raw stage's fact columns name the raw columns and the operators that
desensitized them. A theme attribute merges the facts' attribute of the same name by
authority (一数一源).
"""

from __future__ import annotations

from collections import defaultdict
from types import MappingProxyType

from streams.stages.enrich.fact_map import FACT_MAP, fields_of
from streams.stages.enrich.theme_spec import theme_spec
from topics.annotations import Category
from topics.catalog import Catalog
from topics.lineage import Columns, ColumnSource, Flow, std_columns
from topics.schemas import source_names

MERGE = "merge_by_authority"


def raw_flow(catalog: Catalog) -> Flow:
    """The raw layer: every raw topic to its std topic, the fact topics, its dead letters and
    the quality findings."""
    sources = source_names()
    std = {source: std_columns(catalog, source) for source in sources}
    columns: dict[str, Columns] = {catalog.std(s).name: std[s] for s in sources}
    made: dict[str, dict[str, set[ColumnSource]]] = defaultdict(lambda: defaultdict(set))
    for source, entities in FACT_MAP.items():
        for entity in entities:
            attributes = made[catalog.fact(entity.category).name]
            for attribute, value in entity.attributes.items():
                for std_field in fields_of(value):
                    attributes[f"attributes.{attribute}"].update(std[source][std_field])
    for topic, attributes in made.items():
        columns[topic] = MappingProxyType(
            {name: tuple(sorted(made_from, key=_order)) for name, made_from in attributes.items()}
        )
    return Flow(
        job="raw",
        inputs=tuple(catalog.raw(s).name for s in sources),
        outputs=(*(catalog.std(s).name for s in sources),
                 *(catalog.fact(c).name for c in Category),
                 catalog.dlq("standardize").name, catalog.quality.name),
        columns=MappingProxyType(columns),
    )


def theme_flow(catalog: Catalog) -> Flow:
    """The theme layer: each category's facts merged into its profiles."""
    columns: dict[str, Columns] = {}
    for category in Category:
        facts = catalog.fact(category).name
        columns[catalog.theme(category).name] = MappingProxyType({
            attribute: (ColumnSource(facts, f"attributes.{attribute}", MERGE),)
            for attribute in theme_spec(category).attributes
        })
    return Flow(
        job="theme",
        inputs=tuple(catalog.fact(c).name for c in Category),
        outputs=(*(catalog.theme(c).name for c in Category), catalog.dlq("theme").name,
                 catalog.quality.name),
        columns=MappingProxyType(columns),
    )


def _order(source: ColumnSource) -> tuple[str, str]:
    return source.dataset, source.field
