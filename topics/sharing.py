"""The sharing declaration (``sharing.toml``): what the schemas cannot know about a resource.

The national catalog guideline (政务信息资源目录编制指南) describes each resource by its
sharing type, conditions or legal basis, sharing method, update cycle and open attribute.
Nothing in an Avro schema or the topic catalog says these, so they are declared here, once per
topic, beside the topic catalog; every other field of a catalog entry is derived
(``topics/resource_catalog.py``). This module reads the file's shape only; the rules that need
the topic catalog (raw never shared, no core item in an 无条件 resource, ...) are checked when
the catalog is built.

A TOML file rather than Python: the data office that owns these decisions reviews them as a
document, in the guideline's own words, the way ``streams/stages/masking/policy.toml`` is reviewed.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SHARING_PATH: Final = Path(__file__).with_name("sharing.toml")


class SharingDeclarationError(ValueError):
    """The sharing declaration is malformed or disagrees with the topic catalog (one line)."""


class SharingType(StrEnum):
    """共享类型 (政务信息资源共享管理暂行办法, art. 5)."""

    UNCONDITIONAL = "无条件"
    CONDITIONAL = "有条件"
    NOT_SHARED = "不予共享"


class OpenType(StrEnum):
    """开放属性: whether the resource is opened to the public, beyond the departments."""

    OPEN = "无条件开放"
    CONDITIONAL = "有条件开放"
    CLOSED = "不予开放"


class SharingMethod(StrEnum):
    """共享方式: how a granted department receives the data."""

    SUBSCRIBE = "订阅"  # reads the topic with its own consumer (the faust subscriber kit)
    QUERY = "查询"  # queries the subscription's view of the resource's ClickHouse table


class UpdateCycle(StrEnum):
    """更新周期."""

    REALTIME = "实时"
    DAILY = "每日"
    WEEKLY = "每周"
    MONTHLY = "每月"
    QUARTERLY = "每季度"
    HALF_YEARLY = "每半年"
    YEARLY = "每年"
    IRREGULAR = "不定期"


# How far each reaches: opening a resource to the public may not reach further than sharing it
# between departments.
SHARING_REACH: Final = {
    SharingType.NOT_SHARED: 0,
    SharingType.CONDITIONAL: 1,
    SharingType.UNCONDITIONAL: 2,
}
OPEN_REACH: Final = {OpenType.CLOSED: 0, OpenType.CONDITIONAL: 1, OpenType.OPEN: 2}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SharingTerms(_Strict):
    """The declared part of one catalog entry."""

    sharing: SharingType
    conditions: str | None = Field(None, min_length=1)
    basis: str | None = Field(None, min_length=1)
    methods: tuple[SharingMethod, ...] = ()
    update_cycle: UpdateCycle
    open: OpenType


class Provider(_Strict):
    """信息资源提供方: a department's code in resource codes (never reused) and its name."""

    code: str = Field(pattern=r"^[0-9]{2}$")
    name: str = Field(min_length=1)


class SharingDeclaration(_Strict):
    """``providers`` by department id; ``raw``: the terms of every raw topic not declared
    one by one; ``resources`` by topic name without the namespace."""

    providers: dict[str, Provider]
    raw: SharingTerms
    resources: dict[str, SharingTerms]


def read_declaration(path: Path = SHARING_PATH) -> SharingDeclaration:
    """The declaration's shape, checked; one line naming the entry when it is wrong."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise SharingDeclarationError(f"{path.name}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise SharingDeclarationError(f"{path.name}: not valid TOML: {error}") from None
    try:
        return SharingDeclaration.model_validate(document)
    except ValidationError as error:
        raise SharingDeclarationError(_one_line(path.name, error)) from None


def _one_line(where: str, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    # A resource's key is a topic name with dots: name it as a whole, then the field.
    if len(loc) >= 2 and loc[0] == "resources":
        place = f"{loc[1]}: {'.'.join(loc[2:]) or 'terms'}"
    elif len(loc) >= 2 and loc[0] == "providers":
        place = f"provider {loc[1]}: {'.'.join(loc[2:]) or 'entry'}"
    else:
        place = ".".join(loc) or "top level"
    more = error.error_count() - 1
    return f"{where}: {place}: {first['msg']}" + (f" (and {more} more)" if more else "")
