"""A faust codec for the Confluent-framed Avro of the bus's topics, over the bus's own decoder.

Subscribers only read: encoding is the providers' business, so ``dumps`` is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faust.serializers.codecs import Codec

from topics.serde import AvroDecoder


class ConfluentAvroCodec(Codec):
    """Messages written with any registered schema, decoded into plain dicts."""

    def __init__(self, fetch_schema: Callable[[int], str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._decoder = AvroDecoder(fetch_schema)

    def _loads(self, s: bytes) -> Any:
        return self._decoder.decode(s)

    def _dumps(self, obj: Any) -> bytes:
        raise TypeError("a subscriber reads its granted topics; it does not write them")
