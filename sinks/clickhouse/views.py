"""The theme library views (主题库视图): what a user of each library asks first.

ASCII names, Chinese titles (kept as the views' comments, so ``SHOW TABLES`` tools and
``system.tables`` show them). Profile views read ``FINAL``: one live row per entity, deleted
entities hidden (ReplacingMergeTree's ``is_deleted``).

| view | title |
|---|---|
| v_population_by_district | 人口库: 按区县、年龄段、性别统计人口 |
| v_enterprises_by_type | 法人库: 按企业类型、登记状态、区县统计法人 |
| v_licences_by_type | 电子证照库: 按证照类型、持证主体类别统计证照 |
| v_licences_expiring | 电子证照库: 30 / 90 天内到期的证照 |
| v_quality_by_dept_dimension | 数据质量: 按部门、质量维度统计问题及处理结果 |
| v_k_anonymity | 隐私: 各主题库按准标识符的 k-匿名性 |

Counts of persons, enterprises and licences below k (a setting, default 5) are suppressed
the way statistical offices publish small counts: the cell shows NULL and ``suppressed`` = 1,
not the number. A small count in a table grouped by district, age band and sex singles out
the few people in it. Zero is shown (nobody to single out). Complementary suppression (so
that a suppressed cell cannot be recomputed from a published total) is not done: the views
publish no totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sinks.clickhouse.ddl import TableSpec
from sinks.clickhouse.divisions import DIVISIONS_TABLE
from sinks.clickhouse.kanon import DEFAULT_K, KANON_VIEW, kanon_view_select
from sinks.clickhouse.sql import qualified, quote_literal
from sinks.clickhouse.tables import (
    DETECTED_TIME,
    PROFILE_PREFIX,
    QUALITY_TABLE,
    time_expression,
)
from topics.annotations import Category

# Age bands of the population view: 未成年 < 18, 老年 >= 60 (the legal thresholds). Profiles
# publish the birth year only (see policy.toml), so an age is the one reached this year.
AGE_BANDS: tuple[tuple[int | None, str], ...] = (
    (18, "0-17"),
    (35, "18-34"),
    (60, "35-59"),
    (80, "60-79"),
    (None, "80+"),
)
UNKNOWN = "未知"
# GB/T 2261.1 sex codes.
SEX_NAMES = {"1": "男", "2": "女", "0": "未知的性别", "9": "未说明的性别"}
# Licences whose expiry falls within this many days are listed as expiring.
EXPIRY_WINDOWS = (30, 90)
LICENCE = "licence"  # thing_type of licences (电子证照) among the things


@dataclass(frozen=True, slots=True)
class ViewSpec:
    name: str
    title: str
    select: str


def theme_views(
    database: str, tables: Mapping[str, TableSpec], k: int = DEFAULT_K
) -> tuple[ViewSpec, ...]:
    """The views over ``tables`` (by table name), in dependency order; counts below ``k``
    suppressed."""
    profiles = [tables[f"{PROFILE_PREFIX}{c}"] for c in Category]
    individual = _live(tables, f"{PROFILE_PREFIX}{Category.INDIVIDUAL}")
    organization = _live(tables, f"{PROFILE_PREFIX}{Category.ORGANIZATION}")
    thing = _live(tables, f"{PROFILE_PREFIX}{Category.THING}")
    quality = tables[QUALITY_TABLE]
    divisions = qualified(database, DIVISIONS_TABLE)
    return (
        ViewSpec(
            "v_population_by_district",
            "人口库: 按区县、年龄段、性别统计人口 (population by district, age band, sex)",
            _population(individual, k),
        ),
        ViewSpec(
            "v_enterprises_by_type",
            "法人库: 按企业类型、登记状态、区县统计法人 (enterprises by type, status, district)",
            _enterprises(organization, divisions, k),
        ),
        ViewSpec(
            "v_licences_by_type",
            "电子证照库: 按证照类型、持证主体类别统计证照 (licences by type and holder kind)",
            _licences(thing, k),
        ),
        ViewSpec(
            "v_licences_expiring",
            "电子证照库: 30 / 90 天内到期的证照 (licences expiring within 30 or 90 days)",
            _expiring(thing),
        ),
        ViewSpec(
            "v_quality_by_dept_dimension",
            "数据质量: 按部门、质量维度统计问题及处理结果 (quality findings by department, "
            "dimension and outcome)",
            _quality(quality),
        ),
        ViewSpec(
            KANON_VIEW,
            f"隐私: 各主题库按准标识符的 k-匿名性 (k-anonymity of each theme library over its "
            f"quasi-identifiers, k={k})",
            kanon_view_select(profiles, k),
        ),
    )


def create_view_sql(database: str, view: ViewSpec) -> str:
    """Idempotent and following its definition: replaced on every apply."""
    return (
        f"CREATE OR REPLACE VIEW {qualified(database, view.name)} AS\n{view.select}\n"
        f"COMMENT {quote_literal(view.title)}"
    )


def _live(tables: Mapping[str, TableSpec], name: str) -> str:
    spec = tables[name]
    return f"{spec.qualified_name} FINAL"


def _suppress(count: str, k: int) -> str:
    """The count, or NULL when it is small enough to single people out (1 .. k-1)."""
    return f"if({count} > 0 AND {count} < {k}, NULL, {count})"


def _suppressed_flag(counts: Sequence[str], k: int) -> str:
    return " OR ".join(f"({c} > 0 AND {c} < {k})" for c in counts) + " AS suppressed"


def _unknown(expression: str) -> str:
    return f"ifNull(nullIf({expression}, ''), {quote_literal(UNKNOWN)})"


def _population(individual: str, k: int) -> str:
    bands = ", ".join(
        f"age < {limit}, {quote_literal(label)}" for limit, label in AGE_BANDS if limit is not None
    )
    last = next(label for limit, label in AGE_BANDS if limit is None)
    sexes = ", ".join(
        f"sex_v = {quote_literal(c)}, {quote_literal(n)}" for c, n in SEX_NAMES.items()
    )
    # Inner names differ from the outer aliases: a ClickHouse alias is visible everywhere
    # in its SELECT and would shadow the column it is computed from.
    return f"""SELECT district, age_band, sex_code, sex, {_suppress("n", k)} AS persons,
    {_suppressed_flag(["n"], k)}
