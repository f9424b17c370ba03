"""The standardize stage: one raw change event in, its std change event (or a rejection) out.

Pure: no Kafka. The image that states the row's current truth (``after``, or
``before`` for a delete) decides: a fatal violation in it rejects the event. Only that image is
standardized: the std layer publishes desensitized row states, and an update's before image
is the department's history, kept in the raw layer. Standardizing it would double the rules,
masking and Avro work of every update (the most common operation) for no downstream use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from streams.stages.masking.desensitizer import Desensitizer
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.outcomes import Rejected, Standardized
from streams.stages.rules.findings import RuleViolation
from streams.stages.rules.record_rules import RecordRules
from topics.schemas import key_schema, row_spec

STAGE = "standardize"


class StandardizeStage:
    """Validates, cleans and desensitizes the change events of one source table."""

    def __init__(self, source: str, pseudonymizer: Pseudonymizer) -> None:
        self.source = source
        self.rules = RecordRules.for_source(source)
        self.desensitizer = Desensitizer(row_spec(source), pseudonymizer)
        self.key_fields = frozenset(f["name"] for f in key_schema(source)["fields"])

    def __call__(
        self, envelope: Mapping[str, Any] | None, today: date
    ) -> Standardized | Rejected | None:
        if envelope is None:
            return None  # the tombstone after a delete: nothing to standardize
        op = envelope.get("op")
        before, after = envelope.get("before"), envelope.get("after")
        current = before if op == "d" else after
        if current is None:
            return Rejected("envelope.missing_image", f"op {op!r} without its row image",
                            exception_class="EnvelopeError")
        if op == "d" and self._key_only(current):
            # A delete says only which row goes (Debezium sends the key alone under a default
            # replica identity); what the row named is the row table's to know.
            std_row = self.desensitizer.apply(current)
            checked_findings: list[RuleViolation] = []
        else:
            checked = self.rules.apply(current, today)
            if checked.fatal is not None:
                return _rejected(checked.fatal, checked.findings)
            std_row = self.desensitizer.apply(checked.row)
            checked_findings = checked.findings
        std_before, std_after = (std_row, None) if op == "d" else (None, std_row)
        return Standardized(
            {
                "before": std_before,
                "after": std_after,
                "source": envelope["source"],
                "op": op,
                "ts_ms": envelope.get("ts_ms"),
                "event_id": envelope.get("event_id", ""),
            },
            tuple(checked_findings),
        )


    def _key_only(self, row: Mapping[str, Any]) -> bool:
        """The image holds its key and nothing else."""
        return all((value is not None) == (name in self.key_fields)
                   for name, value in row.items()) and self.key_fields <= row.keys()

    def std_row(self, row: Mapping[str, Any], today: date) -> dict[str, Any] | None:
        """One row image standardized on its own (None if it is unusable)."""
        checked = self.rules.apply(row, today)
        return None if checked.fatal is not None else self.desensitizer.apply(checked.row)


def _rejected(fatal: RuleViolation, findings: list[RuleViolation]) -> Rejected:
    detail = f"{fatal.field}: {fatal.detail}" if fatal.field else fatal.detail
    return Rejected(fatal.reason_code, detail, tuple(findings), fatal=fatal)
