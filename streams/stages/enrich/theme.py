"""Theme records (``theme/<category>.avsc``) from profile states, and conflict findings.

``render`` returns None for a deleted entity: the caller emits a tombstone, which the sink
turns into a delete. Rendered records are always ``deleted: False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from streams.stages.enrich.findings import AUTHORITY_CONFLICT, FLAGGED
from streams.stages.enrich.merge import Conflict
from streams.stages.enrich.profile import ProfileState
from streams.stages.enrich.theme_spec import theme_spec
from streams.stages.rules.findings import Dimension

STAGE = "theme"
_CONSISTENCY = str(Dimension.CONSISTENCY)


@cache
def _blank(category: str) -> tuple[str, dict[str, None]]:
    spec = theme_spec(category)
    return spec.key_field, dict.fromkeys(spec.attributes)


def render(
    category: str, entity_key: str, state: ProfileState | None, now_ms: int
) -> dict[str, Any] | None:
    """The theme record of one entity, or None when it is deleted (emit a tombstone)."""
    view = state.view() if state is not None else None
    if state is None or view is None:
        return None
    key_field, blank = _blank(category)
    record: dict[str, Any] = {key_field: entity_key, **blank}
    record.update(view.values)  # merge keeps theme attributes only
    record["links"] = [{"relation": r, "category": c, "key": k} for r, c, k in view.links]
    record["candidates"] = [
        {"attribute": attribute, "value": value, "dept": dept, "source_ts_ms": ts}
        for (attribute, dept, value), (ts, _) in sorted(view.candidates.items())
    ]
    record["sources"] = list(view.sources)
    record["version"] = state.revision
    record["source_ts_ms"] = view.source_ts_ms
    record["updated_ms"] = now_ms
    record["deleted"] = False
    return record


def conflict_findings(
    fact: Mapping[str, Any], conflicts: Iterable[Conflict], detected_ms: int
) -> list[dict[str, Any]]:
    """Quality findings (``quality/finding.avsc``) for the conflicts a fact introduced.

    Each is charged to the disagreeing department and its source table; the event is the one
    that revealed it. The detail names departments, never values.
    """
    event_id, role = fact["event_id"], fact["role"]
    return [
        {
            # Role, not entity key: findings are general grade, pseudonyms are not.
            "finding_id": f"{event_id}:{AUTHORITY_CONFLICT}:{c.attribute}:{role}:{c.source}",
            "event_id": event_id,
            "stage": STAGE,
            "dept": c.dept,
            "source": c.source,
            "dimension": _CONSISTENCY,
            "reason": AUTHORITY_CONFLICT,
            "field": c.attribute,
            "outcome": FLAGGED,
            "detail": f"{c.attribute}: {c.dept} disagrees with {c.authority}",
            "source_ts_ms": fact["source_ts_ms"],
            "detected_ms": detected_ms,
        }
        for c in conflicts
    ]
