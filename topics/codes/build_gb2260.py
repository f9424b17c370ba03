"""Rebuilds ``gb2260.tsv``, the GB/T 2260 administrative division table, from python-stdnum.

python-stdnum ships the division codes in ``stdnum/cn/loc.dat`` (taken from the Chinese
Wikipedia code lists) with validity periods: ``county="[-2010]崇文区"`` was retired in 2010,
``[1983-]`` or no bracket is still in use, and a code renamed over time carries several
periods, ``[1983-2001]西市区,[2002-]蜀山区``, of which the last one tells the present.

The table is derived once and shipped, so the bus does not depend on that file's layout at
run time. Rebuild it after upgrading python-stdnum::

    python -m topics.codes.build_gb2260            # writes topics/codes/gb2260.tsv
    python -m topics.codes.build_gb2260 -o other.tsv

Columns: code (6 digits), name, province, prefecture, status (current|retired). Names are
the latest ones a code carried. ``prefecture`` is empty for province rows and where the
prefecture-level row is a grouping rather than a place (市辖区, 县, 省直辖县级行政区划 ...),
so province + prefecture + name spells a place's full name.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from stdnum import numdb

DEFAULT_OUTPUT = Path(__file__).with_name("gb2260.tsv")
COLUMNS = ("code", "name", "province", "prefecture", "status")

_PERIOD = re.compile(r"^\[(?P<start>\d*)-(?P<end>\d*)\](?P<name>.*)$")
# Prefecture-level rows that group counties without being a place of their own.
_GROUPINGS = frozenset({"市辖区", "县", "林区"})


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str
    name: str
    current: bool


def latest(value: str) -> tuple[str, bool]:
    """The last name of a ``county`` value and whether that period is still open."""
    last = value.split(",")[-1].strip()
    match = _PERIOD.match(last)
    if match is None:
        return last, True
    return match["name"], match["end"] == ""


def _is_grouping(name: str) -> bool:
    return name in _GROUPINGS or "直辖" in name


def _entries() -> Iterator[tuple[str, _Entry]]:
    """(province name, entry) for every code in python-stdnum's division data."""
    database = numdb.get("cn/loc")
    for length, low, high, props, children in database.prefixes:
        if length != 2 or low != high:
            raise ValueError(f"unexpected province prefix {low}-{high}")
        province = props.get("province", "")
        for sub_length, sub_low, sub_high, sub_props, _ in children:
            if sub_length != 4 or sub_low != sub_high or "county" not in sub_props:
                raise ValueError(f"unexpected division entry {low}{sub_low}-{sub_high}")
            name, current = latest(sub_props["county"])
            yield province, _Entry(low + sub_low, name, current)


def build_rows() -> list[tuple[str, str, str, str, str]]:
    """The table's rows, sorted by code."""
    listed = list(_entries())
    by_code = {entry.code: entry for _, entry in listed}
    provinces: dict[str, str] = {}
    for header, entry in listed:
        # The 0000 row spells the name in simplified characters (the header does not always).
        head = by_code.get(entry.code[:2] + "0000")
        provinces[entry.code[:2]] = head.name if head else header
    rows = []
    for code in sorted(by_code):
        entry = by_code[code]
        if code.endswith("0000"):
            prefecture = ""
        elif code.endswith("00"):
            prefecture = "" if _is_grouping(entry.name) else entry.name
        else:
            parent = by_code.get(code[:4] + "00")
            prefecture = "" if parent is None or _is_grouping(parent.name) else parent.name
        status = "current" if entry.current else "retired"
        rows.append((code, entry.name, provinces[code[:2]], prefecture, status))
    return rows


def write_table(path: Path) -> int:
    rows = build_rows()
    lines = ["\t".join(COLUMNS), *("\t".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    count = write_table(args.output)
    print(f"{count} division codes written to {args.output}")


if __name__ == "__main__":
    main()
