"""What happens in the demo city: births and moves, enterprises opening and closing, licences
issued, renewed and revoked, marriages and divorces, each as row changes in four tables.

Links always point at rows that exist: a legal representative or licence holder is a living
resident, an enterprise's licences are deleted before it is, married couples are adults of
opposite sex. Residents are never deleted (deaths and moves are status changes), so anything
once linked to a resident stays resolvable.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from random import Random
from typing import Any, NamedTuple

from connectors.simulator.factory import (
    LICENCE_TYPES,
    ORGANIZATION_LICENCES,
    PERSON_LICENCES,
    RowFactory,
)
from connectors.simulator.world import (
    ENTERPRISE,
    LICENCE,
    MARRIAGE,
    RESIDENT,
    Enterprise,
    Licence,
    Marriage,
    Person,
    Row,
    Table,
    add_years,
)
from topics.codes.sex import SexCode

ADULT = 18
MARRIAGE_AGE = {SexCode.MALE: 22, SexCode.FEMALE: 20}  # 婚姻法 minimum ages
# A life's marriages at most: without a bound, once the single adults were married the few
# divorcees married again and again (one person hundreds of times in a soak), and their
# profiles, carrying every marriage, grew without end.
MAX_MARRIAGES = 3
_ENTERPRISE_STATUSES = ("存续", "在业", "吊销")
_TRIES = 40
# Few people are single and of age at any moment; giving up early (another change is drawn
# instead) is cheaper than searching on.
_MATCH_TRIES = 12


class Change(NamedTuple):
    source: str
    op: str
    before: Row | None
    after: Row | None


class Activity:
    """The four tables and the changes that can happen to them."""

    def __init__(self, rng: Random, factory: RowFactory, population: int) -> None:
        self._rng = rng
        self._make = factory
        self.residents: Table[Person] = Table()
        self.enterprises: Table[Enterprise] = Table()
        self.licences: Table[Licence] = Table()
        self.marriages: Table[Marriage] = Table()
        self.tables: dict[str, Table[Any]] = {
            RESIDENT: self.residents,
            ENTERPRISE: self.enterprises,
            LICENCE: self.licences,
            MARRIAGE: self.marriages,
        }
        self._marriage_order: deque[str] = deque()
        # Caps keep an endless run's memory flat; creations pause while a table is full.
        self._caps = {
            RESIDENT: 3 * population,
            ENTERPRISE: max(population // 2, 10),
            LICENCE: max(population, 20),
            MARRIAGE: max(population, 20),
        }
        self.operations: tuple[tuple[int, Callable[[dt.date], list[Change]]], ...] = (
            (6, self.resident_created),
            (24, self.resident_updated),
            (6, self.enterprise_created),
            (10, self.enterprise_updated),
            (3, self.enterprise_deleted),
            (12, self.licence_created),
            (12, self.licence_updated),
            (5, self.licence_deleted),
            (7, self.marriage_registered),
            (3, self.marriage_updated),
        )

    # --- the initial population ----------------------------------------------------------

    def populate(self, population: int, today: dt.date) -> None:
        """The tables as they stand before the first snapshot."""
        rng, make = self._rng, self._make
        for _ in range(population):
            # Triangular ages: many of working age, fewer children and old people.
            birth = today - dt.timedelta(days=int(rng.triangular(0, 90 * 365, 33 * 365)))
            registered = make.day_between(birth, min(birth + dt.timedelta(days=60), today))
            if rng.random() < 0.3 and add_years(birth, ADULT) < today:
                registered = make.day_between(add_years(birth, ADULT), today)  # moved in
            person, row = make.person(birth, registered)
            if rng.random() < 0.02:
                person.status = row["status"] = "迁出"
            self.residents.add(person.resident_id, person, row)
        self._populate_marriages(today)
        for _ in range(max(population // 4, 1)):
            self.enterprise_created(today, backdate=True)
        for _ in range(max(population // 2, 1)):
            self.licence_created(today, backdate=True)

    def _populate_marriages(self, today: dt.date) -> None:
        rng = self._rng
        singles: dict[SexCode, list[Person]] = {SexCode.MALE: [], SexCode.FEMALE: []}
        for key in self.residents.key_list():
            person = self.residents.entity(key)
            if self._can_marry(person, today):
                singles[person.sex].append(person)
        for man, woman in zip(singles[SexCode.MALE], singles[SexCode.FEMALE], strict=False):
            if rng.random() < 0.6:
                first = max(add_years(man.birth, MARRIAGE_AGE[SexCode.MALE]),
                            add_years(woman.birth, MARRIAGE_AGE[SexCode.FEMALE]))
                self._register("结婚", man, woman, self._make.day_between(first, today))

    # --- residents -----------------------------------------------------------------------

    def resident_created(self, today: dt.date) -> list[Change]:
        if len(self.residents) >= self._caps[RESIDENT]:
            return []
        rng, make = self._rng, self._make
        if rng.random() < 0.7:  # a birth, registered within a month
            birth = today - dt.timedelta(days=rng.randint(0, 30))
        else:  # an adult moving in
            birth = today - dt.timedelta(days=rng.randint(ADULT * 365 + 5, 70 * 365))
        person, row = make.person(birth, today)
        self.residents.add(person.resident_id, person, row)
        return [Change(RESIDENT, "c", None, row)]

    def resident_updated(self, today: dt.date) -> list[Change]:
        person = self._person(lambda p: p.status != "死亡")
        if person is None:
            return []
        rng, make = self._rng, self._make
        before = self.residents.row(person.resident_id)
        after = dict(before)
        pick = rng.random()
        if pick < 0.05 and person.age(today) >= 60 and person.status == "正常":
            after["status"] = person.status = "死亡"
            self._widow(person)
        elif pick < 0.15 and person.age(today) >= ADULT:
            after["status"] = person.status = "迁出" if person.status == "正常" else "正常"
        elif pick < 0.45 and person.age(today) >= 16:
            after["phone"] = make.phone()
        else:
            after["address"] = make.address(person.division)
        if after == before:  # the same phone or representative drawn again
            return []
        self.residents.replace(person.resident_id, after)
        return [Change(RESIDENT, "u", before, after)]

    def _widow(self, person: Person) -> None:
        if person.spouse is not None:
            self.residents.entity(person.spouse).spouse = None
            person.spouse = None

    # --- enterprises ---------------------------------------------------------------------

    def enterprise_created(self, today: dt.date, *, backdate: bool = False) -> list[Change]:
        if len(self.enterprises) >= self._caps[ENTERPRISE]:
            return []
        representative = self._adult(today)
        if representative is None:
            return []
        established = today
        if backdate:
            first = max(add_years(representative.birth, ADULT), add_years(today, -30))
            established = self._make.day_between(first, today)
        enterprise, row = self._make.enterprise(representative, established)
        self.enterprises.add(enterprise.enterprise_id, enterprise, row)
        return [Change(ENTERPRISE, "c", None, row)]

    def enterprise_updated(self, today: dt.date) -> list[Change]:
        if not self.enterprises:
            return []
        rng, make = self._rng, self._make
        enterprise = self.enterprises.entity(self.enterprises.pick(rng))
        before = self.enterprises.row(enterprise.enterprise_id)
        after = dict(before)
        pick = rng.random()
        if pick < 0.3:
            after["status"] = rng.choice([s for s in _ENTERPRISE_STATUSES if s != before["status"]])
        elif pick < 0.5:
            after["contact_phone"] = make.phone()
        elif pick < 0.7:
            after["address"] = make.address(enterprise.division)
        elif pick < 0.85 and before["registered_capital"] is not None:
            capital = before["registered_capital"] * rng.uniform(1.1, 3)
            after["registered_capital"] = round(capital, 2)
        else:
            representative = self._adult(today)
            if representative is None:
                return []
            after["legal_rep_name"] = representative.name
            after["legal_rep_id_number"] = representative.id_number
        if after == before:  # the same phone or representative drawn again
            return []
        self.enterprises.replace(enterprise.enterprise_id, after)
        return [Change(ENTERPRISE, "u", before, after)]

    def enterprise_deleted(self, today: dt.date) -> list[Change]:
        """Deregistration (注销): its licences are revoked first, then the row goes."""
        if len(self.enterprises) <= self._caps[ENTERPRISE] // 4:
            return []
        key = self.enterprises.pick(self._rng)
        enterprise = self.enterprises.entity(key)
        changes = [Change(LICENCE, "d", self.licences.remove(lid), None)
                   for lid in enterprise.licences]
        changes.append(Change(ENTERPRISE, "d", self.enterprises.remove(key), None))
        return changes

    # --- licences ------------------------------------------------------------------------

    def licence_created(self, today: dt.date, *, backdate: bool = False) -> list[Change]:
        if len(self.licences) >= self._caps[LICENCE]:
            return []
        rng, make = self._rng, self._make
        holder: Person | Enterprise | None
        if rng.random() < 0.55 or not self.enterprises:
            holder = self._adult(today)
            kind = rng.choice(PERSON_LICENCES)
            since = add_years(holder.birth, ADULT) if holder else today
        else:
            holder = self.enterprises.entity(self.enterprises.pick(rng))
            kind = rng.choice(ORGANIZATION_LICENCES)
            since = holder.established
        if holder is None:
            return []
        issued = make.day_between(max(since, add_years(today, -8)), today) if backdate else today
        licence, row = make.licence(kind, holder, issued, today)
        self.licences.add(licence.licence_id, licence, row)
        if isinstance(holder, Enterprise):
            holder.licences[licence.licence_id] = None
        return [Change(LICENCE, "c", None, row)]

    def licence_updated(self, today: dt.date) -> list[Change]:
        if not self.licences:
            return []
        make = self._make
        licence = self.licences.entity(self.licences.pick(self._rng))
        before = self.licences.row(licence.licence_id)
        after = dict(before)
        if licence.expires is not None and licence.expires < today and before["status"] == "有效":
            after["status"] = "过期"
        elif licence.issued == today:
            return []  # nothing to renew on the day of issue
        else:  # renewal, or re-issue (换证) for licences that do not expire
            licence.issued = today
            licence.expires = make.expiry(LICENCE_TYPES[licence.type_name], today)
            after["issue_date"] = make.date(today)
            after["expiry_date"] = make.date(licence.expires) if licence.expires else None
            after["status"] = "有效"
        self.licences.replace(licence.licence_id, after)
        return [Change(LICENCE, "u", before, after)]

    def licence_deleted(self, today: dt.date) -> list[Change]:
        """Revocation (吊销/注销) of one licence."""
        if len(self.licences) <= self._caps[LICENCE] // 4:
            return []
        key = self.licences.pick(self._rng)
        holder_key = self.licences.entity(key).holder_key
        if holder_key in self.enterprises:
            del self.enterprises.entity(holder_key).licences[key]
        return [Change(LICENCE, "d", self.licences.remove(key), None)]

    # --- marriage registrations ----------------------------------------------------------

    def marriage_registered(self, today: dt.date) -> list[Change]:
        if self._rng.random() < 0.8:
            man = self._person(
                lambda p: p.sex is SexCode.MALE and self._can_marry(p, today), _MATCH_TRIES
            )
            woman = man and self._person(
                lambda p: p.sex is SexCode.FEMALE and self._can_marry(p, today), _MATCH_TRIES
            )
            if man is None or woman is None:
                return []
            return [self._register("结婚", man, woman, today)]
        spouse = self._person(lambda p: p.spouse is not None and p.status == "正常", _MATCH_TRIES)
        if spouse is None or spouse.spouse is None:
            return []
        partner = self.residents.entity(spouse.spouse)
        spouse.spouse = partner.spouse = None
        man, woman = (spouse, partner) if spouse.sex is SexCode.MALE else (partner, spouse)
        return [self._register("离婚", man, woman, today)]

    def _register(self, kind: str, man: Person, woman: Person, day: dt.date) -> Change:
        if kind == "结婚":
            man.spouse, woman.spouse = woman.resident_id, man.resident_id
            man.marriages += 1
            woman.marriages += 1
        # Party A is by custom the man, though offices do not insist.
        first, second = (man, woman) if self._rng.random() < 0.8 else (woman, man)
        marriage, row = self._make.registration(kind, first, second, day)
        self.marriages.add(marriage.registration_id, marriage, row)
        self._marriage_order.append(marriage.registration_id)
        if len(self._marriage_order) > self._caps[MARRIAGE]:
            # Old registrations stay in the department's table; we just stop changing them.
            self.marriages.remove(self._marriage_order.popleft())
        return Change(MARRIAGE, "c", None, row)

    def marriage_updated(self, today: dt.date) -> list[Change]:
        if not self.marriages:
            return []
        key = self.marriages.pick(self._rng)
        before = self.marriages.row(key)
        after = {**before, "remarks": self._make.remarks.remark().text}
        if after == before:
            return []
        self.marriages.replace(key, after)
        return [Change(MARRIAGE, "u", before, after)]

    # --- choosing people -----------------------------------------------------------------

    def _person(self, accept: Callable[[Person], bool], tries: int = _TRIES) -> Person | None:
        """A random resident that ``accept`` takes, or None after a few tries."""
        if not self.residents:
            return None
        for _ in range(tries):
            person = self.residents.entity(self.residents.pick(self._rng))
            if accept(person):
                return person
        return None

    def _adult(self, today: dt.date) -> Person | None:
        return self._person(lambda p: p.status == "正常" and p.age(today) >= ADULT)

    @staticmethod
    def _can_marry(person: Person, today: dt.date) -> bool:
        return (
            person.spouse is None
            and person.marriages < MAX_MARRIAGES
            and person.status == "正常"
            and person.age(today) >= MARRIAGE_AGE[person.sex]
        )
