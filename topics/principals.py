"""Who may do what on the broker: one principal per role, least privilege, declared once.

Grants derive from the topic catalog (layers, departments), so a new topic or department is
covered without a line here. `govbus topics apply` turns these into ACLs and SCRAM users;
nothing else grants access. The admin is a super user of the broker (it creates topics,
users and the ACLs themselves); every other principal gets exactly the grants below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from ops.access import ADMIN_PRINCIPAL
from ops.settings import Settings
from ops.stack.connect import PRINCIPAL as CONNECT
from ops.stack.connect import worker_group as connect_group
from topics.catalog import RAW_ROWS, THEME_PROFILES, Layer, Topic, catalog_in
from topics.cdc import DEPARTMENT_TABLES, KEY_RECORD, VALUE_RECORD
from topics.sharing import read_declaration


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"


class ResourceKind(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"
    TRANSACTIONAL_ID = "TRANSACTIONAL_ID"


class Match(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: this principal may do this operation on this resource (from any host)."""

    kind: ResourceKind
    match: Match
    resource: str
    operation: Operation


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    grants: frozenset[Grant]
    # (group, artifact id) pairs it may register schema versions under in the registry,
    # beyond the lookups every principal may do (the registry's door enforces them).
    registry_writes: frozenset[tuple[str, str]] = frozenset()

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.name}"


def _reads(topics: Iterable[Topic]) -> set[Grant]:
    return {
        Grant(ResourceKind.TOPIC, Match.LITERAL, t.name, op)
        for t in topics
        for op in (Operation.READ, Operation.DESCRIBE)
    }


def _writes(topics: Iterable[Topic]) -> set[Grant]:
    return {
        Grant(ResourceKind.TOPIC, Match.LITERAL, t.name, op)
        for t in topics
        for op in (Operation.WRITE, Operation.DESCRIBE)
    }


def _group(prefix: str) -> set[Grant]:
    """A consumer group family: the role's group and the helpers named after it."""
    return {Grant(ResourceKind.GROUP, Match.PREFIXED, prefix, Operation.READ)}


def _transactions(prefix: str) -> set[Grant]:
    """A worker's transactional producers (exactly-once batches), named after its group."""
    return {Grant(ResourceKind.TRANSACTIONAL_ID, Match.PREFIXED, prefix, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)}


def worker_group(namespace: str, layer: str) -> str:
    """A worker layer's consumer group in the namespace (dots are not for group ids)."""
    return f"govbus-{namespace}{layer}".replace(".", "-")


def publisher(dept: str) -> str:
    return f"publisher-{dept}"


def consumer(dept: str) -> str:
    """A department's principal for what it subscribed to (its faust apps connect as it)."""
    return f"consumer-{dept}"


def consumer_group(namespace: str, dept: str) -> str:
    """The prefix of a consuming department's group ids."""
    return f"{namespace}{consumer(dept)}"


RAW_WORKER = "raw-worker"
THEME_WORKER = "theme-worker"
SINK = "sink"
SUBSCRIBER = "subscriber"
ADMIN = ADMIN_PRINCIPAL


def principals(settings: Settings,
               subscribed: Mapping[str, frozenset[str]] | None = None) -> tuple[Principal, ...]:
    """Every principal of the bus, its grants named in the settings' namespace and groups.
    ``subscribed``: per consuming
    department, the topics (without the namespace) its granted subscriptions name
    (``topics/subscriptions.py``); their READ is the department's principal's."""
    return (*_principals(settings.topic_namespace, settings.sink_group_id),
            *_consumers(settings.topic_namespace,
                        tuple(sorted((subscribed or {}).items()))))


@cache
def _consumers(namespace: str, subscribed: tuple[tuple[str, frozenset[str]], ...]
               ) -> tuple[Principal, ...]:
    granted = dict(subscribed)
    topics = catalog_in(namespace)
    # The published resource catalog is every department's to browse: it is what to ask for.
    directory = _reads([topics.resource_catalog])
    return tuple(
        Principal(
            consumer(dept),
            f"{dept}'s subscriptions: the resource catalog and what the providers granted it, "
            "nothing else",
            frozenset(_reads(topics.by_name(topic) for topic in sorted(granted.get(dept, ())))
                      | directory | _group(consumer_group(namespace, dept))),
        )
        for dept in sorted(read_declaration().providers)
    )


