"""One simulated change event, shaped like what a department's change capture would report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.simulator.defects import DefectKind

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """A change to one row of one source table (``<dept>.<table>``).

    ``before``/``after`` hold every field of the row schema (``after`` is None for deletes,
    ``before`` for creates and snapshot reads). A defective event names what is wrong and
    keeps the row as the department meant it in ``clean_after``, so a test can check that a
    repair recovers it or a rejection names the right reason.
    """

    source: str
    op: str  # r snapshot read, c create, u update, d delete
    key: dict[str, str]
    before: Row | None
    after: Row | None
    sequence: str  # per source, zero-padded so text order is change order
    ts_ms: int
    event_id: str
    defect: DefectKind | None = None
    defect_field: str | None = None
    clean_after: Row | None = None
