"""Dead letters carry Connect-style headers (with the step that failed); list and replay
select by them."""

from __future__ import annotations

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
    replay_headers,
    select,
    summarize,
)


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
    assert select(letters) == letters


def test_replay_is_marked() -> None:
    headers = dict(replay_headers(_letter("a", "m", "1"), 99))
    assert headers[REPLAYED] == b"99" and headers[REASON] == b"a"


def test_an_unexpected_exception_is_its_step_s_failure() -> None:
    failure = Failure.of("theme.render", KeyError("name"))
    assert (failure.step, failure.reason) == ("theme.render", "theme.render_failed")
    assert failure.detail == "KeyError: 'name'" and failure.exception_class == "KeyError"
