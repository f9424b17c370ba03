"""Compiles ``fact_map.FACT_MAP`` into per-source extraction plans, checked against the schemas.

Everything that does not depend on the row is decided here once: getters for derived values,
which attributes are plain field copies (the common, cheapest case), the record key fields
and the department. A map entry naming a field the std schema lacks, or an attribute the
theme schema lacks, raises at start-up instead of silently producing nulls per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, NamedTuple

from streams.stages.enrich.fact_map import (
    FACT_MAP,
    Concat,
    Const,
    EntitySpec,
    Lookup,
    Text,
    Value,
    When,
    fields_of,
)
from streams.stages.enrich.theme_spec import theme_spec
from topics.annotations import DEPT
from topics.schemas import key_schema, std_row_schema

Row = Mapping[str, Any]
Getter = Callable[[Row], "str | None"]


class LinkPlan(NamedTuple):
    relation: str
    category: str
    key: Getter
    when: When | None


class EntityPlan(NamedTuple):
    role: str
    category: str
    entity_type: str
    key: Getter
    key_fields: str  # named in missing-key notes
    when: When | None
    direct: tuple[tuple[str, str], ...]  # (attribute, std field): copied as is
    computed: tuple[tuple[str, Getter], ...]
    links: tuple[LinkPlan, ...]


class SourcePlan(NamedTuple):
    source: str
    dept: str
    key_fields: tuple[str, ...]
    entities: tuple[EntityPlan, ...]


class FactMapError(ValueError):
    """The fact map does not fit the std or theme schemas."""


@cache
def source_plan(source: str) -> SourcePlan:
    """The checked plan of one source table; KeyError for a source the map does not cover."""
    specs = FACT_MAP[source]
    schema = std_row_schema(source)
    types = {f["name"]: f["type"] for f in schema["fields"]}
    key_fields = tuple(f["name"] for f in key_schema(source)["fields"])
    for name in key_fields:
        _check_field(source, name, types)
    entities = tuple(_entity_plan(source, spec, types) for spec in specs)
    return SourcePlan(source, str(schema[DEPT]), key_fields, entities)


def _entity_plan(source: str, spec: EntitySpec, types: Mapping[str, Any]) -> EntityPlan:
    where = f"{source}/{spec.role}/{spec.category}"
    known = theme_spec(spec.category).authority
    direct: list[tuple[str, str]] = []
    computed: list[tuple[str, Getter]] = []
    for attribute, value in spec.attributes.items():
        if attribute not in known:
            raise FactMapError(f"{where}: theme/{spec.category} has no attribute {attribute!r}")
        if isinstance(value, str) and _is_string(types.get(value)):
            direct.append((attribute, value))
        elif isinstance(value, str):
            raise FactMapError(f"{where}: {value} is not a string field; wrap it in Text")
        else:
            computed.append((attribute, compile_value(value, types, where)))
    for when in (spec.when, *(link.when for link in spec.links)):
        if when is not None:
            _check_field(where, when.field, types)
    links = tuple(
        LinkPlan(link.relation, str(link.category), compile_value(link.key, types, where),
                 link.when)
        for link in spec.links
    )
    return EntityPlan(
        role=spec.role,
        category=str(spec.category),
        entity_type=spec.entity_type,
        key=compile_value(spec.key, types, where),
        key_fields="+".join(fields_of(spec.key)),
        when=spec.when,
        direct=tuple(direct),
        computed=tuple(computed),
        links=links,
    )


def compile_value(value: Value, types: Mapping[str, Any], where: str) -> Getter:
    for name in fields_of(value):
        _check_field(where, name, types)
    if isinstance(value, str):
        return lambda row: row.get(value)
    if isinstance(value, Const):
        constant = value.value
        return lambda row: constant
    if isinstance(value, Concat):
        return _concat(value.parts)
    if isinstance(value, Lookup):
        field, table = value.field, value.table
        return lambda row: table.get(row.get(field))  # type: ignore[arg-type]
    if isinstance(value, Text):
        field = value.field
        return lambda row: as_text(row.get(field))
    return _choice(value.field, value.options)


def as_text(value: object) -> str | None:
    """Numbers as profile text: integral amounts without a trailing ``.0``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _concat(parts: tuple[Const | str, ...]) -> Getter:
    steps = tuple((isinstance(p, str), p if isinstance(p, str) else p.value) for p in parts)

    def get(row: Row) -> str | None:
        out = []
        for is_field, part in steps:
            if is_field:
                value = row.get(part)
                if value is None:
                    return None  # a key with a missing part would merge unrelated entities
                out.append(str(value))
            else:
                out.append(part)
        return "".join(out)

    return get


def _choice(field: str, options: Mapping[str, str]) -> Getter:
    def get(row: Row) -> str | None:
        source = options.get(row.get(field) or "")
        return None if source is None else row.get(source)

    return get


def _is_string(avro_type: Any) -> bool:
    return avro_type == "string" or (isinstance(avro_type, list) and "string" in avro_type)


def _check_field(where: str, name: str, types: Mapping[str, Any]) -> None:
    if name not in types:
        raise FactMapError(f"{where}: the std row has no field {name!r}")
