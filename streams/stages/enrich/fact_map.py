"""The one table of what each source's std row states: which entities, in which role, with
which profile attributes and links.

Data only: ``facts.FactExtractor`` compiles it into per-source plans once and checks it
against the std and theme schemas, so a misspelt field fails at start-up, not per event.
A value is a std field name (plain ``str``) or one of the small value forms below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from topics.annotations import Category

INDIVIDUAL, ORGANIZATION, THING, EVENT = (
    Category.INDIVIDUAL, Category.ORGANIZATION, Category.THING, Category.EVENT,
)


class Const(NamedTuple):
    """A fixed value."""

    value: str


class Concat(NamedTuple):
    """Parts joined: ``Const`` literals and field names; null when any field is null."""

    parts: tuple[Const | str, ...]


class Lookup(NamedTuple):
    """A field's value translated through a table; values outside it give null."""

    field: str
    table: Mapping[str, str]


class Text(NamedTuple):
    """A non-string field (a number) as text: profile attributes are strings."""

    field: str


class Choice(NamedTuple):
    """The value depends on a discriminating field (e.g. who holds a licence)."""

    field: str
    options: Mapping[str, str]  # discriminator value -> field name


Value = str | Const | Concat | Lookup | Text | Choice


def fields_of(value: Value) -> tuple[str, ...]:
    """The std fields a value reads."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Concat):
        return tuple(p for p in value.parts if isinstance(p, str))
    if isinstance(value, Lookup | Text):
        return (value.field,)
    if isinstance(value, Choice):
        return (value.field, *value.options.values())
    return ()


class When(NamedTuple):
    """A condition on the row: ``field`` equals ``equals``."""

    field: str
    equals: str


class LinkSpec(NamedTuple):
    relation: str
    category: Category
    key: Value
    when: When | None = None


class EntitySpec(NamedTuple):
    role: str
    category: Category
    entity_type: str
    key: Value
    attributes: Mapping[str, Value]
    links: tuple[LinkSpec, ...] = ()
    when: When | None = None


PERSON_HOLDER = When("holder_kind", "person")
ORGANIZATION_HOLDER = When("holder_kind", "organization")
MARRIAGE_KEY = Concat((Const("civil.marriage:"), "registration_id"))
LICENCE_KEY = Concat((Const("licence:"), "licence_type", Const(":"), "licence_no"))
MARITAL_STATUS = Lookup("kind", {"结婚": "married", "离婚": "divorced"})


def _marriage_party(role: str) -> EntitySpec:
    prefix = f"{role}_"
    return EntitySpec(
        role, INDIVIDUAL, "person", f"{prefix}id_number_pseudonym",
        {
            "id_masked": f"{prefix}id_number_masked",
            "name": f"{prefix}name_masked",
            "birth_year": f"{prefix}birth_date_year",
            "marital_status": MARITAL_STATUS,
        },
        (LinkSpec("event", EVENT, MARRIAGE_KEY),),
    )


FACT_MAP: dict[str, tuple[EntitySpec, ...]] = {
    "household.resident": (
        EntitySpec(
            "self", INDIVIDUAL, "person", "id_number_pseudonym",
            {
                "id_masked": "id_number_masked",
                "name": "name_masked",
                "sex": "sex",
                "birth_year": "birth_date_year",
                "ethnicity": "ethnicity",
                "division_code": "division_code",
                "district": "address_district",
                "phone_masked": "phone_masked",
                "household_status": "status",
            },
        ),
    ),
    "market.enterprise": (
        EntitySpec(
            "self", ORGANIZATION, "enterprise", "uscc",
            {
                "name": "name",
                "enterprise_type": "enterprise_type",
                "status": "status",
                "legal_rep_key": "legal_rep_id_number_pseudonym",
                "established_date": "established_date",
                "division_code": "division_code",
                "address": "address",
                "registered_capital": Text("registered_capital"),
            },
            (LinkSpec("legal_rep", INDIVIDUAL, "legal_rep_id_number_pseudonym"),),
        ),
        EntitySpec(
            "legal_rep", INDIVIDUAL, "person", "legal_rep_id_number_pseudonym",
            {"id_masked": "legal_rep_id_number_masked", "name": "legal_rep_name_masked"},
            (LinkSpec("enterprise", ORGANIZATION, "uscc"),),
        ),
    ),
    "licence.licence": (
        EntitySpec(
            "self", THING, "licence", LICENCE_KEY,
            {
                "thing_type": Const("licence"),
                "licence_type": "licence_type",
                "licence_no": "licence_no",
                "holder_kind": "holder_kind",
                "holder_key": Choice(
                    "holder_kind",
                    {"person": "holder_id_number_pseudonym", "organization": "holder_uscc"},
                ),
                "holder_name": "holder_name_masked",
                "issue_date": "issue_date",
                "expiry_date": "expiry_date",
                "issuing_authority": "issuing_authority",
                "status": "status",
            },
            (
                LinkSpec("holder", INDIVIDUAL, "holder_id_number_pseudonym", PERSON_HOLDER),
                LinkSpec("holder", ORGANIZATION, "holder_uscc", ORGANIZATION_HOLDER),
            ),
        ),
        EntitySpec(
            "holder", INDIVIDUAL, "person", "holder_id_number_pseudonym",
            {"id_masked": "holder_id_number_masked", "name": "holder_name_masked"},
            (LinkSpec("licence", THING, LICENCE_KEY),),
            PERSON_HOLDER,
        ),
        EntitySpec(
            # The holder may be any legal entity with a USCC, not only an enterprise.
            "holder", ORGANIZATION, "organization", "holder_uscc",
            {"name": "holder_name_masked"},
            (LinkSpec("licence", THING, LICENCE_KEY),),
            ORGANIZATION_HOLDER,
        ),
    ),
    "civil.marriage": (
        EntitySpec(
            "self", EVENT, "marriage", MARRIAGE_KEY,
            {
                "event_type": "kind",
                "registered_date": "registered_date",
                "office_division_code": "office_division_code",
                "certificate_no": "certificate_no",
            },
            (
                LinkSpec("participant", INDIVIDUAL, "party_a_id_number_pseudonym"),
                LinkSpec("participant", INDIVIDUAL, "party_b_id_number_pseudonym"),
            ),
        ),
        _marriage_party("party_a"),
        _marriage_party("party_b"),
    ),
}
