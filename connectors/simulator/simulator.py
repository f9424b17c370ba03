"""The department simulator: a seeded, endless stream of change events from four departments.

Same seed, same events (ids, timestamps and all): every random choice comes from one
``random.Random`` and one seeded Faker, and time is a simulated clock, not the wall clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import uuid
from collections.abc import Iterator, Sequence
from random import Random

from faker import Faker

from connectors.simulator.activity import Activity, Change
from connectors.simulator.defects import DefectInjector
from connectors.simulator.event import SimulatedEvent
from connectors.simulator.factory import RowFactory
from connectors.simulator.pools import FakerPools
from connectors.simulator.remarks import LabelledText, RemarkWriter
from connectors.simulator.world import KEY_FIELDS, SOURCES
from topics.codes.divisions import division_table

CHINA = dt.timezone(dt.timedelta(hours=8))
SIMULATION_START = dt.datetime(2024, 3, 1, 9, 0, tzinfo=CHINA)
DEMO_PREFECTURES = ("3401", "3402")  # 合肥市, 芜湖市
MEAN_GAP_MS = 2_000  # between two changes, on average, across all four departments


def labelled_remarks(
    count: int, seed: int, prefectures: Sequence[str] = DEMO_PREFECTURES
) -> list[LabelledText]:
    """``count`` remarks as the simulator writes them, each with its identifiers labelled."""
    divisions = division_table()
    districts = tuple(c for p in prefectures for c in divisions.current_county_codes(p))
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    writer = RemarkWriter(Random(seed), FakerPools.draw(faker), districts)
    return [writer.remark() for _ in range(count)]


class DepartmentSimulator:
    """Residents, enterprises, licences and marriages of a demo city, changing over time.

    ``initial_snapshot()`` reads every row once (op ``r``); ``changes()`` then goes on
    forever with creates, updates and deletes. ``events(n)`` hands out the next ``n`` of that
    one stream. A share ``defect_rate`` of the non-delete events carries one labeled defect.
    """

    def __init__(
        self,
        seed: int,
        defect_rate: float = 0.05,
        population: int = 200,
        prefectures: Sequence[str] = DEMO_PREFECTURES,
    ) -> None:
        if not 0.0 <= defect_rate <= 1.0:
            raise ValueError(f"defect_rate must be within 0..1, got {defect_rate}")
        if population < 10:
            raise ValueError(f"population must be at least 10, got {population}")
        divisions = division_table()
        districts = tuple(c for p in prefectures for c in divisions.current_county_codes(p))
        if not districts:
            raise ValueError(f"no current districts in prefectures {list(prefectures)}")
        self.defect_rate = defect_rate
        self._districts = districts
        self._rng = Random(seed)
        faker = Faker("zh_CN")
        faker.seed_instance(seed)
        factory = RowFactory(self._rng, FakerPools.draw(faker), divisions, districts)
        self._injector = DefectInjector(SOURCES, divisions, province=districts[0][:2])
        self._activity = Activity(self._rng, factory, population)
        self._now_ms = int(SIMULATION_START.timestamp() * 1000)
        self._today = SIMULATION_START.date()
        self._tomorrow_ms = 0
        self._set_day()
        self._sequences = dict.fromkeys(SOURCES, 0)
        self._activity.populate(population, self._today)
        self._operations = [operation for _, operation in self._activity.operations]
        self._weights = list(itertools.accumulate(w for w, _ in self._activity.operations))
        self._stream: Iterator[SimulatedEvent] | None = None

    @property
    def districts(self) -> tuple[str, ...]:
        """The county-level division codes the simulated people and enterprises live in."""
        return self._districts

    def initial_snapshot(self) -> Iterator[SimulatedEvent]:
        """Every current row as a snapshot read, residents first (what others link to)."""
        for source in SOURCES:
            table = self._activity.tables[source]
            for key in table.key_list():
                if key in table:  # a change drawn meanwhile may have deleted it
                    self._now_ms += 1
                    yield self._event(Change(source, "r", None, table.row(key)))

    def changes(self) -> Iterator[SimulatedEvent]:
        """Creates, updates and deletes, for ever; a deregistration brings its revocations."""
        rng = self._rng
        total = self._weights[-1]
        while True:
            self._advance()
            # bisect over cumulative weights: random.choices costs several times more.
            operation = self._operations[bisect.bisect(self._weights, rng.random() * total)]
            for change in operation(self._today):
                yield self._event(change)
                self._now_ms += 1  # the revocations of a deregistration follow each other

    def events(self, n: int) -> list[SimulatedEvent]:
        """The next ``n`` events of the one stream: the snapshot first, then changes."""
        if self._stream is None:
            self._stream = itertools.chain(self.initial_snapshot(), self.changes())
        return list(itertools.islice(self._stream, n))

    def _advance(self) -> None:
        self._now_ms += 1 + int(self._rng.expovariate(1 / MEAN_GAP_MS))
        if self._now_ms >= self._tomorrow_ms:
            self._set_day()

    def _set_day(self) -> None:
        moment = dt.datetime.fromtimestamp(self._now_ms / 1000, CHINA)
        self._today = moment.date()
        midnight = dt.datetime.combine(self._today, dt.time(), CHINA) + dt.timedelta(days=1)
        self._tomorrow_ms = int(midnight.timestamp() * 1000)

    def _event(self, change: Change) -> SimulatedEvent:
        rng = self._rng
        source = change.source
        self._sequences[source] += 1
        image = change.after if change.after is not None else change.before
        assert image is not None  # every change has an image
        key_field = KEY_FIELDS[source]
        # Copies, so a consumer that changes an event cannot change the tables.
        after = dict(change.after) if change.after is not None else None
        defect = field = clean = None
        if after is not None and self.defect_rate and rng.random() < self.defect_rate:
            broken = dict(after)
            injected = self._injector.inject(source, broken, rng)
            if injected is not None:
                defect, field = injected
                clean, after = after, broken
        return SimulatedEvent(
            source=source,
            op=change.op,
            key={key_field: image[key_field]},
            before=dict(change.before) if change.before is not None else None,
            after=after,
            sequence=f"{self._sequences[source]:012d}",
            ts_ms=self._now_ms,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            defect=defect,
            defect_field=field,
            clean_after=clean,
        )
