"""Every record type the bus publishes, as fields with what they reveal under a policy, and
the check that none narrows an identifier below its grade's minimum.

Lineage comes from the same declarations the stages run on: a std field is its raw field
(annotations) through the policy's operator (its declared revelation); a fact attribute or
theme attribute is the std fields the fact map reads for it, from every source that states
it (a profile shows the authority's value and keeps the others as candidates). The record
types published about a person are joinable on the person's pseudonym, so their union is
assessed too: what an analyst holding every library learns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from streams.stages.enrich.fact_map import FACT_MAP, fields_of
from streams.stages.masking.errors import DisclosureError
from streams.stages.masking.operators import REVEALS
from topics.annotations import Category
from topics.disclosure import (
    Assessment,
    Exposure,
    PublishedField,
    assess,
    combine,
    exposure,
    identifier_grades,
)
from topics.schemas import load_avsc, row_spec, source_names, std_row_schema

if TYPE_CHECKING:
    from streams.stages.masking.policy import Policy

JOINED: Final = "all records joined on the person's pseudonym"


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """A record type as published: its name and its fields' revelations."""

    name: str
    schema: str  # the Avro record it is written with (a ClickHouse table's source)
    fields: tuple[PublishedField, ...]


def full_name(schema: Mapping[str, Any]) -> str:
    return f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")


def std_exposures(source: str, policy: Policy) -> dict[str, Exposure]:
    """Per std field of a source, what it reveals under the policy."""
    exposures: dict[str, Exposure] = {}
    for field in row_spec(source).fields:
        for output in policy.outputs(field):
            exposures[output.name(field.name)] = exposure(
                field.pii, field.format, REVEALS[output.operator]
            )
    return exposures


def published_records(policy: Policy) -> tuple[PublishedRecord, ...]:
    """Std rows per source, facts per (source, entity role), theme profiles per category."""
    std = {source: std_exposures(source, policy) for source in source_names()}
    records = [
        PublishedRecord(
            f"std.{source}",
            full_name(std_row_schema(source)),
            tuple(PublishedField(name, seen) for name, seen in std[source].items()),
        )
        for source in source_names()
    ]
    theme: dict[Category, dict[str, list[Exposure]]] = {}
    for source, entities in FACT_MAP.items():
        for entity in entities:
            attributes = {
                attribute: combine(std[source].get(name, Exposure()) for name in fields_of(value))
                for attribute, value in entity.attributes.items()
            }
            records.append(
                PublishedRecord(
                    f"fact.{entity.category} ({source}, {entity.role})",
                    full_name(load_avsc("fact/fact.avsc")),
                    tuple(PublishedField(f"attributes.{a}", s) for a, s in attributes.items()),
                )
            )
            profile = theme.setdefault(entity.category, {})
            for attribute, seen in attributes.items():
                profile.setdefault(attribute, []).append(seen)
    records.extend(
        PublishedRecord(
            f"theme.{category}",
            full_name(load_avsc(f"theme/{category}.avsc")),
            tuple(PublishedField(a, combine(seen)) for a, seen in attributes.items()),
        )
        for category, attributes in theme.items()
    )
    return tuple(records)


def joined(records: Iterable[PublishedRecord], name: str = JOINED) -> PublishedRecord:
    """The union of record types an attacker can join (fields named ``record.field``)."""
    return PublishedRecord(
        name,
        "",
        tuple(
            PublishedField(f"{record.name}.{f.name}", f.exposure)
            for record in records
            for f in record.fields
            if f.exposure
        ),
    )


def assess_records(
    records: Iterable[PublishedRecord], policy: Policy
) -> tuple[Assessment, ...]:
    """Every identifier each record type reveals something of, against the policy's minimum."""
    grades = identifier_grades(
        (field.pii, field.grade) for source in source_names() for field in row_spec(source).fields
    )
    return tuple(
        assessment
        for record in records
        for assessment in assess(record.name, record.fields, grades, policy.min_candidates)
    )


def assess_policy(policy: Policy) -> tuple[Assessment, ...]:
    """The assessments of every published record type and of their join."""
    records = published_records(policy)
    return assess_records((*records, joined(records)), policy)


def unknown_lineage(policy: Policy) -> list[str]:
    """Fact map entries reading std fields the policy does not make: their fact and theme
    attributes cannot be assessed (and the fact stage would refuse to start)."""
    return [
        f"fact map {source}/{entity.role}.{attribute} reads {name!r}, which the policy "
        "does not make"
        for source, entities in FACT_MAP.items()
        for entity in entities
        for attribute, value in entity.attributes.items()
        for name in fields_of(value)
        if name not in std_exposures(source, policy)
    ]


def check_disclosure(policy: Policy, where: str = "policy") -> None:
    """Raises DisclosureError naming every record type and its fields below the minimum."""
    problems = [a.describe() for a in assess_policy(policy) if not a.passes]
    problems.extend(unknown_lineage(policy))
    if problems:
        raise DisclosureError(f"{where}: " + "; ".join(problems))

