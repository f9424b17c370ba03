"""Record headers that are part of the bus's wire contract.

A theme topic's tombstone has no value, so nothing in it says how it orders against the
entity's upserts; its header ``govbus.version`` carries the version the delete has (one
above the last record's). A consumer keeping versions (the sink's ReplacingMergeTree) can
then order the delete without reading what it stored. Tombstones without the header (from
another producer) stay valid: the consumer has to find the version itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

VERSION_HEADER = "govbus.version"

HeaderValue = str | bytes | None
Headers = Sequence[tuple[str, HeaderValue]] | Mapping[str, HeaderValue]


def version_headers(version: int) -> list[tuple[str, HeaderValue]]:
    return [(VERSION_HEADER, str(version).encode("ascii"))]


def version_of(headers: Headers | None) -> int | None:
    """The version a tombstone's headers carry (None: none, or not a number)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    for name, value in pairs:
        if name != VERSION_HEADER or value is None:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        return int(text) if text.isdigit() else None
    return None
