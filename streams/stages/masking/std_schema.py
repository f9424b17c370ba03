"""The Avro fields a source's std row must have, derived from its row schema and the policy.

Kept fields are copied from the raw schema with their annotations. Derived fields are
optional strings annotated ``govbus.pii: none`` (what is left needs no further
desensitization), the source field's grade, and their lineage (``govbus.derived_from``,
``govbus.operator``), so std schemas can be generated from, or checked against, this list.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Final

from streams.stages.masking.operators import TYPE_PRESERVING
from streams.stages.masking.policy import Policy, load_policy
from topics.annotations import CATEGORY, DEPT, GRADE, PII, REQUIRED, SYSTEM, TABLE, Pii, RecordSpec
from topics.schemas import SCHEMA_DIR, row_schema, row_spec, source_names

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


def std_row_document(source: str, policy: Policy | None = None) -> dict[str, Any]:
    """The whole std row schema of a source, as checked in under ``avro_schemas/std/``."""
    raw = row_schema(source)
    document: dict[str, Any] = {
        "type": "record",
        "name": raw["name"],
        "namespace": f"{raw['namespace']}.std",
        "doc": f"{raw.get('doc', '')} Standardized and desensitized (std layer).".strip(),
    }
    for key in (DEPT, SYSTEM, TABLE, CATEGORY):
        document[key] = raw[key]
    document["fields"] = std_fields(source, policy)
    return document


def std_schema_text(source: str) -> str:
    return json.dumps(std_row_document(source), ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    """Regenerate ``avro_schemas/std/*.value.avsc`` after a change of a raw schema or the policy."""
    target = SCHEMA_DIR / "std"
    target.mkdir(exist_ok=True)
    for source in source_names():
        (target / f"{source}.value.avsc").write_text(std_schema_text(source), encoding="utf-8")
        print(f"wrote std/{source}.value.avsc")


if __name__ == "__main__":
    main()
