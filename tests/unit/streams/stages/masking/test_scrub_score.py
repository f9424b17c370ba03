"""The free-text scrubber meets its targets on the simulator's labelled remarks."""

from __future__ import annotations

import pytest

from connectors.simulator import labelled_remarks
from streams.stages.masking.scrub_score import KindScore, score
from topics.free_text import STRUCTURED, Span, TextKind

SAMPLES = 4000
SEED = 12


@pytest.fixture(scope="module")
def scores() -> dict[TextKind, KindScore]:
    return score(labelled_remarks(SAMPLES, SEED))


def test_every_kind_is_in_the_mix(scores: dict[TextKind, KindScore]) -> None:
    assert all(scores[kind].labelled >= 100 for kind in TextKind)


@pytest.mark.parametrize("kind", STRUCTURED)
def test_structured_identifiers_recall(scores: dict[TextKind, KindScore], kind: TextKind) -> None:
    assert scores[kind].recall >= 0.995, scores[kind].missed


def test_names_after_a_cue_recall(scores: dict[TextKind, KindScore]) -> None:
    assert scores[TextKind.NAME].recall >= 0.95, scores[TextKind.NAME].missed


@pytest.mark.parametrize("kind", list(TextKind))
def test_precision(scores: dict[TextKind, KindScore], kind: TextKind) -> None:
    assert scores[kind].precision >= 0.95, scores[kind].wrong


def test_scores_count_partial_masks_as_misses() -> None:
    text = "联系人王秀英"
    half = Span(TextKind.NAME, 3, 5)  # a label the scrubber covers only in part
    (entry,) = [s for k, s in score([(text, [Span(TextKind.NAME, 2, 6)])]).items()
                if k is TextKind.NAME]
    assert entry.labelled == 1 and entry.recalled == 0 and entry.found == 1
    assert score([(text, [half])])[TextKind.NAME].recalled == 1
