"""The departments' tables as the simulator keeps them: current rows plus the facts behind them.

A row holds what the department wrote (its spellings); the entity beside it holds the facts
(dates, sex, links) the simulator needs to make later events agree with earlier ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from random import Random
from typing import Any, Generic, TypeVar

from topics.codes.sex import SexCode

Row = dict[str, Any]
E = TypeVar("E")

RESIDENT = "household.resident"
ENTERPRISE = "market.enterprise"
LICENCE = "licence.licence"
MARRIAGE = "civil.marriage"
SOURCES = (RESIDENT, ENTERPRISE, LICENCE, MARRIAGE)
KEY_FIELDS = {
    RESIDENT: "resident_id",
    ENTERPRISE: "enterprise_id",
    LICENCE: "licence_id",
    MARRIAGE: "registration_id",
}


@dataclass(slots=True)
class Person:
    resident_id: str
    id_number: str
    name: str
    sex: SexCode
    birth: dt.date
    division: str
    status: str = "正常"
    spouse: str | None = None  # resident_id while married
    marriages: int = 0  # registered so far

    def age(self, today: dt.date) -> int:
        before_birthday = (today.month, today.day) < (self.birth.month, self.birth.day)
        return today.year - self.birth.year - before_birthday


@dataclass(slots=True)
class Enterprise:
    enterprise_id: str
    uscc: str
    name: str
    division: str
    established: dt.date
    # Insertion-ordered (a dict, not a set), so runs repeat whatever the hash seed.
    licences: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class Licence:
    licence_id: str
    type_name: str
    holder_key: str  # resident_id or enterprise_id
    issued: dt.date
    expires: dt.date | None


@dataclass(slots=True)
class Marriage:
    registration_id: str
    kind: str


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


class Table(Generic[E]):
    """Rows and entities by primary key, with O(1) random pick and removal."""

    def __init__(self) -> None:
        self._rows: dict[str, Row] = {}
        self._entities: dict[str, E] = {}
        self._keys: list[str] = []
        self._slot: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def key_list(self) -> list[str]:
        """The keys as they are now (a copy: safe while the table changes)."""
        return list(self._keys)

    def add(self, key: str, entity: E, row: Row) -> None:
        self._slot[key] = len(self._keys)
        self._keys.append(key)
        self._rows[key] = row
        self._entities[key] = entity

    def replace(self, key: str, row: Row) -> None:
        self._rows[key] = row

    def remove(self, key: str) -> Row:
        # Swap the last key into the freed slot, so removal does not shift the list.
        slot = self._slot.pop(key)
        last = self._keys.pop()
        if last != key:
            self._keys[slot] = last
            self._slot[last] = slot
        del self._entities[key]
        return self._rows.pop(key)

    def row(self, key: str) -> Row:
        return self._rows[key]

    def entity(self, key: str) -> E:
        return self._entities[key]

    def pick(self, rng: Random) -> str:
        return self._keys[rng.randrange(len(self._keys))]
