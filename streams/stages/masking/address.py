"""Addresses generalized to their county-level district (区/县/县级市/旗).

With a GB/T 2260 code for the same place, the table's full name is used (``安徽省合肥市蜀山区``):
exact, whatever the address text looks like. Without one, the address is cut after its
leading administrative names, read as optional province, prefecture and county parts. That
keeps ``北京市朝阳区`` of ``北京市朝阳区建国路88号`` (cutting at the first 区/县/市 would
give ``北京市`` and lose the district). When no administrative name leads the text, the
result is None: an address is never passed on ungeneralized.
"""

from __future__ import annotations

import re
from typing import Final

from topics.codes.divisions import DivisionTable

# Each part is a short run of name characters closed by that level's suffix. The runs exclude
# the suffixes, so a part cannot swallow the next level, and digits and street words, so
# "人民路88号超市" is never read as a city; the few districts named with those characters
# (路桥区, 鼓楼区, ...) come out one level coarser, which is still safe. Bare 州 is not a
# prefecture suffix, or 杭州市 would read as 杭州 + 市...
_NAME: Final = r"[^省市区县旗0-9A-Za-z号路街巷弄楼室栋村]"
_ADMIN_PREFIX: Final = re.compile(
    rf"(?:{_NAME}{{2,8}}?(?:省|自治区|特别行政区))?"
    rf"(?:{_NAME}{{1,10}}?(?:市|自治州|地区|盟))?"
    rf"(?:{_NAME}{{1,10}}?(?:区|县|市|旗))?"
)
_GROUPING: Final = "市辖区"  # xxxx01 rows group a city's districts; not a place name


def generalize_address(address: str, division_code: str | None, table: DivisionTable) -> str | None:
    """The district an address lies in, from its division code if known, else its text."""
    if division_code is not None:
        name = table.district_name(division_code)
        if name is not None:
            return name.removesuffix(_GROUPING)
    prefix = _ADMIN_PREFIX.match(address)
    return prefix.group() or None if prefix is not None else None
