"""Which annotated fields of one record describe the same person or place.

A record may hold one subject (``id_number`` + ``birth_date`` + ``sex``) or several
(``party_a_id_number`` + ``party_a_birth_date``, ``party_b_...``). The annotations say what
each field is; when a record holds several fields of the same kind, the longest common
name prefix (in ``_``-separated words) tells which subject a field belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence


def _common_words(a: str, b: str) -> int:
    count = 0
    for left, right in zip(a.split("_"), b.split("_"), strict=False):
        if left != right:
            break
        count += 1
    return count


def pair_fields(anchors: Sequence[str], others: Sequence[str]) -> dict[str, str]:
    """Map each field of ``others`` to the anchor field it belongs to, where that is clear.

    One anchor and one other always pair. Otherwise a field pairs with the anchor sharing
    the most leading name words, if that anchor is unique and shares at least one word;
    fields with no clear anchor stay unpaired rather than being guessed.
    """
    if len(anchors) == 1 and len(others) == 1:
        return {others[0]: anchors[0]}
    pairs: dict[str, str] = {}
    for other in others:
        scores = sorted(((_common_words(a, other), a) for a in anchors), reverse=True)
        if not scores or scores[0][0] == 0:
            continue
        if len(scores) > 1 and scores[1][0] == scores[0][0]:
            continue
        pairs[other] = scores[0][1]
    return pairs
