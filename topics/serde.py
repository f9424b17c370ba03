"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

The hot path is fastavro's schemaless reader and writer on schemas parsed once; schema ids
seen on the wire are resolved through the registry once and cached.
"""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from topics.patience import patiently
from topics.schemas import Schema, full_name, parsed

MAGIC = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size


class SchemaNotFoundError(KeyError):
    """The registry answered: no schema has this id. The one fetch failure that is the
    message's fault, not the infrastructure's."""


class UndecodableMessageError(ValueError):
    """Bytes that are not a Confluent-framed Avro message this bus can read."""

    def __init__(self, reason_code: str, detail: str) -> None:
        super().__init__(f"{reason_code}: {detail}")
        self.reason_code = reason_code
        self.detail = detail


class AvroEncoder:
    """Encodes records of one registered schema."""

    def __init__(self, schema: Schema | str, schema_id: int) -> None:
        self.schema_id = schema_id
        self._parsed = parsed(schema)  # type: ignore[arg-type]
        self._header = _HEADER.pack(MAGIC, schema_id)
        if _is_string_schema(schema):
            # Keys are one string; fastavro's per-call set-up costs more than the encoding.
            self.encode = self._encode_string  # type: ignore[method-assign,assignment]

    def encode(self, record: Any) -> bytes:
        buffer = io.BytesIO()
        buffer.write(self._header)
        schemaless_writer(buffer, self._parsed, record)
        return buffer.getvalue()

    def _encode_string(self, value: str) -> bytes:
        data = value.encode()
        return self._header + _zigzag_varint(len(data)) + data


def _is_string_schema(schema: Schema | str) -> bool:
    return schema == "string" or (isinstance(schema, dict) and schema.get("type") == "string")


def _zigzag_varint(n: int) -> bytes:
    """Avro's long encoding (zig-zag, then base-128 varint) of a non-negative length."""
    n <<= 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def schema_id_of(message: bytes) -> int:
    if len(message) < HEADER_SIZE:
        raise UndecodableMessageError("serde.too_short", f"{len(message)} bytes")
    magic, schema_id = _HEADER.unpack_from(message)
    if magic != MAGIC:
        raise UndecodableMessageError("serde.bad_magic", f"magic byte {magic}")
    return int(schema_id)


class AvroDecoder:
    """Decodes messages written with any registered schema, each into its reader schema.

    ``fetch_schema`` maps a schema id to its text (the registry); each id is fetched once. It
    raises KeyError (SchemaNotFoundError) when the registry has no such id: that message is
    dead-lettered. Any other failure (timeout, refused connection, 5xx) is the registry's:
    the fetch is tried again with a growing pause (topics/patience.py), never dead-lettered.

    ``readers``: the schemas a consumer expects. A message whose writer schema has a
    reader's full name is resolved into that reader, as Avro's schema resolution says (a
    field the writer lacks takes the reader's default, a field the reader lacks is skipped),
    so producers on several compatible versions of a schema decode alike; any other
    message decodes as written. A writer whose layout is the reader's is read as written.
    """

    def __init__(self, fetch_schema: Callable[[int], str], readers: Iterable[Schema] = (),
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch_schema
        self._sleep = sleep
        self._clock = clock
        self._readers = {full_name(reader): reader for reader in readers}
        self._writers: dict[int, tuple[Any, Any]] = {}  # id -> (parsed writer, reader or None)
        self._declared: dict[int, Any] = {}

    def resolving_into(self, readers: Iterable[Schema]) -> AvroDecoder:
        """A decoder like this one (same registry, same patience) with ``readers``."""
        return AvroDecoder(self._fetch, readers, self._sleep, self._clock)

    def writer_schema(self, schema_id: int) -> Any:
        return self._resolution(schema_id)[0]

    def _resolution(self, schema_id: int) -> tuple[Any, Any]:
        resolution = self._writers.get(schema_id)
        if resolution is None:
            declared = json.loads(self._fetch_patiently(schema_id))
            resolution = (parsed(declared), self._reader_of(declared))
            self._declared[schema_id] = declared
            self._writers[schema_id] = resolution
        return resolution

    def _reader_of(self, writer: Any) -> Any:
        reader = self._readers.get(full_name(writer)) if isinstance(writer, dict) else None
        if reader is None or _same_layout(reader, writer):
            return None
        return parsed(reader)

    def writer_declaration(self, schema_id: int) -> Mapping[str, Any]:
        """The writer schema of an id as registered (JSON, its custom properties kept), from the
        same one fetch that decodes its messages: which system wrote it, and how."""
        self.writer_schema(schema_id)
        declared = self._declared[schema_id]
        return declared if isinstance(declared, dict) else {"type": declared}

    def _fetch_patiently(self, schema_id: int) -> str:
        try:
            return patiently(lambda: self._fetch(schema_id), f"fetching schema id {schema_id}",
                             settled=lambda exc: isinstance(exc, KeyError),
                             sleep=self._sleep, clock=self._clock)
        except KeyError as exc:
            raise UndecodableMessageError(
                "serde.unknown_schema_id", f"schema id {schema_id}: {exc}"
            ) from exc

    def decode(self, message: bytes) -> dict[str, Any]:
        writer, reader = self._resolution(schema_id_of(message))
        try:
            record = schemaless_reader(io.BytesIO(message[HEADER_SIZE:]), writer, reader)
        except Exception as exc:
            raise UndecodableMessageError("serde.corrupt", f"{type(exc).__name__}: {exc}") from exc
        return record  # type: ignore[return-value]


def _same_layout(reader: Schema, writer: Schema) -> bool:
    """The same fields of the same types in the same order: resolution would change
    nothing (Avro's Parsing Canonical Form leaves out docs, defaults and custom
    properties)."""
    return bool(to_parsing_canonical_form(parsed(reader))
                == to_parsing_canonical_form(parsed(writer)))
