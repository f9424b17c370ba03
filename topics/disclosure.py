"""The disclosure model: what published values reveal about the identifiers behind them, and
how many candidates that leaves an attacker who combines every field of a record.

Three declarations drive it, none of them about particular schemas:
- each identifier (citizen ID, phone, name, address) is a product of parts, each with the
  number of values it can take (a citizen ID: division x birth date x sex x sequence, plus
  a check character that the other parts determine);
- each annotated field value encodes aspects of identifiers (``ENCODES_BY_PII``,
  ``ENCODES_BY_FORMAT``): a birth date is the birth-date part of its person's citizen ID, a
  sex code its sex part, a division code or an address's district its division part;
- each masking operator declares which aspects of its input it reveals and how precisely
  (:data:`Reveal`, declared beside the operators).

A record's exposure is the most precise revelation of each part over all of its fields; the
candidates left are the product of what each part still allows, divided by the check
character's alphabet when that is revealed. Parts are counted as independent and uniform:
the count is what an attacker who knows the encoding but not the population is left with.
Every field value of a kind is attributed to every identifier of that kind in the record
(a record with two persons counts both persons' birth years against each): conservative.

What the model cannot count is data: the times a person is on record bound the birth date
from above, so a newborn registered days into the birth year is left with those days alone.
That depends on the row, not on the record type; ``topics/codes/id_candidates.py`` counts it
on published rows (``govbus privacy audit``), independently of this model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from math import prod
from types import MappingProxyType
from typing import Final

from topics.annotations import FieldFormat, Grade, Pii
from topics.codes.divisions import division_table


class Identifier(StrEnum):
    """The personal identifiers whose re-identification the model bounds."""

    CITIZEN_ID = "citizen_id"
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True)
class Part:
    """One part of an identifier and how many values it can take.

    A redundant part (a check character) is a function of the others: hidden it adds no
    candidates, revealed it keeps one candidate in ``cardinality``.
    """

    name: str
    cardinality: int
    redundant: bool = False


# Birth dates of living people: a hundred years of days.
BIRTH_DAYS: Final = 36_525
DAYS_IN_SHORTEST_MONTH: Final = 28
DAYS_IN_YEAR: Final = 365
# Order codes per sex per division and day: 001-997 odd (men), 002-998 even (women).
SEQUENCES_PER_SEX: Final = 499
# GB 2312 level-1 characters: the common ones a hidden given-name character may be.
COMMON_HAN: Final = 3_755
COMMON_SURNAMES: Final = 500
# Dwellings a district's addresses may name: a lower bound for a city district.
ADDRESSES_PER_DISTRICT: Final = 10_000


@cache
def _districts() -> int:
    return len(division_table().current_county_codes())


def parts(identifier: Identifier) -> tuple[Part, ...]:
    """The parts of an identifier, with their cardinalities."""
    if identifier is Identifier.CITIZEN_ID:
        return (
            Part("division", _districts()),
            Part("birth_date", BIRTH_DAYS),
            Part("sex", 2),
            Part("sequence", SEQUENCES_PER_SEX),
            Part("check", 11, redundant=True),
        )
    if identifier is Identifier.PHONE:
        # prefix: a mobile's first 3 digits or a landline's area code; the least the hidden
        # middle can be is 3 digits (a 7-digit local number behind a 3-digit area code).
        return (Part("prefix", 400), Part("middle", 1_000), Part("last4", 10_000))
    if identifier is Identifier.NAME:
        return (Part("surname", COMMON_SURNAMES), Part("given", COMMON_HAN))
    return (Part("district", _districts()), Part("detail", ADDRESSES_PER_DISTRICT))


# What a field's value encodes: its aspects, each naming the identifier parts it carries.
Aspects = Mapping[str, tuple[tuple[Identifier, str], ...]]


def _whole(identifier: Identifier, names: Iterable[str]) -> Aspects:
    return MappingProxyType({name: ((identifier, name),) for name in names})


_CITIZEN_ID_PARTS: Final = ("division", "birth_date", "sex", "sequence", "check")
ENCODES_BY_PII: Final[Mapping[Pii, Aspects]] = MappingProxyType(
    {
        Pii.NONE: MappingProxyType({}),
        Pii.ID_NUMBER: _whole(Identifier.CITIZEN_ID, _CITIZEN_ID_PARTS),
        Pii.BIRTH_DATE: MappingProxyType({"birth_date": ((Identifier.CITIZEN_ID, "birth_date"),)}),
        Pii.PHONE: _whole(Identifier.PHONE, ("prefix", "middle", "last4")),
        Pii.NAME: _whole(Identifier.NAME, ("surname", "given")),
        # The district of residence is, at worst, the division the citizen ID was issued in.
        Pii.ADDRESS: MappingProxyType(
            {
                "district": ((Identifier.ADDRESS, "district"), (Identifier.CITIZEN_ID, "division")),
                "detail": ((Identifier.ADDRESS, "detail"),),
            }
        ),
        # Free text may hold anyone's ID or phone number: what the scrubber finds in it.
        # Names in free text are measured by the scrubber's recall, not modelled here.
        Pii.FREE_TEXT: MappingProxyType(
            {
                **_whole(Identifier.CITIZEN_ID, _CITIZEN_ID_PARTS),
                **_whole(Identifier.PHONE, ("prefix", "middle", "last4")),
            }
        ),
    }
)
# Fields annotated pii "none" that still carry a part of a person's citizen ID.
ENCODES_BY_FORMAT: Final[Mapping[FieldFormat, Aspects]] = MappingProxyType(
    {
        FieldFormat.SEX_CODE: MappingProxyType({"sex": ((Identifier.CITIZEN_ID, "sex"),)}),
        FieldFormat.DIVISION_CODE: MappingProxyType(
            {"division": ((Identifier.CITIZEN_ID, "division"),)}
        ),
    }
)


def encodes(pii: Pii, fmt: FieldFormat | None) -> Aspects:
    """The aspects a field's value encodes, by its annotations."""
    by_pii = ENCODES_BY_PII[pii]
    if by_pii or fmt is None:
        return by_pii
    return ENCODES_BY_FORMAT.get(fmt, MappingProxyType({}))


