"""Generated residents and the raw rows their departments would send about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from topics.codes.citizen_id import make_citizen_id
from topics.codes.divisions import division_table
from topics.codes.sex import SexCode


@dataclass(frozen=True)
class Resident:
    division: str
    birth: dt.date
    sex: SexCode
    sequence: int
    registered_after_days: int = 30  # newborns are registered within weeks

    @property
    def registered(self) -> dt.date:
        return self.birth + dt.timedelta(days=self.registered_after_days)

    @property
    def registered_ms(self) -> int:
        return int(dt.datetime.combine(self.registered, dt.time(), dt.UTC).timestamp() * 1000)

    @property
    def id_number(self) -> str:
        return make_citizen_id(self.division, self.birth, self.sequence, self.sex)

    def household_row(self) -> dict[str, Any]:
        district = division_table().district_name(self.division) or ""
        return {
            "resident_id": f"R{self.sequence}", "id_number": self.id_number, "name": "张三明",
            "sex": self.sex.value, "birth_date": self.birth.isoformat(), "ethnicity": "汉族",
            "division_code": self.division, "address": f"{district}人民路{self.sequence}号",
            "phone": "13812345678", "status": "正常",
            "registered_date": self.registered.isoformat(),
        }

    def licence_row(self) -> dict[str, Any]:
        return {
            "licence_id": f"L{self.sequence}", "licence_type": "教师资格证",
            "licence_no": f"JS{self.sequence}", "holder_kind": "person",
            "holder_id_number": self.id_number, "holder_uscc": None, "holder_name": "张三明",
            "issue_date": self.registered.isoformat(), "expiry_date": None,
            "issuing_authority": "教育局", "status": "有效",
        }


residents = st.builds(
    Resident,
    division=st.sampled_from(division_table().current_county_codes()),
    birth=st.dates(dt.date(1930, 1, 1), dt.date(2025, 12, 31)),
    sex=st.sampled_from((SexCode.MALE, SexCode.FEMALE)),
    sequence=st.integers(0, 498),
    registered_after_days=st.integers(0, 60),
)


def envelope(row: dict[str, Any], ts: int) -> dict[str, Any]:
    return {
        "before": None, "after": row, "op": "c", "ts_ms": ts, "event_id": f"e{ts}",
        "source": {"dept": "", "system": "", "table": "", "sequence": str(ts), "ts_ms": ts,
                   "snapshot": "false"},
    }


