"""Remarks (备注) as clerks type them: short notes that now and then embed personal data.

Each remark comes with labels saying where every identifier in it is and what kind it is, so
the scrubber can be scored on them (``govbus privacy scrub-eval``). The mix holds what real
remarks carry: ID numbers with and without X and of the first generation (15 digits), mobiles
with separators, landlines, bank cards, names after a cue, and numbers that are none of these
(record and order numbers, amounts, dates), plus cues followed by no name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from random import Random
from typing import NamedTuple

from stdnum import luhn

from connectors.simulator.pools import FakerPools
from connectors.simulator.world import add_years
from topics.codes.citizen_id import MAX_SEQUENCE, make_citizen_id
from topics.codes.phone_plan import FIXED_LINE_PATTERN
from topics.codes.sex import SexCode
from topics.free_text import Span, TextKind

_PLAIN = ("补发证件", "更正当事人信息", "档案补录", "涉外婚姻登记", "材料齐全", "已电话回访",
          "当事人现场确认", "补正材料后办结")
# Cues followed by something other than a name; a scrubber must leave these alone.
_CUES_WITHOUT_NAME = ("联系人已变更", "申请人本人到场", "户主同意迁入", "联系人电话待补",
                      "申请人未到场", "经办人签字确认", "户主变更登记", "联系人：本人")
_NAME_CUES = ("联系人", "户主", "申请人", "经办人", "代理人", "监护人")
_NAME_JOINERS = ("", "", "：", "为")
_AFTER_NAME = ("", "到场办理", "已迁出", "本人签字", "说明情况", "同意", "")
_ID_CUES = ("身份证号", "身份证", "证件号码", "公民身份号码")
_MOBILE_CUES = ("电话", "手机", "联系电话", "手机号")
_LANDLINE_CUES = ("座机", "单位电话", "固话")
_CARD_CUES = ("银行卡号", "退款账户", "卡号")
# Area codes of the demo cities (合肥 0551, 芜湖 0553) and of a few others people call from.
_AREA_CODES = ("0551", "0553", "010", "021", "025", "0571")
_JOINS = ("，", "；", "。", " ")


class LabelledText(NamedTuple):
    text: str
    spans: tuple[Span, ...]


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.length = 0

    def add(self, text: str, kind: TextKind | None = None) -> None:
        if kind is not None:
            self.spans.append(Span(kind, self.length, self.length + len(text)))
        self.parts.append(text)
        self.length += len(text)

    def done(self) -> LabelledText:
        return LabelledText("".join(self.parts), tuple(self.spans))


class RemarkWriter:
    """Remarks drawn from ``rng``; ``identifier_share`` of the clauses embed an identifier."""

    def __init__(self, rng: Random, pools: FakerPools, districts: Sequence[str],
                 identifier_share: float = 0.6) -> None:
        self._rng = rng
        self._pools = pools
        self._districts = tuple(districts)
        self._share = identifier_share
        self._clauses: tuple[Callable[[_Builder], None], ...] = (
            self._name, self._name, self._id_number, self._id_number, self._mobile,
            self._landline, self._card,
        )
        self._fillers: tuple[Callable[[_Builder], None], ...] = (
            self._plain, self._plain, self._cue_without_name, self._other_number,
        )

    def remark(self) -> LabelledText:
        rng = self._rng
        out = _Builder()
        for i in range(rng.randint(1, 3)):
            if i:
                out.add(rng.choice(_JOINS))
            pool = self._clauses if rng.random() < self._share else self._fillers
            pool[rng.randrange(len(pool))](out)
        return out.done()

    # --- clauses with an identifier ------------------------------------------------------

    def _name(self, out: _Builder) -> None:
        rng, pools = self._rng, self._pools
        given = pools.male_given if rng.random() < 0.5 else pools.female_given
        out.add(rng.choice(_NAME_CUES) + rng.choice(_NAME_JOINERS))
        out.add(rng.choice(pools.surnames) + rng.choice(given), TextKind.NAME)
        out.add(rng.choice(_AFTER_NAME))

    def _id_number(self, out: _Builder) -> None:
        rng = self._rng
        out.add(rng.choice(_ID_CUES))
        pick = rng.random()
        if pick < 0.2:
            out.add(self._id_15(), TextKind.ID_15)
        elif pick < 0.45:
            out.add(self._id_18(want_x=True), TextKind.ID_18X)
        else:
            out.add(self._id_18(want_x=False), TextKind.ID_18)

    def _mobile(self, out: _Builder) -> None:
        rng = self._rng
        number = self._pools.mobiles[rng.randrange(len(self._pools.mobiles))]
        style = rng.randrange(5)
        if style == 1:
            number = f"{number[:3]}-{number[3:7]}-{number[7:]}"
        elif style == 2:
            number = f"{number[:3]} {number[3:7]} {number[7:]}"
        elif style == 3:
            number = "+86" + number
        elif style == 4:
            number = f"+86 {number[:3]} {number[3:7]} {number[7:]}"
        out.add(rng.choice(_MOBILE_CUES))
        out.add(number, TextKind.MOBILE)

    def _landline(self, out: _Builder) -> None:
        rng = self._rng
        while True:
            area = rng.choice(_AREA_CODES)
            subscriber = str(rng.randint(2, 8)) + "".join(
                str(rng.randrange(10)) for _ in range(6 if len(area) == 4 else 7))
            if FIXED_LINE_PATTERN.fullmatch(area[1:] + subscriber):
                break
        style = rng.randrange(4)
        if style == 0:
            number = f"{area}-{subscriber}"
        elif style == 1:
            number = f"({area}){subscriber}"
        elif style == 2:
            number = f"{area} {subscriber[:-4]} {subscriber[-4:]}"
        else:
            number = area + subscriber
        out.add(rng.choice(_LANDLINE_CUES))
        out.add(number, TextKind.LANDLINE)

    def _card(self, out: _Builder) -> None:
        rng = self._rng
        length = rng.choice((16, 19))
        body = "62" + "".join(str(rng.randrange(10)) for _ in range(length - 3))
        number = body + luhn.calc_check_digit(body)
        if rng.random() < 0.3:
            number = " ".join(number[i:i + 4] for i in range(0, length, 4))
        out.add(rng.choice(_CARD_CUES))
        out.add(number, TextKind.BANK_CARD)

    # --- clauses without one -------------------------------------------------------------

    def _plain(self, out: _Builder) -> None:
        out.add(self._rng.choice(_PLAIN))

    def _cue_without_name(self, out: _Builder) -> None:
        out.add(self._rng.choice(_CUES_WITHOUT_NAME))

    def _other_number(self, out: _Builder) -> None:
        rng = self._rng
        pick = rng.randrange(5)
        if pick == 0:
            out.add(f"档案号{rng.randint(10**7, 10**10 - 1)}")
        elif pick == 1:
            out.add(f"金额{rng.randint(100, 99_999)}元")
        elif pick == 2:
            day = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(366))
            out.add(f"办理日期{day.isoformat()}")
        elif pick == 3:  # order numbers: a date, then a serial; 16-19 digits like a card
            digits = rng.randint(16, 19)
            out.add(f"订单号2024{rng.randrange(10 ** (digits - 4)):0{digits - 4}d}")
        else:
            office = rng.choice(self._districts)
            out.add(f"证书编号J{office}-2024-{rng.randrange(10**6):06d}")

    # --- numbers -------------------------------------------------------------------------

    def _birth(self) -> dt.date:
        return dt.date(1940, 1, 1) + dt.timedelta(days=self._rng.randrange(365 * 66))

    def _id_18(self, *, want_x: bool) -> str:
        rng = self._rng
        while True:
            sex = SexCode.MALE if rng.random() < 0.5 else SexCode.FEMALE
            number = make_citizen_id(rng.choice(self._districts), self._birth(),
                                     rng.randint(0, MAX_SEQUENCE), sex)
            if (number[-1] == "X") == want_x:
                return number

    def _id_15(self) -> str:
        # First-generation numbers were given until 1999, to people born in the 1900s.
        birth = self._birth()
        if birth.year >= 1990:
            birth = add_years(birth, -50)  # 29 February may not exist 50 years back
        return (f"{self._rng.choice(self._districts)}{birth:%y%m%d}"
                f"{self._rng.randint(1, 999):03d}")
