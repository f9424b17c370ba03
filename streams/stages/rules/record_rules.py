"""Clean and validate a whole row, driven only by its schema's ``govbus.*`` annotations.

Per field, by annotation: strings are cleaned (codes NFKC-folded, text only full-width
letters/digits folded, null-likes to None); a ``govbus.format`` picks the validator;
``govbus.required`` rejects a missing value. Then cross-field checks: each citizen ID field
against the birth-date (``pii=birth_date``) and ``sex_code`` fields paired with it (see
``pairing``), and the date order declared by the proposed record annotation
``"govbus.date_order": [["issue_date", "expiry_date"], ...]`` (earlier, later).

The first fatal violation stops the row (the event goes to the DLQ whole, so later fields
would only be noise); findings collected up to then travel with it.

Dates, division and sex codes repeat across rows and their outcome depends on the raw value
alone, so each such field remembers the outcome of its last few thousand distinct values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, Final, NamedTuple

from streams.stages.rules import consistency
from streams.stages.rules.citizen_id import check_citizen_id
from streams.stages.rules.cleaning import clean_code, clean_text, uppercase_code
from streams.stages.rules.dates import parse_date
from streams.stages.rules.division import check_division, retired_finding
from streams.stages.rules.findings import Reason, RuleViolation, violation
from streams.stages.rules.pairing import pair_fields
from streams.stages.rules.phone import parse_phone
from streams.stages.rules.sex import check_sex
from streams.stages.rules.uscc import check_uscc
from topics.annotations import FieldFormat, Pii, RecordSpec, SchemaAnnotationError
from topics.codes.divisions import DivisionTable, division_table
from topics.schemas import row_schema, row_spec

DATE_ORDER: Final = "govbus.date_order"
# Formats whose outcome is a function of the raw value (no today, no other field).
_PURE_FORMATS: Final = frozenset(
    {FieldFormat.DATE, FieldFormat.DIVISION_CODE, FieldFormat.SEX_CODE}
)
_MEMO_LIMIT: Final = 4096  # distinct raw values remembered per field; forgotten when full

Row = dict[str, Any]
# A validator as the row loop sees it: cleaned value in; normalized value (None = dropped)
# or a fatal violation out; findings appended to the list.
CheckResult = str | RuleViolation | None
FieldCheck = Callable[[str, str, list[RuleViolation], date], CheckResult]


class Checked(NamedTuple):
    """The outcome for one row. ``row`` is complete only when ``fatal`` is None."""

    row: Row
    findings: list[RuleViolation]
    fatal: RuleViolation | None


def _citizen_id(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
    value, changed = uppercase_code(value)
    if changed:
        findings.append(violation(Reason.CLEAN_CASE, field, "lower-case check character"))
    result = check_citizen_id(value, field, today)
    if isinstance(result, RuleViolation):
        return result
    if result.upgraded:
        findings.append(violation(Reason.CITIZEN_ID_UPGRADED, field, "15 digits upgraded to 18"))
    return result.number


def _uscc(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
    value, changed = uppercase_code(value)
    if changed:
        findings.append(violation(Reason.CLEAN_CASE, field, "lower-case letters"))
    return check_uscc(value, field)


def _sex(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
    return check_sex(value, field)


def _date(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
    return parse_date(value, field)


def _phone(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
    result = parse_phone(value, field)
    if isinstance(result, RuleViolation):
        findings.append(result)  # not fatal: contact data is dropped, the event passes
        return None
    return result.e164


def _division_check(table: DivisionTable) -> FieldCheck:
    def check(value: str, field: str, findings: list[RuleViolation], today: date) -> CheckResult:
        result = check_division(value, field, table)
        if isinstance(result, RuleViolation):
            return result
        finding = retired_finding(result, field)
        if finding is not None:
            findings.append(finding)
        return value

    return check


Cleaner = Callable[[str], tuple[str | None, bool]]
Outcome = tuple[CheckResult, tuple[RuleViolation, ...]]


class _FieldPlan(NamedTuple):
    name: str
    clean: Cleaner
    check: FieldCheck | None
    required: bool
    memo: dict[str, Outcome] | None


def _outcome(value: str, name: str, clean: Cleaner, check: FieldCheck, today: date) -> Outcome:
    findings: list[RuleViolation] = []
    cleaned, folded = clean(value)
    if folded:
        findings.append(violation(Reason.CLEAN_FULL_WIDTH, name, "full-width characters folded"))
    result = None if cleaned is None else check(cleaned, name, findings, today)
    return result, tuple(findings)


class _SubjectPlan(NamedTuple):
    id_field: str
    birth_fields: tuple[str, ...]
    sex_fields: tuple[str, ...]


class RecordRules:
    """The precomputed rules of one source row type; ``apply`` is the per-event call."""

    def __init__(
        self,
        spec: RecordSpec,
        date_order: Iterable[tuple[str, str]] = (),
        table: DivisionTable | None = None,
    ) -> None:
        checks: dict[FieldFormat, FieldCheck] = {
            FieldFormat.CITIZEN_ID: _citizen_id,
            FieldFormat.USCC: _uscc,
            FieldFormat.DIVISION_CODE: _division_check(table or division_table()),
            FieldFormat.SEX_CODE: _sex,
            FieldFormat.PHONE: _phone,
            FieldFormat.DATE: _date,
        }
        self.spec = spec
        self._fields = tuple(
            _FieldPlan(
                f.name,
                clean_text if f.format is None else clean_code,
                None if f.format is None else checks[f.format],
                f.required,
                {} if f.format in _PURE_FORMATS else None,
            )
            for f in spec.fields
        )
        self._subjects = _subjects(spec)
        self._date_order = _checked_date_order(spec, date_order)

    @classmethod
    def for_source(cls, source: str, table: DivisionTable | None = None) -> RecordRules:
        """The rules of a declared source (``<dept>.<table>``), from its raw row schema."""
        return cls(row_spec(source), date_order_of(row_schema(source)), table)

    def apply(self, row: Mapping[str, Any], today: date | None = None) -> Checked:
        """Clean and validate one row; the input is not changed."""
        today = today or date.today()
        out: Row = dict(row)
        findings: list[RuleViolation] = []
        for name, clean, check, required, memo in self._fields:
            value = out.get(name)
            if isinstance(value, str) and memo is not None and check is not None:
                outcome = memo.get(value)
                if outcome is None:
                    if len(memo) >= _MEMO_LIMIT:
                        memo.clear()
                    outcome = memo[value] = _outcome(value, name, clean, check, today)
                value, found = outcome
                if found:
                    findings.extend(found)
                if isinstance(value, RuleViolation):
                    return Checked(out, findings, value)
                out[name] = value
            elif isinstance(value, str):
                value, folded = clean(value)
                if folded:
                    findings.append(
                        violation(Reason.CLEAN_FULL_WIDTH, name, "full-width characters folded")
                    )
                if value is not None and check is not None:
                    value = check(value, name, findings, today)
                    if isinstance(value, RuleViolation):
                        return Checked(out, findings, value)
                out[name] = value
            if value is None and required:
                return Checked(out, findings, violation(Reason.REQUIRED_MISSING, name, "no value"))
        for subject in self._subjects:
            number = out.get(subject.id_field)
            if number is None:
                continue
            for name in subject.birth_fields:
                if (stated := out.get(name)) is not None:
                    finding = consistency.birth_date_mismatch(number, stated, name)
                    if finding is not None:
                        findings.append(finding)
            for name in subject.sex_fields:
                if (stated := out.get(name)) is not None:
                    finding = consistency.sex_mismatch(number, stated, name)
                    if finding is not None:
                        findings.append(finding)
        for earlier, later in self._date_order:
            first, second = out.get(earlier), out.get(later)
            if first is not None and second is not None:
                finding = consistency.date_order_violation(first, second, earlier, later)
                if finding is not None:
                    findings.append(finding)
        return Checked(out, findings, None)


def _subjects(spec: RecordSpec) -> tuple[_SubjectPlan, ...]:
    ids = [f.name for f in spec.by_format(FieldFormat.CITIZEN_ID)]
    births = [f.name for f in spec.by_pii(Pii.BIRTH_DATE) if f.format is FieldFormat.DATE]
    sexes = [f.name for f in spec.by_format(FieldFormat.SEX_CODE)]
    birth_pairs, sex_pairs = pair_fields(ids, births), pair_fields(ids, sexes)
    return tuple(
        _SubjectPlan(
            id_field,
            tuple(b for b in births if birth_pairs.get(b) == id_field),
            tuple(s for s in sexes if sex_pairs.get(s) == id_field),
        )
        for id_field in ids
        if id_field in birth_pairs.values() or id_field in sex_pairs.values()
    )


def date_order_of(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (earlier, later) field pairs of a record schema's ``govbus.date_order``."""
    pairs = schema.get(DATE_ORDER, [])
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) for n in p) for p in pairs
    ):
        raise SchemaAnnotationError(f"{DATE_ORDER} must be a list of [earlier, later] names")
    return [(p[0], p[1]) for p in pairs]


def _checked_date_order(
    spec: RecordSpec, pairs: Iterable[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    dated = {f.name for f in spec.fields if f.format is FieldFormat.DATE}
    result = tuple(pairs)
    for pair in result:
        for name in pair:
            if name not in dated:
                raise SchemaAnnotationError(
                    f"{spec.full_name}: {DATE_ORDER} names {name!r}, not a date-format field"
                )
    return result