FROM (SELECT
    {_unknown("district_v")} AS district,
    multiIf(age IS NULL OR age < 0, {quote_literal(UNKNOWN)}, {bands}, {quote_literal(last)})
        AS age_band,
    ifNull(sex_v, '') AS sex_code,
    multiIf({sexes}, {quote_literal(UNKNOWN)}) AS sex,
    count() AS n
FROM (
    SELECT
        district AS district_v,
        sex AS sex_v,
        toYear(today()) - toInt32OrNull(substring(birth_year, -4)) AS age
    FROM {individual}
)
GROUP BY district, age_band, sex_code, sex)
ORDER BY district, age_band, sex_code"""


def _enterprises(organization: str, divisions: str, k: int) -> str:
    return f"""SELECT enterprise_type, status, district_code, district_name,
    {_suppress("n", k)} AS enterprises, {_suppressed_flag(["n"], k)}
FROM (SELECT
    enterprise_type,
    status,
    district_code,
    ifNull(any(d.full_name), {quote_literal(UNKNOWN)}) AS district_name,
    sum(o.enterprises) AS n
FROM (
    SELECT
        {_unknown("type_v")} AS enterprise_type,
        {_unknown("status_v")} AS status,
        substring(ifNull(division_v, ''), 1, 6) AS district_code,
        count() AS enterprises
    FROM (
        SELECT enterprise_type AS type_v, status AS status_v, division_code AS division_v
        FROM {organization}
    )
    GROUP BY enterprise_type, status, district_code
) AS o
LEFT JOIN (SELECT code, full_name FROM {divisions} FINAL) AS d ON d.code = o.district_code
GROUP BY enterprise_type, status, district_code)
ORDER BY enterprise_type, status, district_code
SETTINGS join_use_nulls = 1"""


def _licence_rows(thing: str) -> str:
    return f"""SELECT *, licence_type AS licence_type_v, holder_kind AS holder_kind_v,
        toDate32OrNull(expiry_date) AS expiry
    FROM {thing}
    WHERE thing_type = {quote_literal(LICENCE)}"""


def _licences(thing: str, k: int) -> str:
    counts = {
        "licences": "count()",
        "without_expiry": "countIf(expiry IS NULL)",
        "expired": "countIf(expiry < today())",
        **{f"expiring_{days}d": f"countIf(expiry >= today() AND expiry <= today() + {days})"
           for days in EXPIRY_WINDOWS},
    }
    inner = ",\n    ".join(f"{expression} AS {name}_n" for name, expression in counts.items())
    outer = ", ".join(f"{_suppress(f'{name}_n', k)} AS {name}" for name in counts)
    return f"""SELECT licence_type, holder_kind, {outer},
    {_suppressed_flag([f"{name}_n" for name in counts], k)}
FROM (SELECT
    {_unknown("licence_type_v")} AS licence_type,
    {_unknown("holder_kind_v")} AS holder_kind,
    {inner}
FROM ({_licence_rows(thing)})
GROUP BY licence_type, holder_kind)
ORDER BY licence_type, holder_kind"""


def _expiring(thing: str) -> str:
    short, long = min(EXPIRY_WINDOWS), max(EXPIRY_WINDOWS)
    return f"""SELECT
    thing_key,
    licence_type,
    licence_no,
    holder_kind,
    holder_key,
    holder_name,
    issuing_authority,
    status,
    expiry AS expiry_date,
    dateDiff('day', today(), expiry) AS days_left,
    if(days_left <= {short}, 'within_{short}d', 'within_{long}d') AS window
FROM ({_licence_rows(thing)})
WHERE expiry >= today() AND expiry <= today() + {long}
ORDER BY expiry_date, thing_key"""


def _quality(quality: TableSpec) -> str:
    detected = time_expression(quality.schema, DETECTED_TIME)
    return f"""SELECT
    dept,
    dimension,
    uniqExact(finding_id) AS findings,
    uniqExactIf(finding_id, outcome = 'rejected') AS rejected,
    uniqExactIf(finding_id, outcome = 'repaired') AS repaired,
    uniqExactIf(finding_id, outcome = 'flagged') AS flagged,
    min({detected}) AS first_detected,
    max({detected}) AS last_detected
FROM {quality.qualified_name}
GROUP BY dept, dimension
ORDER BY dept, dimension"""

