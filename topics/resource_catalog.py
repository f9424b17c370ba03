"""The resource catalog (政务信息资源目录): one entry per raw, std and theme topic.

Derived, never typed twice: the code from the provider and the topic
(``topics/resource_code.py``), name and summary from the row schema's ``doc``, provider and
contributing departments from the topic catalog and the ``govbus.authority`` annotations,
information items (name, type, pii type, grade) from the annotated fields, the ClickHouse
table from the sink's table definitions (handed in by the caller: ``topics`` does not import
``sinks``). Only the sharing terms come from ``sharing.toml``, and they are checked against
what was derived; an inconsistent entry stops the load with one line naming the resource.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from topics.annotations import (
    AUTHORITY,
    CATEGORY,
    DERIVED_FROM,
    GRADE,
    OPERATOR,
    Category,
    FieldSpec,
    Grade,
)
from topics.catalog import Layer, Topic, highest_grade
from topics.resource_code import resource_code
from topics.schemas import Schema, row_schema, row_spec, std_row_schema
from topics.sharing import (
    OPEN_REACH,
    SHARING_REACH,
    SharingDeclaration,
    SharingDeclarationError,
    SharingMethod,
    SharingTerms,
    SharingType,
)

RESOURCE_LAYERS: Final = (Layer.RAW, Layer.STD, Layer.THEME)
# Layers whose every topic needs its own declaration; raw topics share the [raw] terms.
DECLARED_LAYERS: Final = (Layer.STD, Layer.THEME)


@dataclass(frozen=True, slots=True)
class InformationItem:
    """信息项: one top-level field of the records the resource carries."""

    name: str
    label: str  # the field's doc
    type: str  # Avro type, ``?`` when nullable
    pii: str  # the field's pii type; for a desensitized field, the source's and the operator
    grade: Grade  # the highest grade of the field and of any field nested in it


@dataclass(frozen=True, slots=True)
class Provider:
    dept: str
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Resource:
    code: str
    name: str
    summary: str
    provider: Provider
    sources: tuple[str, ...]  # departments whose data it carries
    layer: Layer
    topic: str
    table: str | None  # the ClickHouse table it lands in, if any
    grade: Grade
    items: tuple[InformationItem, ...]
    terms: SharingTerms

    @property
    def sharing(self) -> SharingType:
        return self.terms.sharing

    def as_record(self) -> dict[str, Any]:
        """The entry as plain data (export, publication), items included."""
        return {
            "code": self.code,
            "name": self.name,
            "summary": self.summary,
            "provider": self.provider.dept,
            "provider_code": self.provider.code,
            "provider_name": self.provider.name,
            "sources": list(self.sources),
            "layer": str(self.layer),
            "topic": self.topic,
            "table": self.table,
            "grade": str(self.grade),
            "sharing": str(self.terms.sharing),
            "conditions": self.terms.conditions,
            "basis": self.terms.basis,
            "methods": [str(m) for m in self.terms.methods],
            "update_cycle": str(self.terms.update_cycle),
            "open": str(self.terms.open),
            "items": [
                {"name": i.name, "label": i.label, "type": i.type, "pii": i.pii,
                 "grade": str(i.grade)}
                for i in self.items
            ],
        }


@dataclass(frozen=True)
class ResourceCatalog:
    resources: tuple[Resource, ...]

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def find(self, code_or_topic: str, namespace: str = "") -> Resource:
        """A resource by its code, its topic's full name or its name without the namespace."""
        for resource in self.resources:
            if code_or_topic == resource.code or resource.topic in (
                code_or_topic, namespace + code_or_topic
            ):
                return resource
        raise KeyError(
            f"no resource {code_or_topic!r} in the catalog: give a code or a topic, "
            f"as `govbus catalog list` shows them"
        )


def build_catalog(
    declaration: SharingDeclaration,
    topics: Iterable[Topic],
    namespace: str,
    tables: Mapping[str, str],
    where: str = "sharing.toml",
) -> ResourceCatalog:
    """Every raw, std and theme topic of ``topics`` as a catalog entry; ``tables`` maps a
    topic's full name to the ClickHouse table it lands in. Raises SharingDeclarationError."""
    every = {t.name.removeprefix(namespace): t for t in topics}
    _check_declared_topics(declaration, every, where)
    resources = tuple(
        sorted(
            (
                _resource(declaration, topic, base, tables.get(topic.name), where)
                for base, topic in every.items()
                if topic.layer in RESOURCE_LAYERS
            ),
            key=lambda resource: resource.code,
        )
    )
    _check_unique_codes(declaration, resources, where)
    return ResourceCatalog(resources)


