"""Hand-written std rows (desensitized, as the standardize stage emits them) and envelopes."""

from __future__ import annotations

from typing import Any

from fastavro import parse_schema
from fastavro.validation import validate

from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import ProfileState, apply_fact
from topics.schemas import load_avsc

ALICE = "k1:alice"
BOB = "k1:bob"
CAROL = "k1:carol"
ACME = "91340100MA0000000A"

Row = dict[str, Any]


def resident(**changes: Any) -> Row:
    row = {
        "resident_id": "R1", "id_number_pseudonym": ALICE,
        "id_number_masked": "340104***********4", "name_masked": "张*明", "sex": "1",
        "birth_date_year": "1980", "ethnicity": "汉族", "division_code": "340104",
        "address_district": "安徽省合肥市蜀山区", "phone_masked": "138****5678",
        "status": "正常", "registered_date": "2001-03-04",
    }
    return {**row, **changes}


def enterprise(**changes: Any) -> Row:
    row = {
        "enterprise_id": "E1", "uscc": ACME, "name": "合肥某某科技有限公司",
        "enterprise_type": "有限责任公司", "status": "存续", "legal_rep_name_masked": "张*明",
        "legal_rep_id_number_pseudonym": ALICE, "legal_rep_id_number_masked": "340104***********4",
        "registered_capital": 100.0, "established_date": "2010-10-10",
        "division_code": "340104", "address": "安徽省合肥市蜀山区长江西路1号",
        "contact_phone_masked": "0551****678", "business_scope_masked": "软件开发",
    }
    return {**row, **changes}


def person_licence(**changes: Any) -> Row:
    row = {
        "licence_id": "L1", "licence_type": "教师资格证", "licence_no": "JS1",
        "holder_kind": "person", "holder_id_number_pseudonym": ALICE,
        "holder_id_number_masked": "340104***********4", "holder_uscc": None,
        "holder_name_masked": "张*明", "issue_date": "2020-01-01", "expiry_date": None,
        "issuing_authority": "合肥市教育局", "status": "有效",
    }
    return {**row, **changes}


def organization_licence(**changes: Any) -> Row:
    row = {
        "licence_id": "L2", "licence_type": "营业执照", "licence_no": "YY2",
        "holder_kind": "organization", "holder_id_number_pseudonym": None,
        "holder_id_number_masked": None, "holder_uscc": ACME,
        # The licence office masks every holder name; the register has it in clear.
        "holder_name_masked": "合********司", "issue_date": "2020-01-01",
        "expiry_date": "2030-01-01", "issuing_authority": "合肥市市场监督管理局", "status": "有效",
    }
    return {**row, **changes}


def marriage(**changes: Any) -> Row:
    row = {
        "registration_id": "M1", "kind": "结婚", "party_a_id_number_pseudonym": BOB,
        "party_a_id_number_masked": "340104***********2", "party_a_name_masked": "李*",
        "party_a_birth_date_year": "1979", "party_b_id_number_pseudonym": ALICE,
        "party_b_id_number_masked": "340104***********4", "party_b_name_masked": "张*明",
        "party_b_birth_date_year": "1980", "registered_date": "2005-05-20",
        "office_division_code": "340104", "certificate_no": "J340104-2005-000001",
        "remarks_masked": None,
    }
    return {**row, **changes}


def event(row: Row, *, op: str = "c", ts: int = 1_000, seq: str | None = "1",
          event_id: str | None = None) -> dict[str, Any]:
    """A std change event: after for c/u/r, before for d (as the standardize stage does)."""
    return {
        "before": row if op == "d" else None,
        "after": None if op == "d" else row,
        "source": {"dept": "", "system": "", "table": "", "sequence": seq, "ts_ms": ts,
                   "snapshot": "false"},
        "op": op,
        "ts_ms": ts,
        "event_id": event_id if event_id is not None else f"ev-{ts}-{seq}",
    }


_EXTRACTOR = FactExtractor()
FACT_SCHEMA = parse_schema(load_avsc("fact/fact.avsc"))
FINDING_SCHEMA = parse_schema(load_avsc("quality/finding.avsc"))
THEME_SCHEMAS = {c: parse_schema(load_avsc(f"theme/{c}.avsc"))
                 for c in ("individual", "organization", "thing", "event")}


def facts(source: str, envelope: dict[str, Any]) -> list[dict[str, Any]]:
    out = _EXTRACTOR.extract(source, envelope)
    for fact in out:
        assert validate(fact, FACT_SCHEMA, raise_errors=True)
    return out


def fact_for(source: str, envelope: dict[str, Any], key: str, role: str | None = None
             ) -> dict[str, Any]:
    """The one fact of ``envelope`` about entity ``key`` (in ``role``, when given)."""
    [fact] = [f for f in facts(source, envelope)
              if f["entity_key"] == key and role in (None, f["role"])]
    return fact


def fold(*items: dict[str, Any], state: ProfileState | None = None) -> ProfileState | None:
    """Applies facts in order."""
    for fact in items:
        state, _ = apply_fact(state, fact)
    return state