@cache
def _principals(namespace: str, sink_group: str) -> tuple[Principal, ...]:
    topics = catalog_in(namespace)
    raw = topics.by_layer(Layer.RAW)
    departments = sorted({t.dept for t in raw})
    facts, themes = topics.by_layer(Layer.FACT), topics.by_layer(Layer.THEME)
    quality = topics.quality
    audit = topics.by_layer(Layer.AUDIT)
    rows, profiles = topics.state(RAW_ROWS), topics.state(THEME_PROFILES)
    return (
        Principal(ADMIN, "topics, schemas, users and ACLs (a broker super user)", frozenset()),
        *(
            Principal(
                publisher(dept),
                f"publishes {dept}'s change events to its own raw topics",
                frozenset(_writes(t for t in raw if t.dept == dept)),
            )
            for dept in departments
        ),
        Principal(
            RAW_WORKER,
            "standardizes raw into std, fact, dlq and quality; keeps the source rows' state "
            "changelog; appends snapshot closings to the raw partitions it owns",
            frozenset(
                _reads([*raw, rows])
                # Raw: a table's closed snapshot run is carried to its other partitions as a
                # control record in the partition's own order (see streams/runtime/row_store.py).
                | _writes([*raw, *topics.by_layer(Layer.STD), *facts, rows,
                           topics.dlq("standardize"), quality])
                | _group(worker_group(namespace, "raw"))
                | _transactions(worker_group(namespace, "raw"))
            ),
        ),
        Principal(
            THEME_WORKER,
            "merges facts into theme profiles and their state changelog",
            frozenset(
                _reads([*facts, profiles])
                | _writes([*themes, profiles, topics.dlq("theme"), quality])
                | _group(worker_group(namespace, "theme"))
                | _transactions(worker_group(namespace, "theme"))
            ),
        ),
        Principal(
            SINK,
            "lands theme, fact, quality, audit, subscriptions and the resource catalog in "
            "ClickHouse; audits its queries; dead-letters what it cannot build a row of",
            frozenset(
                _reads([*themes, *facts, quality, *audit, *topics.by_layer(Layer.SHARING)])
                | _writes([*audit, topics.dlq("sink")])
                | _group(worker_group(namespace, sink_group))
            ),
        ),
        _connect(namespace),
        Principal(
            SUBSCRIBER,
            "a consuming department: the theme libraries only, until the resource catalog "
            "grants more",
            frozenset(_reads(themes) | _group(f"{namespace}subscriber")),
        ),
    )


def _connect(namespace: str) -> Principal:
    """Kafka Connect: the stock Debezium connector writes the declared department tables'
    changes to their raw topics; the worker keeps its state in its own topics and group.

    Its converter registers Debezium's schemas itself (they derive from the department's
    table, which may change), so it may write exactly those registry artifacts: under
    TopicRecordIdStrategy, group = the record namespace, id = <raw topic>-<record name>.
    Its raw topics' govbus subjects stay the admin's.
    """
    topics = catalog_in(namespace)
    carried = [(table, topics.raw(table.source)) for table in DEPARTMENT_TABLES]
    return Principal(
        CONNECT,
        "Kafka Connect: department tables' changes (Debezium) into their raw topics",
        frozenset(
            _writes(topic for _, topic in carried)
            | _reads(topics.by_layer(Layer.CONNECT))
            | _writes(topics.by_layer(Layer.CONNECT))
            | _group(connect_group(namespace))
        ),
        frozenset(
            (table.record_namespace, f"{topic.name}-{record}")
            for table, topic in carried
            for record in (KEY_RECORD, VALUE_RECORD)
        ),
    )


def principal_topics(name: str, settings: Settings) -> list[str]:
    """The topics a principal has any grant on, in the settings' namespace."""
    grants = principal(name, settings).grants
    return sorted({g.resource for g in grants if g.kind is ResourceKind.TOPIC})


def principal(name: str, settings: Settings) -> Principal:
    declared = principals(settings)
    for candidate in declared:
        if candidate.name == name:
            return candidate
    known = ", ".join(p.name for p in declared)
    raise KeyError(f"no principal {name!r}; known principals: {known}")
