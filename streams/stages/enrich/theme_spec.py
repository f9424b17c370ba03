"""What a theme schema says about its profile: the entity key field, the attributes and,
per attribute, the department whose value wins (一数一源).

Read from the ``govbus.*`` annotations of ``avro_schemas/theme/<category>.avsc`` once, so
the authority table has one definition: the schema.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from topics.annotations import AUTHORITY, ENTITY_KEY, SchemaAnnotationError
from topics.schemas import load_avsc


class ThemeSpec(NamedTuple):
    category: str
    key_field: str
    attributes: tuple[str, ...]  # in schema order
    authority: dict[str, str]  # attribute -> authoritative department


@cache
def theme_spec(category: str) -> ThemeSpec:
    """The spec of one category's theme schema (``category`` may be a ``Category``)."""
    schema = load_avsc(f"theme/{category}.avsc")
    fields = schema["fields"]
    keys = [f["name"] for f in fields if f.get(ENTITY_KEY)]
    if len(keys) != 1:
        raise SchemaAnnotationError(f"theme/{category}: expected one {ENTITY_KEY} field, {keys}")
    authority = {f["name"]: str(f[AUTHORITY]) for f in fields if AUTHORITY in f}
    return ThemeSpec(str(category), keys[0], tuple(authority), authority)
