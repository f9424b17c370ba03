"""Dead letters carry Connect-style headers (with the step that failed); list and replay
select by them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError

from tests.doubles import CapturingOutput, KafkaMessage, ScriptedConsumer
from topics.dead_letters import (
    EVENT_ID,
    OFFSET,
    REASON,
    REPLAYED,
    TOPIC,
    DeadLetterView,
    Failure,
    Provenance,
    dead_letter,
    header_map,
    read_dead_letters,
    replay,
    replay_headers,
    select,
    summarize,
)
from topics.reader import chunks_to_ends


def _letter(reason: str, dept: str, event_id: str) -> DeadLetterView:
    made = dead_letter(Provenance("raw.x", 2, 41), b"k", b"v", stage="standardize",
                       failure=Failure("raw.rules", reason, "d", "RuleViolation"), now_ms=5,
                       dept=dept, event_id=event_id)
    return DeadLetterView(made.key, made.value, header_map(made.headers))  # type: ignore[arg-type]


def test_headers_name_origin_and_reason() -> None:
    letter = _letter("uscc.check_digit", "market", "e1")
    assert letter.headers[TOPIC] == "raw.x" and letter.headers[OFFSET] == "41"
    assert letter.reason == "uscc.check_digit" and letter.headers[EVENT_ID] == "e1"
    assert letter.step == "raw.rules"
    assert letter.value == b"v" and letter.key == b"k"


def test_summary_and_selection() -> None:
    letters = [_letter("a", "market", "1"), _letter("a", "market", "2"),
               _letter("b", "civil", "3")]
    assert summarize(letters) == {("a", "market"): 2, ("b", "civil"): 1}
    assert [x.event_id for x in select(letters, reason="a")] == ["1", "2"]
    assert [x.event_id for x in select(letters, dept="civil")] == ["3"]
    assert [x.event_id for x in select(letters, event_ids={"2", "3"})] == ["2", "3"]
    assert list(select(letters)) == letters


def test_replay_is_marked() -> None:
    headers = dict(replay_headers(_letter("a", "m", "1"), 99))
    assert headers[REPLAYED] == b"99" and headers[REASON] == b"a"


def test_an_unexpected_exception_is_its_step_s_failure() -> None:
    failure = Failure.of("theme.render", KeyError("name"))
    assert (failure.step, failure.reason) == ("theme.render", "theme.render_failed")
    assert failure.detail == "KeyError: 'name'" and failure.exception_class == "KeyError"


def _letters(n: int, pulled: list[int]) -> Iterator[DeadLetterView]:
    """``n`` letters made as they are asked for, counting them in ``pulled``."""
    for i in range(n):
        pulled[0] += 1
        yield _letter("a" if i % 2 else "b", "market", str(i))


def test_a_replay_holds_one_chunk_each_acknowledged_before_the_next_is_read() -> None:
    pulled = [0]
    output = CapturingOutput()
    seen_at_flush: list[int] = []
    flush = output.flush

    def watched_flush(timeout_s: float = 0) -> None:
        seen_at_flush.append(pulled[0])
        flush(timeout_s)

    output.flush = watched_flush  # type: ignore[method-assign]
    chosen = select(_letters(5000, pulled), reason="a")
    assert pulled == [0]  # selecting reads nothing yet
    assert replay(chosen, output, now_ms=7, chunk=1000) == 2500
    assert output.flushes == [1000, 2000, 2500]
    # When a chunk was flushed, no more letters had been read than that chunk needed.
    assert seen_at_flush == [2000, 4000, 5000]
    topic, key, value, headers, _ = output.records[0]
    assert (topic, key, value) == ("raw.x", b"k", b"v")
    assert headers[REPLAYED] == "7" and headers[REASON] == "a"


def test_nothing_matching_replays_nothing() -> None:
    output = CapturingOutput()
    assert replay(select(_letters(10, [0]), dept="civil"), output, now_ms=1) == 0
    assert output.records == [] and output.flushes == []


def _dlq_message(partition: int, offset: int) -> KafkaMessage:
    made = dead_letter(Provenance("raw.x", partition, offset), b"k", b"v",
                       stage="standardize", failure=Failure("raw.rules", "r", "d", "E"),
                       now_ms=1, dept="market", event_id=f"{partition}-{offset}")
    return KafkaMessage("dlq.standardize", partition, offset, made.key, made.value,
                        headers=made.headers)  # type: ignore[arg-type]


def _eof(partition: int) -> KafkaMessage:
    return KafkaMessage("dlq.standardize", partition, 3,
                        error=KafkaError(KafkaError._PARTITION_EOF))


def test_a_dlq_is_read_in_chunks_to_its_ends_when_asked() -> None:
    later = _dlq_message(0, 3)  # written after the ends were taken: not read
    consumer = ScriptedConsumer({}, [
        [_dlq_message(0, 0), _dlq_message(1, 0), _dlq_message(0, 1), _dlq_message(0, 2)],
        [_eof(1), later, _dlq_message(2, 0)],
    ])
    chunks = list(chunks_to_ends(consumer, {0: 3, 1: 5, 2: 1}, size=3, timeout_s=5))
    assert [[m.offset() for m in chunk] for chunk in chunks] == [[0, 0, 1], [2], [0]]

    class Reader:
        def chunks_to_end(self, size: int) -> Iterator[list[Any]]:
            return iter(chunks)

    letters = list(read_dead_letters(Reader()))  # type: ignore[arg-type]
    assert [x.event_id for x in letters] == ["0-0", "1-0", "0-1", "0-2", "2-0"]
    assert summarize(letters) == {("r", "market"): 5}


def test_a_dlq_that_stops_short_of_its_ends_is_an_error() -> None:
    consumer = ScriptedConsumer({}, [[_dlq_message(0, 0)]])
    with pytest.raises(TimeoutError, match="not read to its end"):
        list(chunks_to_ends(consumer, {0: 2}, size=10, timeout_s=0.05))
