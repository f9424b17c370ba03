"""The order of the changes of one source record: (source_ts_ms, sequence).

Sequences are log positions (LSN, binlog offset, a counter) written as text; compared as
text, "10" would sort before "9", so digit strings compare as numbers. Other text compares
as text, after any number; a missing sequence sorts first.
"""

from __future__ import annotations

OrderKey = tuple[int, int, int, str]

_NONE, _NUMBER, _TEXT = -1, 0, 1


def order_key(source_ts_ms: int, sequence: str | None) -> OrderKey:
    if sequence is None:
        return (source_ts_ms, _NONE, 0, "")
    if sequence.isascii() and sequence.isdigit():  # isdigit alone accepts "²", int() does not
        return (source_ts_ms, _NUMBER, int(sequence), "")
    return (source_ts_ms, _TEXT, 0, sequence)
