"""k-anonymity of the theme libraries: how many live rows share each combination of their
quasi-identifiers (the fields annotated ``govbus.quasi``: district, sex, birth month,
ethnicity ...).

A row in a class of fewer than k rows is one an attacker who knows those few facts about a
person can single out, or narrow to fewer than k candidates. The view ``v_k_anonymity``
(one row per theme library, computed when read: a GROUP BY over the table ``FINAL``) gives the
smallest class and the rows in classes below k; the sink's monitor reads it periodically and
publishes metrics and quality findings (:mod:`sinks.privacy_monitor`). A library without
quasi-identifiers is one class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.sql import quote_identifier, quote_literal
from topics.annotations import quasi_identifiers

DEFAULT_K: Final = 5
KANON_VIEW: Final = "v_k_anonymity"
# Quality findings of the monitor (quality/finding.avsc).
PRIVACY_DIMENSION: Final = "privacy"
KANON_REASON: Final = "privacy.k_anonymity"
MONITOR_STAGE: Final = "sink"
MONITOR_DEPT: Final = "govbus"  # the bus's own finding about a library, not a department's


@dataclass(frozen=True, slots=True)
class KAnonymity:
    """One library's k-anonymity at one moment (a row of ``v_k_anonymity``)."""

    library: str
    quasi_identifiers: tuple[str, ...]
    k: int
    rows: int
    classes: int
    smallest_class: int | None  # None: the library is empty
    classes_below_k: int
    rows_below_k: int

    @property
    def anonymous(self) -> bool:
        return self.rows_below_k == 0


COLUMNS: Final = ("library", "quasi_identifiers", "k", "rows", "classes", "smallest_class",
                  "classes_below_k", "rows_below_k")


def library_select(spec: TableSpec, k: int) -> str:
    """One library's row of the view: its classes over its quasi-identifiers, counted."""
    quasi = quasi_identifiers(spec.schema)
    # A constant key when there is none: one class, and no class at all for an empty table.
    keys = ", ".join(quote_identifier(q) for q in quasi) or "toUInt8(0)"
    return f"""SELECT
    {quote_literal(spec.name)} AS library,
    {quote_literal(", ".join(quasi))} AS quasi_identifiers,
    toUInt32({k}) AS k,
    sum(n) AS rows,
    count() AS classes,
    minOrNull(n) AS smallest_class,
    countIf(n < {k}) AS classes_below_k,
    sumIf(n, n < {k}) AS rows_below_k
FROM (SELECT count() AS n FROM {spec.qualified_name} FINAL GROUP BY {keys})"""


def kanon_view_select(profiles: Sequence[TableSpec], k: int) -> str:
    """Every theme library's row, by library name."""
    union = "\nUNION ALL\n".join(library_select(spec, k) for spec in profiles)
    return f"SELECT * FROM (\n{union}\n)\nORDER BY library"


def parse_row(row: Sequence[Any]) -> KAnonymity:
    values = dict(zip(COLUMNS, row, strict=True))
    quasi = str(values["quasi_identifiers"])
    smallest = values["smallest_class"]
    return KAnonymity(
        library=str(values["library"]),
        quasi_identifiers=tuple(q for q in quasi.split(", ") if q),
        k=int(values["k"]),
        rows=int(values["rows"]),
        classes=int(values["classes"]),
        smallest_class=None if smallest is None else int(smallest),
        classes_below_k=int(values["classes_below_k"]),
        rows_below_k=int(values["rows_below_k"]),
    )


def finding_record(result: KAnonymity, detected_ms: int) -> dict[str, Any]:
    """A quality finding (``quality/finding.avsc``) saying a library is not k-anonymous."""
    quasi = ", ".join(result.quasi_identifiers)
    return {
        "finding_id": f"{KANON_REASON}:{result.library}:{detected_ms}",
        "event_id": f"{result.library}@{detected_ms}",
        "stage": MONITOR_STAGE,
        "dept": MONITOR_DEPT,
        "source": result.library,
        "dimension": PRIVACY_DIMENSION,
        "reason": KANON_REASON,
        "field": quasi,
        "outcome": "flagged",
        "detail": (
            f"{result.rows_below_k} of {result.rows} rows in {result.classes_below_k} classes "
            f"smaller than k={result.k}; smallest class {result.smallest_class} "
            f"(quasi-identifiers: {quasi or 'none'})"
        ),
        "source_ts_ms": detected_ms,
        "detected_ms": detected_ms,
    }


def summary_lines(results: Sequence[KAnonymity]) -> list[str]:
    """A human summary, one line per library."""
    lines = []
    for r in results:
        quasi = ", ".join(r.quasi_identifiers) or "none"
        if r.rows == 0:
            verdict = "empty"
        elif r.anonymous:
            verdict = f"{r.k}-anonymous"
        else:
            share = r.rows_below_k / r.rows
            verdict = (f"NOT {r.k}-anonymous: {r.rows_below_k} rows ({share:.0%}) in "
                       f"{r.classes_below_k} classes below k")
        lines.append(f"{r.library}: {r.rows} rows, {r.classes} classes over ({quasi}), "
                     f"smallest {r.smallest_class if r.smallest_class is not None else '-'}; "
                     f"{verdict}")
    return lines
