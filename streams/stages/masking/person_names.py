"""Where a person's name ends in the words after a cue (联系人, 户主, 申请人 ...), by jieba's
part-of-speech tagging (dictionary mode, without its HMM: 5x faster).

jieba tags a person name ``nr``. Its dictionary knows many given names as ordinary words,
though (建平/n, 丹丹/ns), and rarely joins a surname to them, so "the first word is nr" finds
only ~93% of the simulator's names. What the segmentation shows after a cue says more:
- a one-character word: a surname (the dictionary tags of single characters say little:
  刘/zg, 张/q, 向/p), followed by a given name of one or two characters that are not
  function words (刘/建平, 王/秀英, 莫/丽/娟);
- an ``nr`` word of two to four characters: the name;
- a 2-3 character word tagged as something a name gets taken for (严亮/a, 白晨/t, 徐海/ns
  with 燕/nr after it), standing alone before punctuation, a number or a function word.
Function words right after the cue mean no name follows: 联系人已变更, 申请人本人到场,
户主变更登记.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

# jieba (ICTCLAS) tags that never start or continue a name: adverbs, pronouns, prepositions,
# conjunctions, particles, numerals, measure words, punctuation, verbs, locality words.
_FUNCTION: Final = frozenset(
    {"d", "r", "p", "c", "u", "uj", "ul", "uz", "ug", "uv", "ud", "y", "e", "o", "m", "mq",
     "q", "x", "w", "v", "vd", "vn", "f", "s", "eng"}
)
# Single characters that end a name: adverbs (已, 未), prepositions, conjunctions, particles,
# pronouns and numerals. Not verbs (超, 建 are given names the dictionary knows as verbs),
# nor x: a character outside the dictionary (娜, 婷) is more likely a name's.
_FUNCTION_CHAR: Final = frozenset(
    {"d", "p", "c", "u", "uj", "ul", "uz", "ug", "uv", "ud", "r", "y", "e", "o", "m"}
)
# Tags jieba gives to names it does not know as names: adjectives, time words, other proper
# nouns, status words, abbreviations, idioms, and bound morphemes.
_NAME_LOOKALIKE: Final = frozenset({"a", "ad", "an", "ag", "t", "tg", "nz", "ns", "nt", "ng",
                                    "z", "j", "i", "l", "b", "k", "h", "g", "dg", "zg", "rz"})
_MAX_NAME: Final = 4  # compound surname and two-character given name (欧阳娜娜)
_MAX_GIVEN: Final = 2


_loading_lock = threading.Lock()
_loading: threading.Thread | None = None
_cut: Callable[..., list[Any]] | None = None  # jieba.posseg.lcut, once loaded


def _load() -> None:
    global _cut
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    _cut = jieba.posseg.lcut


def load_name_tagger() -> None:
    """Starts loading jieba's tagger (its modules and dictionary: seconds of a worker's
    start) in a thread of its own, so the worker connects, joins its group and restores its
    state meanwhile; the first name looked up waits for it. Harmless when loading or loaded."""
    global _loading
    with _loading_lock:
        if _loading is None:
            _loading = threading.Thread(target=_load, name="name-tagger-load", daemon=True)
            _loading.start()


def _tagger() -> Callable[..., list[Any]]:
    if _cut is None:
        load_name_tagger()
        assert _loading is not None
        _loading.join()
        if _cut is None:
            raise RuntimeError("jieba's part-of-speech tagger did not load")
    return _cut


def _han(text: str) -> bool:
    return bool(text) and all("\u4e00" <= c <= "\u9fff" for c in text)


def _is_name_tag(flag: str) -> bool:
    return flag.startswith("nr")


def _given_name(words: list[Any]) -> int:
    """Length of the given name at the start of ``words`` (after a surname): up to two
    characters; 0 when there is none. A character jieba leaves alone is read as part of the
    name unless it is a function word (已, 未, 向 ...); a longer word only as the whole given
    name, and not when it is a function word (到场, 本人, 说明)."""
    length = 0
    for word in words:
        text, flag = word.word, word.flag
        if not _han(text) or length + len(text) > _MAX_GIVEN:
            break
        if flag in (_FUNCTION_CHAR if len(text) == 1 else _FUNCTION):
            break
        length += len(text)
    return length


def name_length(text: str) -> int:
    """How many leading characters of ``text`` (the words after a cue) are a person's name;
    0 when none is."""
    if not text or not _han(text[0]):
        return 0
    # Without the HMM: 5x faster, and unknown characters come out one by one, which is what
    # the surname rule reads.
    words = _tagger()(text, HMM=False)
    first = words[0]
    if len(first.word) == 1:  # a surname: single characters' dictionary tags say little
        given = _given_name(words[1:])
        return 1 + given if given else 0
    if _is_name_tag(first.flag):
        return len(first.word) if len(first.word) <= _MAX_NAME else 0
    if len(first.word) > 3 or first.flag not in _NAME_LOOKALIKE:
        return 0
    rest = words[1:]
    if len(first.word) == 2 and rest and len(rest[0].word) == 1 and (
        _is_name_tag(rest[0].flag) or rest[0].flag == "x"
    ):
        rest = rest[1:]  # a surname and a character joined into a word, then a name's (徐海/燕)
    following = rest[0] if rest else None
    alone = following is None or not _han(following.word) or following.flag in _FUNCTION
    return len(first.word) + (len(words) - 1 - len(rest)) if alone else 0