def _check_declared_topics(
    declaration: SharingDeclaration, every: Mapping[str, Topic], where: str
) -> None:
    for name in declaration.resources:
        topic = every.get(name)
        if topic is None:
            raise SharingDeclarationError(
                f"{where}: {name}: no such topic in the topic catalog"
            )
        if topic.layer not in RESOURCE_LAYERS:
            raise SharingDeclarationError(
                f"{where}: {name}: a {topic.layer} topic is not a resource; "
                "only raw, std and theme topics are"
            )
    for name, topic in every.items():
        if topic.layer in DECLARED_LAYERS and name not in declaration.resources:
            raise SharingDeclarationError(
                f'{where}: {name}: no declaration; add [resources."{name}"] with its sharing type'
            )


def _resource(
    declaration: SharingDeclaration, topic: Topic, base: str, table: str | None, where: str
) -> Resource:
    terms = declaration.resources.get(base, declaration.raw)
    schema = _row_schema(topic)
    items = tuple(_items(topic, schema))
    _check_terms(base, topic, terms, items, table, where)
    provider = declaration.providers.get(topic.dept)
    if provider is None:
        raise SharingDeclarationError(
            f"{where}: {base}: its provider {topic.dept!r} is not declared under [providers]"
        )
    category = Category(str(schema[CATEGORY]))
    name, summary = _title(schema, base)
    return Resource(
        code=resource_code(topic.layer, provider.code, category, str(topic.source)),
        name=name,
        summary=summary,
        provider=Provider(topic.dept, provider.code, provider.name),
        sources=_sources(topic, schema),
        layer=topic.layer,
        topic=topic.name,
        table=table,
        grade=highest_grade(item.grade for item in items),
        items=items,
        terms=terms,
    )


def _check_terms(
    base: str,
    topic: Topic,
    terms: SharingTerms,
    items: tuple[InformationItem, ...],
    table: str | None,
    where: str,
) -> None:
    problem = next(_broken_rules(topic, terms, items, table), None)
    if problem:
        raise SharingDeclarationError(f"{where}: {base}: {problem}")


def _broken_rules(
    topic: Topic, terms: SharingTerms, items: tuple[InformationItem, ...], table: str | None
) -> Iterator[str]:
    """The rules of the guideline and of the bus that the terms break, in order."""
    sharing = terms.sharing
    shared = sharing is not SharingType.NOT_SHARED
    if topic.layer is Layer.RAW and shared:
        yield f"a raw topic marked {sharing}: raw topics are always 不予共享"
    if sharing is SharingType.CONDITIONAL and not terms.conditions:
        yield "有条件 needs its conditions"
    if not shared and not terms.basis:
        yield "不予共享 needs its legal basis"
    if sharing is not SharingType.CONDITIONAL and terms.conditions is not None:
        yield f"conditions are for 有条件 resources, this one is {sharing}"
    if shared and terms.basis is not None:
        yield f"a legal basis is for 不予共享 resources, this one is {sharing}"
    if sharing is SharingType.UNCONDITIONAL:
        for item in items:
            if item.grade is Grade.CORE:
                yield f"无条件 but its item {item.name} is core grade; make it 有条件 or 不予共享"
    if shared and not terms.methods:
        yield f"{sharing} needs at least one sharing method"
    if not shared and terms.methods:
        yield "不予共享 takes no sharing method"
    if SharingMethod.QUERY in terms.methods and table is None:
        yield f"{SharingMethod.QUERY} but the topic lands in no ClickHouse table"
    if OPEN_REACH[terms.open] > SHARING_REACH[sharing]:
        yield f"open attribute {terms.open} reaches further than sharing type {sharing}"


def _check_unique_codes(
    declaration: SharingDeclaration, resources: tuple[Resource, ...], where: str
) -> None:
    seen_providers: dict[str, str] = {}
    for dept, provider in declaration.providers.items():
        other = seen_providers.setdefault(provider.code, dept)
        if other != dept:
            raise SharingDeclarationError(
                f"{where}: providers {other} and {dept} share the code {provider.code}"
            )
    seen: dict[str, str] = {}
    for resource in resources:
        other = seen.setdefault(resource.code, resource.topic)
        if other != resource.topic:
            raise SharingDeclarationError(
                f"{where}: {other} and {resource.topic} would share the resource code "
                f"{resource.code}"
            )


