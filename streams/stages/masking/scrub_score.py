"""Recall and precision of the free-text scrubber per kind of identifier, on labelled text.

Recall of a kind: its labelled identifiers that the scrubber masked whole (by a span of any
kind: masked is masked). Precision of a kind: the scrubber's spans of that kind that cover a
labelled identifier; a span over text that holds none masked something it should not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.stages.masking.text_scan import find_identifiers
from topics.free_text import Span, TextKind


@dataclass
class KindScore:
    labelled: int = 0
    recalled: int = 0
    found: int = 0
    correct: int = 0
    missed: list[str] = field(default_factory=list)  # a few examples, for the report
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.recalled / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0


_EXAMPLES = 5


def _covers(outer: Span, inner: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def score(samples: Iterable[tuple[str, Sequence[Span]]]) -> dict[TextKind, KindScore]:
    """Scores per kind over ``(text, labelled spans)`` samples."""
    scores = {kind: KindScore() for kind in TextKind}
    for text, labels in samples:
        found = find_identifiers(text)
        for label in labels:
            entry = scores[label.kind]
            entry.labelled += 1
            if any(_covers(span, label) for span in found):
                entry.recalled += 1
            elif len(entry.missed) < _EXAMPLES:
                entry.missed.append(text)
        for span in found:
            entry = scores[span.kind]
            entry.found += 1
            if any(_overlaps(span, label) for label in labels):
                entry.correct += 1
            elif len(entry.wrong) < _EXAMPLES:
                entry.wrong.append(f"{text[span.start:span.end]} in {text}")
    return scores
