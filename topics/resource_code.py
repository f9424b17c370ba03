"""Resource codes (信息资源代码) in the form of the national catalog guideline.

The guideline (政务信息资源目录编制指南) codes a resource as its classification — 类 (1 digit),
项 (2 digits), 目 (3 digits), 细目 (any length) — then ``/`` and a 顺序码 (sequence code).
govbus fills the parts from what the resource is, so a code never has to be typed or looked
up, and stays the same whatever else is added to the catalog:

    <类><项><目><细目>/<顺序码>          e.g. 30100102/88309 = std.household.resident

- 类: ``1`` for the theme libraries (基础信息资源: the 人口, 法人 and 电子证照 libraries are the
  guideline's base resources; the event library sits with them), ``3`` for a department's own
  tables, raw and std (部门信息资源).
- 项: the provider's two-digit code, declared once per department in ``sharing.toml``
  (the theme libraries' provider is the bus itself).
- 目: the 4360 category (``CATEGORY_CODES``).
- 细目: the layer (``LAYER_CODES``).
- 顺序码: the CRC-32 of the topic's subject (its source table, or its category for a theme
  library) modulo 100,000, five digits. A table's raw and std resources share it. The topic
  namespace is not part of it, so every environment has the same codes; a collision between
  two resources is a load-time error.
"""

from __future__ import annotations

import zlib
from typing import Final

from topics.annotations import Category
from topics.catalog import Layer

CLASS_BY_LAYER: Final = {Layer.RAW: "3", Layer.STD: "3", Layer.THEME: "1"}
# Fixed by hand, never by enum order: a code must not move when a category is added.
CATEGORY_CODES: Final = {
    Category.INDIVIDUAL: "001",
    Category.ORGANIZATION: "002",
    Category.THING: "003",
    Category.EVENT: "004",
}
LAYER_CODES: Final = {Layer.RAW: "01", Layer.STD: "02", Layer.THEME: "03"}
SEQUENCE_DIGITS: Final = 5


def resource_code(layer: Layer, provider_code: str, category: Category, subject: str) -> str:
    """The code of the ``layer`` resource of ``subject`` (a source table or a category)."""
    sequence = zlib.crc32(subject.encode()) % 10**SEQUENCE_DIGITS
    return (
        f"{CLASS_BY_LAYER[layer]}{provider_code}{CATEGORY_CODES[category]}{LAYER_CODES[layer]}"
        f"/{sequence:0{SEQUENCE_DIGITS}d}"
    )