# An operator's revelation: aspect -> values that aspect may still take once the output is
# seen (1: revealed exactly). Aspects it does not name stay hidden; ``ANY_ASPECT`` stands
# for every aspect (the value published as is).
Reveal = Mapping[str, int]
EXACT: Final = 1
ANY_ASPECT: Final = "*"
REVEALS_ALL: Final[Reveal] = MappingProxyType({ANY_ASPECT: EXACT})
REVEALS_NOTHING: Final[Reveal] = MappingProxyType({})

PartKey = tuple[Identifier, str]


@dataclass(frozen=True, slots=True)
class Exposure:
    """Per identifier part, the values it may still take; parts not named stay hidden."""

    parts: Mapping[PartKey, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.parts)

    def identifiers(self) -> frozenset[Identifier]:
        return frozenset(identifier for identifier, _ in self.parts)


def exposure(pii: Pii, fmt: FieldFormat | None, reveal: Reveal) -> Exposure:
    """What one published value reveals: its input's encoding seen through the operator."""
    revealed: dict[PartKey, int] = {}
    for aspect, carried in encodes(pii, fmt).items():
        left = reveal.get(aspect, reveal.get(ANY_ASPECT))
        if left is not None:
            for part in carried:
                revealed[part] = min(revealed.get(part, left), left)
    return Exposure(revealed)


def combine(exposures: Iterable[Exposure]) -> Exposure:
    """What several values published together reveal: each part at its most precise."""
    revealed: dict[PartKey, int] = {}
    for item in exposures:
        for part, left in item.parts.items():
            revealed[part] = min(revealed.get(part, left), left)
    return Exposure(revealed)


