"""A schema registry in memory, for unit tests of what registers and fetches schemas."""

from __future__ import annotations

import json
from typing import Any


class MemoryRegistry:
    """Schemas by id, in memory: what the processors ask a registry for (the URL, the
    compatibility argument: accepted, unused)."""

    def __init__(self, _url: str = "") -> None:
        self.schemas: list[str] = []

    def register(self, _subject: str, schema: dict[str, Any], *_args: Any) -> int:
        text = json.dumps(schema, sort_keys=True)
        if text not in self.schemas:
            self.schemas.append(text)
        return self.schemas.index(text) + 1

    def schema_by_id(self, schema_id: int) -> str:
        return self.schemas[schema_id - 1]
