"""GB/T 2260 administrative division codes: the shipped table and lookups on it.

The table (``gb2260.tsv``, rebuilt by ``python -m topics.codes.build_gb2260``) keeps retired
codes too, because old citizen ID numbers and records still carry them: a validator must tell
"retired" from "never existed".
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("gb2260.tsv")

# xxxx01 rows group a city's districts for statistics; no address lies "in" them.
_GROUPING_NAMES = frozenset({"市辖区"})


class DivisionStatus(StrEnum):
    CURRENT = "current"
    RETIRED = "retired"


class DivisionLevel(StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"


@dataclass(frozen=True, slots=True)
class Division:
    """One row of the division table, with the latest name the code carried."""

    code: str
    name: str
    province: str
    prefecture: str
    status: DivisionStatus

    @property
    def is_current(self) -> bool:
        return self.status is DivisionStatus.CURRENT

    @property
    def level(self) -> DivisionLevel:
        if self.code.endswith("0000"):
            return DivisionLevel.PROVINCE
        if self.code.endswith("00"):
            return DivisionLevel.PREFECTURE
        return DivisionLevel.COUNTY

    @property
    def full_name(self) -> str:
        """Province, prefecture and county names joined: ``安徽省合肥市蜀山区``."""
        parts = [self.province]
        if self.prefecture and self.prefecture != self.province:
            parts.append(self.prefecture)
        if self.name not in parts:
            parts.append(self.name)
        return "".join(parts)


class DivisionTable:
    """The division codes by code; build it with :func:`division_table` (loaded once)."""

    def __init__(self, divisions: Iterable[Division]) -> None:
        self._by_code = {d.code: d for d in divisions}
        self._full_names = {code: d.full_name for code, d in self._by_code.items()}

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Division]:
        return iter(self._by_code.values())

    def lookup(self, code: str) -> Division | None:
        return self._by_code.get(code)

    def current_county_codes(self, prefix: str = "") -> tuple[str, ...]:
        """Current county-level codes (not ending in 00) starting with ``prefix``, sorted.

        The xxxx01 市辖区 rows are left out: they are valid codes but not places.
        """
        return tuple(
            sorted(
                d.code
                for d in self._by_code.values()
                if d.code.startswith(prefix)
                and d.is_current
                and d.level is DivisionLevel.COUNTY
                and d.name not in _GROUPING_NAMES
            )
        )

    def district_name(self, code: str) -> str | None:
        """The full name of the district a code denotes, for generalizing an address to it."""
        return self._full_names.get(code)


def load_division_table(path: Path = TABLE_PATH) -> DivisionTable:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return DivisionTable(
            Division(
                code=row["code"],
                name=row["name"],
                province=row["province"],
                prefecture=row["prefecture"],
                status=DivisionStatus(row["status"]),
            )
            for row in reader
        )


@cache
def division_table() -> DivisionTable:
    """The shipped table, read on first use and shared by the process."""
    return load_division_table()
