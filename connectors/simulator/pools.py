"""Faker output drawn once up front, so generating an event costs list picks, not Faker calls.

A Faker call takes tens of microseconds; the simulator feeds throughput benchmarks and must
make tens of thousands of events a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from faker import Faker

from topics.codes.phone_plan import is_cn_mobile

ETHNICITIES = ("回族", "满族", "壮族", "苗族", "土家族", "蒙古族", "彝族", "维吾尔族")
SHOP_KINDS = ("餐馆", "便利店", "理发店", "五金店", "水果店", "副食店", "快餐店", "维修部")
CROPS = ("蔬菜", "水稻", "茶叶", "苗木", "水产", "家禽", "中药材")
BUSINESS_SCOPES = (
    "技术开发、技术咨询、技术服务",
    "软件开发",
    "信息系统集成服务",
    "日用百货销售",
    "食品经营",
    "广告设计、制作、代理",
    "货物进出口",
    "建筑装饰工程施工",
    "道路货物运输",
    "餐饮服务",
    "会议及展览服务",
    "农产品收购与销售",
)


@dataclass(frozen=True, slots=True)
class FakerPools:
    surnames: tuple[str, ...]
    male_given: tuple[str, ...]
    female_given: tuple[str, ...]
    streets: tuple[str, ...]
    mobiles: tuple[str, ...]
    company_words: tuple[str, ...]
    company_suffixes: tuple[str, ...]

    @classmethod
    def draw(cls, faker: Faker, size: int = 2000) -> FakerPools:
        """Pools of ``size`` draws each (fewer where Faker has fewer distinct values)."""

        def distinct(method: str, count: int) -> tuple[str, ...]:
            # Sorted, so the pools do not depend on set order; Faker is seeded by the caller.
            return tuple(sorted({getattr(faker, method)() for _ in range(count)}))

        return cls(
            # Repeats kept: Faker's surnames are frequency-weighted (王, 李, 张 ... lead).
            surnames=tuple(faker.last_name() for _ in range(size)),
            male_given=tuple(faker.first_name_male() for _ in range(size)),
            female_given=tuple(faker.first_name_female() for _ in range(size)),
            streets=distinct("street_name", size),
            # Only numbers the rules stage accepts: Faker also draws data-only ranges (149).
            mobiles=tuple(m for m in distinct("phone_number", size) if is_cn_mobile(m)),
            company_words=distinct("company_prefix", size),
            company_suffixes=distinct("company_suffix", size // 10),
        )