def candidates(identifier: Identifier, seen: Exposure) -> int:
    """How many identifiers fit what is revealed (at least 1)."""
    free = prod(
        min(seen.parts.get((identifier, p.name), p.cardinality), p.cardinality)
        for p in parts(identifier)
        if not p.redundant
    )
    constraints = prod(
        p.cardinality
        for p in parts(identifier)
        if p.redundant and seen.parts.get((identifier, p.name), p.cardinality) < p.cardinality
    )
    return max(1, free // constraints)


def revealed_parts(identifier: Identifier, seen: Exposure) -> tuple[str, ...]:
    """The parts an exposure narrows, as ``part`` (exact) or ``part~n`` (n values left)."""
    shown = []
    for p in parts(identifier):
        left = seen.parts.get((identifier, p.name))
        if left is not None and left < p.cardinality:
            shown.append(p.name if left == EXACT else f"{p.name}~{left}")
    return tuple(shown)


@dataclass(frozen=True, slots=True)
class PublishedField:
    """One field of a published record type and what its values reveal."""

    name: str
    exposure: Exposure


@dataclass(frozen=True, slots=True)
class Assessment:
    """One identifier in one published record type: what it reveals and what is left."""

    record: str
    identifier: Identifier
    grade: Grade
    revealed: tuple[str, ...]
    fields: tuple[str, ...]  # the fields that reveal something about it
    candidates: int
    threshold: int

    @property
    def passes(self) -> bool:
        return self.candidates >= self.threshold

    def describe(self, most_fields: int = 8) -> str:
        fields = list(self.fields[:most_fields])
        if len(self.fields) > most_fields:
            fields.append(f"... {len(self.fields) - most_fields} more")
        return (
            f"{self.record}: {self.identifier} left with {self.candidates:,} candidates "
            f"({'>=' if self.passes else '<'} {self.threshold:,}, {self.grade}) by "
            f"{', '.join(fields)} revealing {', '.join(self.revealed) or 'nothing'}"
        )


def assess(
    record: str,
    fields: Iterable[PublishedField],
    grades: Mapping[Identifier, Grade],
    thresholds: Mapping[Grade, int],
) -> tuple[Assessment, ...]:
    """Every identifier a record type reveals something of, with its candidate count."""
    fields = tuple(fields)
    seen = combine(f.exposure for f in fields)
    out = []
    for identifier in Identifier:
        if identifier not in seen.identifiers():
            continue
        grade = grades.get(identifier, Grade.CORE)
        out.append(
            Assessment(
                record=record,
                identifier=identifier,
                grade=grade,
                revealed=revealed_parts(identifier, seen),
                fields=tuple(f.name for f in fields if identifier in f.exposure.identifiers()),
                candidates=candidates(identifier, seen),
                threshold=thresholds.get(grade, 1),
            )
        )
    return tuple(out)


def identifier_grades(fields: Iterable[tuple[Pii, Grade]]) -> dict[Identifier, Grade]:
    """Each identifier's grade: the highest grade of any raw field holding all of it."""
    order = (Grade.GENERAL, Grade.IMPORTANT, Grade.CORE)
    grades: dict[Identifier, Grade] = {}
    for pii, grade in fields:
        for identifier in _held_whole(pii):
            grades[identifier] = max(grades.get(identifier, grade), grade, key=order.index)
    return grades


def _held_whole(pii: Pii) -> tuple[Identifier, ...]:
    """The identifiers a pii type's value is (free text merely may contain some)."""
    if pii is Pii.FREE_TEXT:
        return ()
    carried = {part for aspects in ENCODES_BY_PII[pii].values() for part in aspects}
    return tuple(
        identifier for identifier in Identifier
        if all((identifier, p.name) in carried for p in parts(identifier))
    )