def _row_schema(topic: Topic) -> Schema:
    """The record a message of the topic carries: the row for a change-event topic."""
    if topic.layer is Layer.RAW:
        return row_schema(str(topic.source))
    if topic.layer is Layer.STD:
        return std_row_schema(str(topic.source))
    if topic.value_schema is None:
        raise SharingDeclarationError(f"{topic.name} has no value schema")
    return topic.value_schema()


def _items(topic: Topic, schema: Schema) -> Iterator[InformationItem]:
    full_name = f"{schema.get('namespace', '')}.{schema['name']}"
    for field in schema["fields"]:
        spec = FieldSpec.from_avro(full_name, field)
        yield InformationItem(
            name=spec.name,
            label=spec.doc,
            type=_type_label(spec.avro_type),
            pii=_pii_label(topic, field, spec),
            grade=highest_grade(_grades(field)),
        )


def _pii_label(topic: Topic, field: Mapping[str, Any], spec: FieldSpec) -> str:
    """A std field says pii none, being desensitized; what it was made from is what a reader
    needs to know: ``id_number (pseudonym)``."""
    origin = field.get(DERIVED_FROM)
    if origin is None or topic.source is None:
        return str(spec.pii)
    source = row_spec(topic.source).field(str(origin))
    return f"{source.pii} ({field.get(OPERATOR, '?')})"


def _grades(field: Mapping[str, Any]) -> Iterator[Grade]:
    yield Grade(str(field[GRADE]))
    for record in _nested_records(field["type"]):
        for nested in record["fields"]:
            yield from _grades(nested)


def _nested_records(avro_type: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(avro_type, list):
        for member in avro_type:
            yield from _nested_records(member)
    elif isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            yield avro_type
        elif avro_type.get("type") in ("array", "map"):
            yield from _nested_records(avro_type.get("items", avro_type.get("values")))


def _type_label(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        members = [m for m in avro_type if m != "null"]
        label = " | ".join(_type_label(m) for m in members)
        return f"{label}?" if len(members) < len(avro_type) else label
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "array":
            return f"array<{_type_label(avro_type['items'])}>"
        if kind == "map":
            return f"map<{_type_label(avro_type['values'])}>"
        if kind in ("record", "enum", "fixed"):
            return str(avro_type["name"])
        return str(avro_type.get("logicalType", kind))
    return str(avro_type)


def _title(schema: Schema, base: str) -> tuple[str, str]:
    """Name and summary from a doc written ``<name>: <summary>``."""
    doc = str(schema.get("doc", "")).strip()
    name, colon, summary = doc.partition(":")
    return (name.strip(), summary.strip()) if colon else (base, doc)


def _sources(topic: Topic, schema: Schema) -> tuple[str, ...]:
    """A library's departments are the authorities of its attributes (一数一源)."""
    authorities = {str(f[AUTHORITY]) for f in schema["fields"] if AUTHORITY in f}
    return tuple(sorted(authorities)) if authorities else (topic.dept,)


# Fields of a published entry that say when and which revision, not what the entry is.
REVISION_FIELDS: Final = ("version", "source_ts_ms")


@dataclass(frozen=True, slots=True)
class CatalogRevision:
    """One record for the published catalog: an entry's new revision, or its tombstone
    (``record`` None) when the resource left the catalog."""

    code: str
    record: dict[str, Any] | None
    version: int


def catalog_revisions(
    resources: Iterable[Resource], published: Mapping[str, Mapping[str, Any]], now_ms: int
) -> list[CatalogRevision]:
    """What publishing the catalog writes, given the latest published record per code: a
    new revision of each entry that is new or changed, a tombstone for each entry gone;
    nothing for an entry published as it is (so publishing again writes nothing)."""
    revisions: list[CatalogRevision] = []
    current = {resource.code: resource.as_record() for resource in resources}
    for code, body in current.items():
        held = published.get(code)
        if held is not None and _without_revision(held) == body:
            continue
        version = int(held["version"]) + 1 if held is not None else 1
        revisions.append(CatalogRevision(
            code, {**body, "version": version, "source_ts_ms": now_ms}, version))
    revisions.extend(CatalogRevision(code, None, int(held["version"]) + 1)
                     for code, held in sorted(published.items()) if code not in current)
    return revisions


def _without_revision(record: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in REVISION_FIELDS}
