"""The Avro fields a source's std row must have, derived from its row schema and the policy.

Kept fields are copied from the raw schema with their annotations. Derived fields are
optional strings annotated ``govbus.pii: none`` (what is left needs no further
desensitization), the source field's grade, and their lineage (``govbus.derived_from``,
``govbus.operator``), so std schemas can be generated from, or checked against, this list.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from streams.masking.operators import TYPE_PRESERVING
from streams.masking.policy import Policy, load_policy
from topics.annotations import GRADE, PII, REQUIRED, Pii, RecordSpec
from topics.schemas import row_schema, row_spec

DERIVED_FROM: Final = "govbus.derived_from"
OPERATOR: Final = "govbus.operator"


def std_fields(source: str, policy: Policy | None = None) -> list[dict[str, Any]]:
    """The std row's Avro fields of a declared source, in raw field order."""
    return derive_std_fields(row_spec(source), row_schema(source), policy or load_policy())


def derive_std_fields(
    spec: RecordSpec, raw_schema: Mapping[str, Any], policy: Policy
) -> list[dict[str, Any]]:
    raw_fields = {f["name"]: f for f in raw_schema["fields"]}
    fields: list[dict[str, Any]] = []
    for field in spec.fields:
        for output in policy.outputs(field):
            name = output.name(field.name)
            if output.operator in TYPE_PRESERVING:
                kept = copy.deepcopy(raw_fields[field.name])
                kept["name"] = name
                fields.append(kept)
                continue
            derived: dict[str, Any] = {
                "name": name,
                "type": ["null", "string"],
                "default": None,
                "doc": f"{field.doc} ({output.operator})".lstrip(),
                PII: Pii.NONE.value,
                GRADE: field.grade.value,
                DERIVED_FROM: field.name,
                OPERATOR: output.operator,
            }
            if field.required:
                derived[REQUIRED] = True
            fields.append(derived)
    return fields
