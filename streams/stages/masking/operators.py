"""The desensitization operators the policy may name, each built once per source field.

A built operator reads its input from the cleaned row and returns the std value; None stays
None. Building binds everything a field needs (field name, key state, paired division
field), so the per-row call is one closure call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import methodcaller
from types import MappingProxyType
from typing import Any, Final

from streams.stages.masking.address import generalize_address
from streams.stages.masking.masks import (
    birth_year,
    mask_id_division,
    mask_id_first6_last1,
    mask_id_number,
    mask_name,
    mask_phone,
    year_month,
)
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.masking.text_scan import load_name_tagger, scan_and_mask
from streams.stages.rules.pairing import pair_fields
from topics.annotations import FieldFormat, FieldSpec, Pii, RecordSpec
from topics.codes.divisions import DivisionTable
from topics.disclosure import (
    DAYS_IN_SHORTEST_MONTH,
    DAYS_IN_YEAR,
    EXACT,
    REVEALS_ALL,
    REVEALS_NOTHING,
    Reveal,
)

FieldOperator = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class OperatorContext:
    """What building an operator may need beyond the field itself."""

    spec: RecordSpec
    pseudonymizer: Pseudonymizer
    table: DivisionTable


Builder = Callable[[FieldSpec, OperatorContext], FieldOperator]


def _on_value(function: Callable[[str], str | None]) -> Builder:
    def build(field: FieldSpec, context: OperatorContext) -> FieldOperator:
        name = field.name

        def apply(row: Mapping[str, Any]) -> Any:
            value = row.get(name)
            return None if value is None else function(value)

        return apply

    return build


def _keep(field: FieldSpec, context: OperatorContext) -> FieldOperator:
    getter: FieldOperator = methodcaller("get", field.name)
    return getter


def _pseudonym(field: FieldSpec, context: OperatorContext) -> FieldOperator:
    return _on_value(context.pseudonymizer)(field, context)


def _generalize_district(field: FieldSpec, context: OperatorContext) -> FieldOperator:
    name, table = field.name, context.table
    divisions = [f.name for f in context.spec.by_format(FieldFormat.DIVISION_CODE)]
    addresses = [f.name for f in context.spec.by_pii(Pii.ADDRESS)]
    code_field = pair_fields(divisions, addresses).get(name)

    def apply(row: Mapping[str, Any]) -> Any:
        value = row.get(name)
        if value is None:
            return None
        return generalize_address(value, None if code_field is None else row.get(code_field), table)

    return apply


def _scanning(field: FieldSpec, context: OperatorContext) -> FieldOperator:
    load_name_tagger()  # from the stage's start, beside it, not in its first batch
    return _on_value(scan_and_mask)(field, context)


OPERATORS: Final[Mapping[str, Builder]] = MappingProxyType(
    {
        "keep": _keep,
        "pseudonym": _pseudonym,
        "mask_id_number": _on_value(mask_id_number),
        "mask_id_first6_last1": _on_value(mask_id_first6_last1),
        "mask_id_division": _on_value(mask_id_division),
        "mask_name": _on_value(mask_name),
        "mask_phone": _on_value(mask_phone),
        "generalize_district": _generalize_district,
        "year_month": _on_value(year_month),
        "birth_year": _on_value(birth_year),
        "scan_and_mask": _scanning,
    }
)
# Operators whose output keeps the raw field's Avro type; all others produce optional strings.
TYPE_PRESERVING: Final = frozenset({"keep"})

_ID_LAST4: Final = {"division": EXACT, "sex": EXACT, "sequence": EXACT, "check": EXACT}
_PHONE_ENDS: Final = {"prefix": EXACT, "last4": EXACT}
# What each operator's output reveals of its input's aspects (see topics/disclosure.py):
# the disclosure check combines these over every field published together.
REVEALS: Final[Mapping[str, Reveal]] = MappingProxyType(
    {
        "keep": REVEALS_ALL,
        # Nothing without the key, which is why the key is a secret with no default.
        "pseudonym": REVEALS_NOTHING,
        "mask_id_number": _ID_LAST4,
        "mask_id_first6_last1": {"division": EXACT, "check": EXACT},
        "mask_id_division": {"division": EXACT},
        # 张*明 shows the surname and, from three characters on, the last given character;
        # at least one given character stays hidden.
        "mask_name": {"surname": EXACT},
        "mask_phone": _PHONE_ENDS,
        "generalize_district": {"district": EXACT},
        "year_month": {"birth_date": DAYS_IN_SHORTEST_MONTH},
        # A year of days. Record times bound a birth from above, per row: not counted here
        # (see topics/disclosure.py); `govbus privacy audit` counts them on published rows.
        "birth_year": {"birth_date": DAYS_IN_YEAR},
        # IDs and phones found in text are masked with mask_id_division and mask_phone.
        "scan_and_mask": {"division": EXACT, **_PHONE_ENDS},
    }
)
