"""The vocabulary of the ``govbus.*`` Avro annotations and their parsed form.

The schema is the one place that says what a field is: validation, desensitization,
catalog grading and ClickHouse column types all read these specs, never field names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar


class SchemaAnnotationError(ValueError):
    """A schema lacks an annotation or uses a value outside the vocabulary."""


class Pii(StrEnum):
    """What kind of personal data a field holds (drives desensitization)."""

    NONE = "none"
    ID_NUMBER = "id_number"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    BIRTH_DATE = "birth_date"
    FREE_TEXT = "free_text"


class Grade(StrEnum):
    """Data grade per GB/T 43697: core > important > general."""

    CORE = "core"
    IMPORTANT = "important"
    GENERAL = "general"


class FieldFormat(StrEnum):
    """Which national standard or format a field's value must follow (drives validation)."""

    CITIZEN_ID = "citizen_id"  # GB 11643
    USCC = "uscc"  # GB 32100
    DIVISION_CODE = "division_code"  # GB/T 2260
    SEX_CODE = "sex_code"  # GB/T 2261.1
    PHONE = "phone"  # mainland mobile or landline
    DATE = "date"  # ISO 8601 calendar date after cleaning


class Category(StrEnum):
    """The four 4360 theme categories."""

    INDIVIDUAL = "individual"
    ORGANIZATION = "organization"
    THING = "thing"
    EVENT = "event"


class Capture(StrEnum):
    """How a source's changes are captured (a source row schema's ``govbus.capture``)."""

    CDC = "cdc"  # a database's change log (Debezium): a snapshot reads the whole table
    FILE = "file"  # file imports: a file need not hold the whole table


PII = "govbus.pii"
GRADE = "govbus.grade"
FORMAT = "govbus.format"
REQUIRED = "govbus.required"
DEPT = "govbus.dept"
SYSTEM = "govbus.system"
TABLE = "govbus.table"
CATEGORY = "govbus.category"
CAPTURE = "govbus.capture"  # source row: a Capture; cdc when absent
# Source row: whether a finished snapshot run deletes the rows it did not read (true/false);
# when absent, true for cdc sources and false for file imports.
RECONCILE_SNAPSHOTS = "govbus.reconcile_snapshots"
AUTHORITY = "govbus.authority"  # theme attribute: the department whose value wins (一数一源)
ENTITY_KEY = "govbus.entity_key"  # theme field: the profile's entity key
LOWCARD = "govbus.lowcard"  # few distinct values: LowCardinality in ClickHouse
# A std field made by desensitization: the raw field it came from and the operator that made
# it (written by streams/stages/masking/std_schema.py; read by the resource catalog).
DERIVED_FROM = "govbus.derived_from"
OPERATOR = "govbus.operator"
# Published field that, combined with others, narrows down who a row is about (district,
# sex, birth month, ethnicity): measured for k-anonymity, see sinks/clickhouse/kanon.py.
QUASI = "govbus.quasi"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a record schema with its annotations."""

    name: str
    avro_type: Any
    pii: Pii
    grade: Grade
    format: FieldFormat | None
    required: bool
    doc: str
    nullable: bool

    @classmethod
    def from_avro(cls, record: str, field: Mapping[str, Any]) -> FieldSpec:
        name = field["name"]
        where = f"{record}.{name}"
        avro_type = field["type"]
        return cls(
            name=name,
            avro_type=avro_type,
            pii=_member(Pii, field.get(PII), f"{where}: {PII}"),
            grade=_member(Grade, field.get(GRADE), f"{where}: {GRADE}"),
            format=_member(FieldFormat, field[FORMAT], f"{where}: {FORMAT}")
            if FORMAT in field
            else None,
            required=bool(field.get(REQUIRED, False)),
            doc=str(field.get("doc", "")),
            nullable=isinstance(avro_type, list) and "null" in avro_type,
        )


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """A source row schema: its department, 4360 category and annotated fields."""

    full_name: str
    dept: str
    system: str
    table: str
    category: Category
    fields: tuple[FieldSpec, ...]
    capture: Capture = Capture.CDC
    reconcile_snapshots: bool = True  # a finished snapshot run deletes the rows it missed

    @classmethod
    def from_avro(cls, schema: Mapping[str, Any]) -> RecordSpec:
        full_name = f"{schema.get('namespace', '')}.{schema['name']}".lstrip(".")
        for key in (DEPT, SYSTEM, TABLE, CATEGORY):
            if key not in schema:
                raise SchemaAnnotationError(f"{full_name}: missing record annotation {key}")
        return cls(
            full_name=full_name,
            dept=str(schema[DEPT]),
            system=str(schema[SYSTEM]),
            table=str(schema[TABLE]),
            category=_member(Category, schema[CATEGORY], f"{full_name}: {CATEGORY}"),
            fields=tuple(FieldSpec.from_avro(full_name, f) for f in schema["fields"]),
            **_capture(full_name, schema),
        )

    def fields_grades(self) -> Iterator[Grade]:
        return (f.grade for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.full_name} has no field {name!r}")

    def by_pii(self, pii: Pii) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.pii is pii)

    def by_format(self, fmt: FieldFormat) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.format is fmt)


def _capture(full_name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    capture = _member(Capture, schema.get(CAPTURE, Capture.CDC), f"{full_name}: {CAPTURE}")
    reconcile = schema.get(RECONCILE_SNAPSHOTS, capture is Capture.CDC)
    if not isinstance(reconcile, bool):
        raise SchemaAnnotationError(
            f"{full_name}: {RECONCILE_SNAPSHOTS} = {reconcile!r} is not true or false"
        )
    return {"capture": capture, "reconcile_snapshots": reconcile}


def quasi_identifiers(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of the record's top-level fields annotated ``govbus.quasi``, in schema order."""
    return tuple(str(f["name"]) for f in schema["fields"] if f.get(QUASI) is True)


E = TypeVar("E", bound=StrEnum)


def _member(enum: type[E], value: object, where: str) -> E:
    if value is None:
        raise SchemaAnnotationError(f"{where} is missing")
    try:
        return enum(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise SchemaAnnotationError(f"{where} = {value!r} is not one of: {allowed}") from None
