"""Quoting of identifiers and literals for the SQL the sink writes itself.

Every name the sink puts into SQL comes from a schema or the catalog, yet quoting all of them
keeps a field called ``source`` or ``select`` from turning into a keyword.
"""

from __future__ import annotations

import math
import re

_TYPE_NOISE = re.compile(r"[\s`]")


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def qualified(database: str, table: str) -> str:
    return f"{quote_identifier(database)}.{quote_identifier(table)}"


def quote_literal(value: object) -> str:
    """A ClickHouse literal for a plain Python scalar."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no SQL literal for {value!r}")
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def normalize_type(sql_type: str) -> str:
    """A type as compared: the server reformats Tuple types and quotes only reserved names."""
    return _TYPE_NOISE.sub("", sql_type)
