"""The one list of reason codes, their quality dimension and what they do to an event.

Reason codes are a contract (DLQ headers, metrics labels, quality findings): never rename
one, only add. A rejecting code sends the event to ``dlq.standardize``; repaired and flagged
ones are findings that travel with an event that still passes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Dimension(StrEnum):
    """Data quality dimension of a finding (GB/T 36344 vocabulary, the ones rules can see)."""

    VALIDITY = "validity"
    COMPLETENESS = "completeness"
    CONSISTENCY = "consistency"
    TIMELINESS = "timeliness"


class Outcome(StrEnum):
    """What a finding did to its event (the ``outcome`` of ``quality/finding.avsc``)."""

    REJECTED = "rejected"  # fatal: the event goes to the DLQ
    REPAIRED = "repaired"  # the std row holds the corrected value
    FLAGGED = "flagged"  # the event passes as is (or without the bad optional value)


class Reason(StrEnum):
    """Every reason code a rule may report."""

    REQUIRED_MISSING = "required.missing"
    CLEAN_FULL_WIDTH = "clean.full_width"
    CLEAN_CASE = "clean.case"
    CITIZEN_ID_LENGTH = "citizen_id.length"
    CITIZEN_ID_FORMAT = "citizen_id.format"
    CITIZEN_ID_REGION = "citizen_id.region"
    CITIZEN_ID_BIRTH_DATE = "citizen_id.birth_date"
    CITIZEN_ID_CHECK_DIGIT = "citizen_id.check_digit"
    CITIZEN_ID_UPGRADED = "citizen_id.upgraded"
    USCC_LENGTH = "uscc.length"
    USCC_FORMAT = "uscc.format"
    USCC_CHECK_DIGIT = "uscc.check_digit"
    DIVISION_FORMAT = "division.format"
    DIVISION_UNKNOWN = "division.unknown"
    DIVISION_RETIRED = "division.retired"
    SEX_UNKNOWN = "sex.unknown"
    PHONE_INVALID = "phone.invalid"
    DATE_UNPARSEABLE = "date.unparseable"
    DATE_IMPOSSIBLE = "date.impossible"
    CONSISTENCY_BIRTH_DATE_MISMATCH = "consistency.birth_date_mismatch"
    CONSISTENCY_SEX_MISMATCH = "consistency.sex_mismatch"
    CONSISTENCY_DATE_ORDER = "consistency.date_order"
    # Enrichment (the fact and theme stages).
    ENRICH_MISSING_KEY = "enrich.missing_key"
    CONSISTENCY_AUTHORITY_CONFLICT = "consistency.authority_conflict"
    # The row table: an event older than what its source row already holds.
    TIMELINESS_STALE = "timeliness.stale"


_V, _C, _K, _T = (
    Dimension.VALIDITY, Dimension.COMPLETENESS, Dimension.CONSISTENCY, Dimension.TIMELINESS,
)
_REJECT, _REPAIR, _FLAG = Outcome.REJECTED, Outcome.REPAIRED, Outcome.FLAGGED

# (dimension, outcome). Rejected = the event cannot be used downstream: a join key (citizen ID,
# USCC) that is wrong would merge or split entities; a required value is absent; a coded or
# dated value cannot be given any meaning. Everything that leaves a usable, correctly keyed
# event is a finding only.
_META: dict[Reason, tuple[Dimension, Outcome]] = {
    Reason.REQUIRED_MISSING: (_C, _REJECT),
    # Repairs: the stored value is the repaired one.
    Reason.CLEAN_FULL_WIDTH: (_V, _REPAIR),
    Reason.CLEAN_CASE: (_V, _REPAIR),
    Reason.CITIZEN_ID_UPGRADED: (_V, _REPAIR),
    # Entity keys.
    Reason.CITIZEN_ID_LENGTH: (_V, _REJECT),
    Reason.CITIZEN_ID_FORMAT: (_V, _REJECT),
    Reason.CITIZEN_ID_REGION: (_V, _REJECT),
    Reason.CITIZEN_ID_BIRTH_DATE: (_V, _REJECT),
    Reason.CITIZEN_ID_CHECK_DIGIT: (_V, _REJECT),
    Reason.USCC_LENGTH: (_V, _REJECT),
    Reason.USCC_FORMAT: (_V, _REJECT),
    Reason.USCC_CHECK_DIGIT: (_V, _REJECT),
    # Codes and dates without a meaning.
    Reason.DIVISION_FORMAT: (_V, _REJECT),
    Reason.DIVISION_UNKNOWN: (_V, _REJECT),
    Reason.SEX_UNKNOWN: (_V, _REJECT),
    Reason.DATE_UNPARSEABLE: (_V, _REJECT),
    Reason.DATE_IMPOSSIBLE: (_V, _REJECT),
    # A retired division code was right when recorded; the value is kept as sent.
    Reason.DIVISION_RETIRED: (_V, _FLAG),
    # Contact data is not a key: the value is dropped from the std row, the event passes.
    Reason.PHONE_INVALID: (_V, _FLAG),
    # Disagreement between fields of one record: the ID number is authoritative and the row
    # keeps both values; 4360 merging resolves them.
    Reason.CONSISTENCY_BIRTH_DATE_MISMATCH: (_K, _FLAG),
    Reason.CONSISTENCY_SEX_MISMATCH: (_K, _FLAG),
    Reason.CONSISTENCY_DATE_ORDER: (_K, _FLAG),
    # An entity without a key is skipped; the record's other entities still pass.
    Reason.ENRICH_MISSING_KEY: (_C, _FLAG),
    # 一数一源: the authority's value wins; the other department's is kept as a candidate.
    Reason.CONSISTENCY_AUTHORITY_CONFLICT: (_K, _FLAG),
    # Not applied (it would re-point the row to what it said before), never dropped unseen.
    Reason.TIMELINESS_STALE: (_T, _FLAG),
}

FATAL_REASONS: frozenset[Reason] = frozenset(r for r, (_, o) in _META.items() if o is _REJECT)
_OUTCOMES: dict[str, Outcome] = {r.value: o for r, (_, o) in _META.items()}


def dimension_of(reason: Reason) -> Dimension:
    return _META[reason][0]


def is_fatal(reason_code: str) -> bool:
    return reason_code in FATAL_REASONS


def outcome_of(reason_code: str) -> Outcome:
    """What a reported code did to its event; unknown codes are a programming error."""
    return _OUTCOMES[reason_code]


class RuleViolation(NamedTuple):
    """One rule outcome about one field: a rejection (fatal code) or a finding.

    A named tuple because findings are made per event: it builds in half the time of a
    frozen dataclass.
    """

    reason_code: str
    field: str
    detail: str
    dimension: Dimension

    @property
    def fatal(self) -> bool:
        return self.reason_code in FATAL_REASONS


_BY_REASON: dict[Reason, tuple[str, Dimension]] = {r: (r.value, d) for r, (d, _) in _META.items()}


def violation(reason: Reason, field: str, detail: str) -> RuleViolation:
    """A violation whose dimension comes from the reason table, so the two never disagree."""
    code, dimension = _BY_REASON[reason]
    return RuleViolation(code, field, detail, dimension)
