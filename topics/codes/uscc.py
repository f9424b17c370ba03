"""GB 32100 unified social credit codes (统一社会信用代码) and their GB 11714 organization codes.

Layout (18 characters from ``USCC_ALPHABET``): registration authority (1), entity type (1),
division code of the registering office (6 digits, GB/T 2260), organization code (8 + a
GB 11714 MOD 11 check character), and a MOD 31 check character over the first 17.

``stdnum.cn.uscc.validate`` demands digits in positions 1-8 and so rejects every code whose
authority is A, N or Y; validation here follows the standard instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from stdnum.cn import uscc as stdnum_uscc

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_ALPHABET_SET = frozenset(USCC_ALPHABET)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# 登记管理部门代码 -> its name and its 机构类别代码 (GB 32100 and later additions).
REGISTRATION_AUTHORITIES: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType({
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体",
                       "9": "其他"}),
    "2": ("外交", {"1": "外国常住新闻机构", "9": "其他"}),
    "3": ("司法行政", {"1": "律师执业机构", "2": "公证处", "3": "基层法律服务所",
                       "4": "司法鉴定机构", "5": "仲裁委员会", "9": "其他"}),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": ("旅游", {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地(大陆)代表机构",
                   "9": "其他"}),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织",
                   "9": "其他"}),
    "Y": ("其他", {"1": "其他"}),
})


def _in_alphabet(text: str) -> bool:
    return _ALPHABET_SET.issuperset(text)


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character of an 8-character organization code body."""
    if len(body) != 8 or not _in_alphabet(body):
        raise ValueError(f"need 8 characters of the code alphabet, got {body!r}")
    # GB 11714 values letters A=10 .. Z=35 over the full Latin alphabet, not the USCC one.
    total = sum(
        (int(char) if char.isdigit() else ord(char) - 55) * weight
        for char, weight in zip(body, _ORG_WEIGHTS, strict=True)
    )
    remainder = 11 - total % 11
    return "X" if remainder == 10 else "0" if remainder == 11 else str(remainder)


def uscc_check_char(first17: str) -> str:
    """The GB 32100 MOD 31 check character of the first 17 characters."""
    if len(first17) != 17 or not _in_alphabet(first17):
        raise ValueError(f"need 17 characters of the code alphabet, got {first17!r}")
    # stdnum's check character is right; only its validate() is too strict (see above).
    return stdnum_uscc.calc_check_digit(first17)


def is_valid_uscc(code: str) -> bool:
    """Structure and MOD 31 check character.

    The embedded organization code's own check character is not required: codes issued in
    the pilot regions before GB 32100 took effect do not always carry a valid one.
    """
    return (
        len(code) == 18
        and _in_alphabet(code)
        and code[2:8].isdigit()
        and uscc_check_char(code[:17]) == code[17]
    )


def make_uscc(authority: str, entity_type: str, division_code: str, org_code_body: str) -> str:
    """A valid code: the organization code gets its GB 11714 check, the whole its MOD 31."""
    known = REGISTRATION_AUTHORITIES.get(authority)
    if known is None:
        raise ValueError(f"unknown registration authority {authority!r}")
    if entity_type not in known[1]:
        raise ValueError(f"entity type {entity_type!r} is not one of {known[0]}'s")
    if len(division_code) != 6 or not (division_code.isascii() and division_code.isdigit()):
        raise ValueError(f"division code must be 6 digits, got {division_code!r}")
    org_code = org_code_body + org_code_check_char(org_code_body)
    first17 = f"{authority}{entity_type}{division_code}{org_code}"
    return first17 + uscc_check_char(first17)
