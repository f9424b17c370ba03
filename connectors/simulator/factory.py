"""New residents, enterprises, licences and marriage registrations, as rows and entities.

Every number is made to the standard (citizen ID, USCC) and agrees with the row around it;
values are spelled the way departments spell them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from random import Random

from connectors.simulator.formats import department_date, department_sex
from connectors.simulator.pools import (
    BUSINESS_SCOPES,
    CROPS,
    ETHNICITIES,
    SHOP_KINDS,
    FakerPools,
)
from connectors.simulator.remarks import RemarkWriter
from connectors.simulator.world import Enterprise, Licence, Marriage, Person, Row, add_years
from topics.codes.citizen_id import MAX_SEQUENCE, make_citizen_id
from topics.codes.divisions import Division, DivisionTable
from topics.codes.sex import SexCode
from topics.codes.uscc import USCC_ALPHABET, make_uscc

# Share of new marriage registrations with a remark (备注) typed at the counter.
REMARKED = 0.3
# GB 32100 codes given since the reform start with "MA" in the organization code body.
USCC_REFORM = dt.date(2015, 10, 1)


@dataclass(frozen=True, slots=True)
class LicenceType:
    name: str
    holder_kind: str  # person | organization
    years: int | None  # validity; None = does not expire
    number_prefix: str
    authority: str  # template over {province}, {prefecture}, {district}


PERSON_LICENCES = (
    LicenceType("机动车驾驶证", "person", 6, "JZ", "{prefecture}公安局交通警察支队"),
    LicenceType("医师执业证书", "person", None, "YS", "{province}卫生健康委员会"),
    LicenceType("教师资格证", "person", None, "JS", "{district}教育体育局"),
    LicenceType("导游证", "person", 3, "DY", "{province}文化和旅游厅"),
)
ORGANIZATION_LICENCES = (
    LicenceType("食品经营许可证", "organization", 5, "JY", "{district}市场监督管理局"),
    LicenceType("道路运输经营许可证", "organization", 4, "YZ", "{prefecture}交通运输局"),
    LicenceType("排污许可证", "organization", 5, "PW", "{prefecture}生态环境局"),
    LicenceType("建筑业企业资质证书", "organization", 5, "JZZ", "{province}住房和城乡建设厅"),
)
LICENCE_TYPES = {t.name: t for t in PERSON_LICENCES + ORGANIZATION_LICENCES}

# (USCC entity type, 企业类型 as market regulation writes it, cumulative share)
_ENTERPRISE_KINDS = (
    ("1", "有限责任公司(自然人投资或控股)", 0.55),
    ("1", "有限责任公司(自然人独资)", 0.65),
    ("1", "股份有限公司(非上市、自然人投资或控股)", 0.70),
    ("1", "个人独资企业", 0.75),
    ("2", "个体工商户", 0.95),
    ("3", "农民专业合作社", 1.0),
)


class RowFactory:
    """Makes new entities and their first rows; tracks the numbers already given out."""

    def __init__(self, rng: Random, pools: FakerPools, divisions: DivisionTable,
                 districts: tuple[str, ...]) -> None:
        self._rng = rng
        self._pools = pools
        self._divisions = divisions
        self.districts = districts
        self._places = {code: self._place(code) for code in districts}
        self.remarks = RemarkWriter(rng, pools, districts)
        self._id_numbers: set[str] = set()
        self._usccs: set[str] = set()
        self._names: set[str] = set()
        self._counters = {"resident": 0, "enterprise": 0, "licence": 0, "marriage": 0}

    def _next(self, kind: str) -> int:
        self._counters[kind] += 1
        return self._counters[kind]

    def _place(self, code: str) -> Division:
        division = self._divisions.lookup(code)
        if division is None:
            raise ValueError(f"{code} is not in the division table")
        return division

    # --- shared values -------------------------------------------------------------------

    def address(self, division: str) -> str:
        """A street address inside the district, with or without province and city."""
        rng = self._rng
        place = self._places[division]
        head = rng.choice((place.full_name, place.full_name, place.prefecture + place.name))
        street = rng.choice(self._pools.streets)
        tail = f"{rng.randint(1, 999)}号"
        if rng.random() < 0.6:
            room = f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}"
            tail += f"{rng.randint(1, 30)}栋{rng.randint(1, 6)}单元{room}室"
        return f"{head}{street}{tail}"

    def phone(self) -> str:
        return self._pools.mobiles[self._rng.randrange(len(self._pools.mobiles))]

    def date(self, day: dt.date) -> str:
        return department_date(day, self._rng)

    def day_between(self, first: dt.date, last: dt.date) -> dt.date:
        if last <= first:
            return first
        return first + dt.timedelta(days=self._rng.randint(0, (last - first).days))

    # --- residents -----------------------------------------------------------------------

    def person(self, birth: dt.date, registered: dt.date) -> tuple[Person, Row]:
        rng = self._rng
        sex = SexCode.MALE if rng.random() < 0.5 else SexCode.FEMALE
        division = rng.choice(self.districts)
        while True:
            id_number = make_citizen_id(division, birth, rng.randint(0, MAX_SEQUENCE), sex)
            if id_number not in self._id_numbers:
                self._id_numbers.add(id_number)
                break
        given = self._pools.male_given if sex is SexCode.MALE else self._pools.female_given
        name = rng.choice(self._pools.surnames) + rng.choice(given)
        person = Person(f"RK{self._next('resident'):010d}", id_number, name, sex, birth, division)
        row: Row = {
            "resident_id": person.resident_id,
            "id_number": id_number,
            "name": name,
            "sex": department_sex(sex, rng),
            "birth_date": self.date(birth),
            "ethnicity": "汉族" if rng.random() < 0.92 else rng.choice(ETHNICITIES),
            "division_code": division,
            "address": self.address(division),
            "phone": self.phone() if (registered - birth).days > 16 * 365 else None,
            "status": "正常",
            "registered_date": self.date(registered),
        }
        return person, row

    # --- enterprises ---------------------------------------------------------------------

    def enterprise(self, representative: Person, established: dt.date) -> tuple[Enterprise, Row]:
        rng = self._rng
        pick = rng.random()
        entity_type, kind = next((t, k) for t, k, share in _ENTERPRISE_KINDS if pick < share)
        division = rng.choice(self.districts)
        uscc = self._uscc(entity_type, division, established)
        name = self._enterprise_name(entity_type, self._places[division])
        enterprise = Enterprise(f"QY{self._next('enterprise'):010d}", uscc, name, division,
                                established)
        capital = (
            round(rng.uniform(1, 50), 2) if entity_type == "2"
            else float(rng.choice((10, 30, 50, 100, 200, 500, 1000, 3000, 5000)))
        )
        row: Row = {
            "enterprise_id": enterprise.enterprise_id,
            "uscc": uscc,
            "name": name,
            "enterprise_type": kind,
            "status": rng.choice(("存续", "存续", "在业")),
            "legal_rep_name": representative.name,
            "legal_rep_id_number": representative.id_number,
            "registered_capital": capital,
            "established_date": self.date(established),
            "division_code": division,
            "address": self.address(division),
            "contact_phone": self.phone(),
            "business_scope": "；".join(rng.sample(BUSINESS_SCOPES, rng.randint(1, 4))),
        }
        return enterprise, row

    def _uscc(self, entity_type: str, division: str, established: dt.date) -> str:
        rng = self._rng
        while True:
            if established >= USCC_REFORM:
                body = "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(6))
            else:
                body = f"{rng.randint(0, 99_999_999):08d}"
            code = make_uscc("9", entity_type, division, body)
            if code not in self._usccs:
                self._usccs.add(code)
                return code

    def _enterprise_name(self, entity_type: str, place: Division) -> str:
        rng, pools = self._rng, self._pools
        city = place.prefecture.removesuffix("市")
        for attempt in range(50):
            word = rng.choice(pools.company_words)
            extra = rng.choice(pools.male_given) if attempt else ""
            if entity_type == "2":
                name = f"{place.name}{word}{extra}{rng.choice(SHOP_KINDS)}"
            elif entity_type == "3":
                name = f"{place.name}{word}{extra}{rng.choice(CROPS)}种植专业合作社"
            else:
                name = f"{city}{word}{extra}{rng.choice(pools.company_suffixes)}"
            if name not in self._names:
                break
        self._names.add(name)
        return name

    # --- licences ------------------------------------------------------------------------

    def licence(self, kind: LicenceType, holder: Person | Enterprise, issued: dt.date,
                today: dt.date) -> tuple[Licence, Row]:
        if isinstance(holder, Person):
            holder_key, id_number, uscc = holder.resident_id, holder.id_number, None
        else:
            holder_key, id_number, uscc = holder.enterprise_id, None, holder.uscc
        expires = self.expiry(kind, issued)
        licence = Licence(f"ZZ{self._next('licence'):010d}", kind.name, holder_key, issued, expires)
        place = self._places[holder.division]
        # County-level cities run their own bureaus; districts and counties go by the city.
        district = place.name if place.name.endswith("市") else place.prefecture + place.name
        serial = self._rng.randint(0, 99_999_999)
        row: Row = {
            "licence_id": licence.licence_id,
            "licence_type": kind.name,
            "licence_no": f"{kind.number_prefix}{holder.division}{serial:08d}",
            "holder_kind": kind.holder_kind,
            "holder_id_number": id_number,
            "holder_uscc": uscc,
            "holder_name": holder.name,
            "issue_date": self.date(issued),
            "expiry_date": self.date(expires) if expires else None,
            "issuing_authority": kind.authority.format(
                province=place.province, prefecture=place.prefecture, district=district
            ),
            "status": "有效" if expires is None or expires >= today else "过期",
        }
        return licence, row

    @staticmethod
    def expiry(kind: LicenceType, issued: dt.date) -> dt.date | None:
        """The last valid day: the day before the anniversary, as licences state it."""
        if kind.years is None:
            return None
        return add_years(issued, kind.years) - dt.timedelta(days=1)

    # --- marriage registrations ----------------------------------------------------------

    def registration(self, kind: str, party_a: Person, party_b: Person,
                     registered: dt.date) -> tuple[Marriage, Row]:
        number = self._next("marriage")
        office = party_a.division
        letter = "J" if kind == "结婚" else "L"
        row: Row = {
            "registration_id": f"HY{number:010d}",
            "kind": kind,
            "party_a_id_number": party_a.id_number,
            "party_a_name": party_a.name,
            "party_a_birth_date": self.date(party_a.birth),
            "party_b_id_number": party_b.id_number,
            "party_b_name": party_b.name,
            "party_b_birth_date": self.date(party_b.birth),
            "registered_date": self.date(registered),
            "office_division_code": office,
            "certificate_no": f"{letter}{office}-{registered.year}-{number % 1_000_000:06d}",
            "remarks": self.remarks.remark().text if self._rng.random() < REMARKED else None,
        }
        return Marriage(row["registration_id"], kind), row
