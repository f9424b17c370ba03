"""Per-event extraction, row-table and per-fact apply+render costs, next to a bare loop and
the standardize stage (the bulk of the raw layer's per-event work).

Not a test: run ``.venv/bin/python -m govbus.bench.enrich_costs [events]``.
Std events come from the department simulator through the standardize stage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from connectors.simulator.simulator import DepartmentSimulator
from streams.stages.enrich.facts import FactExtractor
from streams.stages.enrich.profile import ProfileState, apply_fact
from streams.stages.enrich.row_table import RowTable
from streams.stages.enrich.theme import render
from streams.stages.masking.pseudonym import Pseudonymizer
from streams.stages.outcomes import Standardized
from streams.stages.standardize import StandardizeStage


def std_events(count: int, raw: list[tuple[StandardizeStage, dict[str, Any]]] | None = None
               ) -> list[tuple[str, dict[str, Any]]]:
    """Std events of ``count`` simulated ones; ``raw`` collects (stage, raw envelope)."""
    pseudonymizer = Pseudonymizer(b"k", "k1")
    stages: dict[str, StandardizeStage] = {}
    out = []
    for e in DepartmentSimulator(seed=7, defect_rate=0.0).events(count):
        stage = stages.setdefault(e.source, StandardizeStage(e.source, pseudonymizer))
        envelope = {
            "before": e.before, "after": e.after, "op": e.op, "ts_ms": e.ts_ms,
            "source": {"dept": "", "system": "", "table": "", "sequence": e.sequence,
                       "ts_ms": e.ts_ms, "snapshot": "false"},
            "event_id": e.event_id,
        }
        result = stage(envelope, date(2024, 3, 1))
        if raw is not None:
            raw.append((stage, envelope))
        if isinstance(result, Standardized):
            out.append((e.source, result.envelope))
    return out


def per_item_us(run: Callable[[], int], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        items = run()
        best = min(best, (time.perf_counter() - started) / items)
    return best * 1e6


def main(count: int) -> None:
    raw: list[tuple[StandardizeStage, dict[str, Any]]] = []
    events = std_events(count, raw)
    extractor = FactExtractor()
    facts = [f for source, env in events for f in extractor.extract(source, env)]

    def bare_events() -> int:
        for _source, env in events:
            dict(env)
        return len(events)

    def extract() -> int:
        for source, env in events:
            extractor.extract(source, env)
        return len(events)

    def standardize() -> int:
        today = date(2024, 3, 1)
        for stage, envelope in raw:
            stage(envelope, today)
        return len(raw)

    def row_table(encoded: bool) -> Callable[[], int]:
        def run() -> int:
            shards: dict[str, RowTable] = {}
            changelog: dict[str, dict[str, bytes]] = {}
            for source, env in events:
                rows = shards.get(source)
                if rows is None:
                    rows = shards[source] = RowTable(extractor, source, {})
                    changelog[source] = {}
                outcome = rows.apply(env)
                if encoded:  # what a changelog-backed store adds: one encode per write
                    for key in outcome.written:
                        changelog[source][key] = rows.rows[key].to_bytes()
            return len(events)
        return run

    def bare_facts() -> int:
        for fact in facts:
            dict(fact)
        return len(facts)

    def apply_hot() -> int:
        states: dict[tuple[str, str], ProfileState | None] = {}
        for fact in facts:
            key = (fact["category"], fact["entity_key"])
            state, applied = apply_fact(states.get(key), fact)
            states[key] = state
            if applied.emit:
                render(fact["category"], fact["entity_key"], state, 0)
        return len(facts)

    def apply_json() -> int:
        table: dict[tuple[str, str], dict[str, Any]] = {}
        for fact in facts:
            key = (fact["category"], fact["entity_key"])
            stored = table.get(key)
            state = ProfileState.from_json(stored) if stored is not None else None
            state, applied = apply_fact(state, fact)
            if applied.store and state is not None:
                table[key] = state.to_json()
            if applied.emit:
                render(fact["category"], fact["entity_key"], state, 0)
        return len(facts)

    print(f"{len(events)} std events, {len(facts)} facts")
    print(f"bare loop (dict copy) per event   {per_item_us(bare_events):6.2f} us")
    print(f"standardize per event             {per_item_us(standardize):6.2f} us")
    print(f"extract per event                 {per_item_us(extract):6.2f} us")
    print(f"extract via row table per event   {per_item_us(row_table(False)):6.2f} us")
    print(f"  + changelog encoding per event  {per_item_us(row_table(True)):6.2f} us")
    print(f"bare loop (dict copy) per fact    {per_item_us(bare_facts):6.2f} us")
    print(f"apply+render per fact, in memory  {per_item_us(apply_hot):6.2f} us")
    print(f"apply+render per fact, via JSON   {per_item_us(apply_json):6.2f} us")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
