"""The consumer runtime: consume a batch, let the step process it, commit what is safe.

Every layer (the raw and theme stages, the sink) runs this loop with its own ``Step``; the
loop owns everything about Kafka consumption, so each fault is handled in one place.

The contract, as a step sees it:

- ``process(batch)`` gets the messages of one fetch (up to ``batch_size``, in each
  partition's order) and hands their results to the step's destination (Kafka, ClickHouse).
  A message the step cannot take is the step's to dead-letter, as data, and the batch goes
  on (see ``ops.runtime.outcomes``). An exception out of ``process`` means the
  infrastructure or the code is broken: the loop stops, commits nothing it was not told was
  safe, and the process exits non-zero; a restart reads again from the last commit.
- ``acknowledged(final)`` returns the offsets (next to read, per partition) whose results
  the destination has taken, and the partitions whose destination is backlogged. With
  ``final`` it waits for everything it holds (a revocation, a stop). The loop commits those
  offsets, and no others, so a result is safe before its input's offset is committed
  (at-least-once; the destinations judge a repeat idempotently).
- ``poll_timeout()`` says how long the next fetch may wait (a batch of the destination's
  falling due sooner than ``batch_seconds``).
- ``assigned(partitions, committed)`` before a partition's first message (``committed``: its
  group's committed offset, for a step that reads it); ``revoked(partitions, lost)`` after
  the last. ``restore(budget_s)`` does about ``budget_s`` of the work of bringing assigned
  partitions' state back (a changelog to read) and returns the partitions still restoring:
  they stay paused meanwhile, and the restore progresses here, in the poll loop, so a large
  changelog never holds up a rebalance or the other partitions. Before a revocation the loop
  takes the final acknowledgement and commits it synchronously, so the next owner starts
  where this one stopped. A *lost* assignment (session expired) commits nothing: another
  member may own the partitions already.

What the loop does itself:

- commits asynchronously, at most every ``commit_interval_s`` while there is input to
  process (a commit per 50 ms batch kept the group coordinator busy for nothing), and at once
  when a fetch comes back empty (caught up); a commit the broker cannot take (the coordinator
  moving, a broker restarting) is kept and tried again, never fatal;
- commits a partition's position, past the transaction markers (and aborted records) the
  consumer stepped over without returning, once everything before them is acknowledged:
  the step is handed a batch of offsets only (``_past_markers``);
- pauses a backlogged partition (the broker keeps its messages, not this process) and resumes
  it once the destination has caught up;
- reports each assigned partition's lag every ``lag_interval_s``;
- treats a consume error as the broker's: the others are retried by librdkafka and said once
  a minute per kind. The one fatal error of a consumer is a static member fenced by another
  with its identity; librdkafka reports it after a coordinator restart when the member's own
  retried join replaced it. The loop then releases its partitions as lost and joins again
  with a new consumer (the identity takes its partitions back at once). Fenced again and
  again within a minute means a second process has the same identity: the loop stops;
- an aborted transaction (``RewindError`` from the step) drops what the step held and seeks
  to the committed offsets, without leaving the group;
- ``stop()`` finishes: final acknowledgement, synchronous commit, leave the group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer

from ops import metrics
from ops.runtime.messages import InputMessage, Partition
from ops.runtime.partitioning import Partitioning

log = logging.getLogger("govbus.runtime")

LAG_GROUP_LABEL_MAX = 64
RESTORE_SLICE_S = 0.2  # restore work per loop round, between fetches of the ready partitions
COMMITTED_LOOKUP_TIMEOUT_S = 10.0


FENCED_REJOINS_PER_MINUTE = 3


class FencedError(RuntimeError):
    """The consumer is fenced for good (a fatal consumer error): only a new one can go on."""


class RewindError(RuntimeError):
    """What a step held since the last commit is gone (an aborted transaction): the runtime
    drops the step's state and reads again from the committed offsets."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One fetch's messages, and the offsets to commit once all their results are safe."""

    messages: list[InputMessage]
    next_offsets: dict[Partition, int]
    # When the fetch began: consume() returns at its timeout unless it filled the batch, so
    # a message may have waited in it since then (a destination's batch age counts from it).
    polled_at: float = 0.0


@dataclass(slots=True)
class Acknowledged:
    """What a step's destination has taken since it was last asked, and what it cannot."""

    offsets: dict[Partition, int] = field(default_factory=dict)
    backlogged: frozenset[Partition] = frozenset()


class Step(Protocol):
    """A layer's processing, as the loop runs it (see the module's docstring)."""

    name: str
    reads_committed_offsets: bool

    @property
    def input_topics(self) -> list[str]: ...

    def process(self, batch: Batch) -> None: ...

    def acknowledged(self, final: bool) -> Acknowledged: ...

    def poll_timeout(self, batch_seconds: float) -> float: ...

    def assigned(self, partitions: list[Partition], committed: Mapping[Partition, int]) -> None:
        ...

    def revoked(self, partitions: list[Partition], lost: bool) -> None: ...

    def restore(self, budget_s: float) -> frozenset[Partition]: ...


class Consumer(Protocol):
    """The part of confluent-kafka's consumer the loop uses."""

    def subscribe(self, topics: list[str], **callbacks: Any) -> None: ...

    def assign(self, partitions: list[TopicPartition]) -> None: ...

    def incremental_assign(self, partitions: list[TopicPartition]) -> None: ...

    def committed(self, partitions: list[TopicPartition], *, timeout: float
                  ) -> list[TopicPartition]: ...

    def seek(self, partition: TopicPartition) -> None: ...

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...

    def list_topics(self, *, timeout: float) -> Any: ...

    def consume(self, num_messages: int, timeout: float) -> list[Any]: ...

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any: ...

    def pause(self, partitions: list[TopicPartition]) -> None: ...

    def resume(self, partitions: list[TopicPartition]) -> None: ...

    def close(self) -> None: ...


class ConsumerRuntime:
    """Runs one step over one consumer group until stopped."""

    def __init__(self, config: Mapping[str, Any], step: Step, *, batch_size: int,
                 batch_seconds: float, commit_interval_s: float = 0.25,
                 lag_interval_s: float = 2.0,
                 consumer_factory: Callable[[dict[str, Any]], Any] = KafkaConsumer,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``config``: the consumer's (``client_config.consumer_config``)."""
        self._config = {**config, "on_commit": self.on_commit}
        self._consumer_factory = consumer_factory
        self.consumer: Consumer = consumer_factory(self._config)
        self.step = step
        self.group_id = str(config["group.id"])
        # KIP-848's consumer protocol gives and takes partitions a few at a time: the assign
        # callback adds to the assignment (librdkafka refuses a plain assign there); the
        # classic protocol's eager range rebalance gives the whole assignment each time.
        self._incremental = config.get("group.protocol") == "consumer"
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.commit_interval_s = commit_interval_s
        self.lag_interval_s = lag_interval_s
        self.stop_requested = threading.Event()
        self.state = "starting"
        self.messages_read = 0
        self.committed: dict[Partition, int] = {}  # as the broker confirmed
        self._clock = clock
        self._to_commit: dict[Partition, int] = {}
        self._committed_at = clock()
        self._lag_at = clock()
        self._assignment: set[Partition] = set()
        self._paused: set[Partition] = set()
        self._restoring: frozenset[Partition] = frozenset()
        self._backlogged: frozenset[Partition] = frozenset()
        self._warn_after: dict[int, float] = {}
        self._fenced_at: list[float] = []
        self._rewind_due = ""  # why the step's work since the last commit was dropped
        # Per partition, the next offset the step was handed (see ``_past_markers``).
        self._handed: dict[Partition, int] = {}

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Check what a stateful step needs of its topics (its ``partitioning``, if it has
        one), then subscribe."""
        partitioning: Partitioning | None = getattr(self.step, "partitioning", None)
        if partitioning is not None:
            metadata = self.consumer.list_topics(timeout=COMMITTED_LOOKUP_TIMEOUT_S)
            partitioning.check({name: len(topic.partitions)
                                for name, topic in metadata.topics.items()
                                if topic.error is None})
        attach = getattr(self.step, "attach", None)
        if attach is not None:
            attach(self.consumer)
        self.consumer.subscribe(self.step.input_topics, on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)

    def run(self, started: Callable[[], None] | None = None) -> None:
        """Until ``stop()``: consume, process, commit what is safe; then finish and leave.
        ``started`` is called once subscribed."""
        self.start()
        if started is not None:
            started()
        try:
            while not self.stop_requested.is_set():
                try:
                    self.run_once()
                except FencedError as exc:
                    self._join_again(str(exc))
            try:
                self.finish()
            except RewindError as exc:  # nothing since the last commit counts; it is read again
                log.warning("%s: %s at the stop", self.step.name, exc)
        finally:
            self.consumer.close()

    def stop(self) -> None:
        self.stop_requested.set()

    def finish(self) -> None:
        """Wait for every result held, then commit them synchronously."""
        self._settle(final=True)
        self._commit(synchronous=True)

    def readiness(self) -> tuple[bool, str]:
        return self.state == "processing", f"{self.step.name}: {self.state}"

    @property
    def assignment(self) -> frozenset[Partition]:
        return frozenset(self._assignment)

    # -- one round ------------------------------------------------------------------------

    def run_once(self) -> int:
        """One fetch and its processing, then whatever acknowledgement and commit is due;
        returns the messages taken (error events included)."""
        if self._restoring:
            self._restoring = self.step.restore(RESTORE_SLICE_S) & self._assignment
            self._pause_only(self._backlogged | self._restoring)
            if not self._restoring:
                self.state = "processing"
        polled_at = self._clock()
        timeout = 0.0 if self._restoring else self.step.poll_timeout(self.batch_seconds)
        messages = self.consumer.consume(self.batch_size, timeout)
        if self._rewind_due:
            reason, self._rewind_due = self._rewind_due, ""
            self._rewind(reason)
            return len(messages)
        self.messages_read += len(messages)
        batch = self._batch(messages, polled_at)
        try:
            if batch.next_offsets:
                self.step.process(batch)
            self._settle(final=False)
        except RewindError as exc:
            self._rewind(str(exc))
            return len(messages)
        now = self._clock()
        # Caught up (the fetch came back empty): nothing is gained by holding the offsets,
        # and the input of the last batch shows as processed at once, not an interval later.
        if self._to_commit and (not messages or now - self._committed_at
                                >= self.commit_interval_s):
            self._commit(synchronous=False)
        if now - self._lag_at >= self.lag_interval_s:
            self._lag_at = now
            self._report_lag()
        return len(messages)

    def _batch(self, messages: list[Any], polled_at: float) -> Batch:
        taken: list[InputMessage] = []
        next_offsets: dict[Partition, int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_error(error)
                continue
            taken.append(kept := InputMessage.from_kafka(message))
            next_offsets[(kept.topic, kept.partition)] = kept.offset + 1
        if len(messages) < self.batch_size:
            self._past_markers(next_offsets)
        self._handed.update(next_offsets)
        return Batch(taken, next_offsets, polled_at)

    def _past_markers(self, next_offsets: dict[Partition, int]) -> None:
        """Add the partitions whose position went past what the step was handed: a
        transaction's commit or abort marker, or an aborted transaction's records, that a
        read_committed consumer steps over without returning. Committing the position (as
        Kafka's own clients do) rather than the last message's offset + 1 is what brings a
        caught-up group's lag to 0 where a partition ends in markers (a worker killed
        mid-transaction leaves two: its successor's commit, then the coordinator's abort of
        the dead one's). Asked when a fetch was not full, so the consumer's queue is empty
        and its positions are those of what it returned; paused partitions are left alone."""
        wanted = [TopicPartition(t, p) for t, p in self._assignment if (t, p) not in self._paused]
        if not wanted:
            return
        try:
            positions = self.consumer.position(wanted)
        except KafkaException as exc:
            log.debug("positions not known: %s", exc)
            return
        for tp in positions:
            key = (tp.topic, tp.partition)
            if tp.offset > next_offsets.get(key, self._handed.get(key, -1)):
                next_offsets[key] = tp.offset

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if _fatal(error):
            raise FencedError(error.str())
        # A topic not created yet, a broker restarting: librdkafka retries by itself.
        now = self._clock()
        if now >= self._warn_after.get(error.code(), 0.0):
            self._warn_after[error.code()] = now + 60
            log.warning("%s: consumer: %s", self.step.name, error.str())

    def _settle(self, final: bool) -> None:
        acknowledged = self.step.acknowledged(final)
        self._to_commit.update(acknowledged.offsets)
        backlogged = acknowledged.backlogged & self._assignment
        if backlogged - self._paused:
            log.warning("%s: paused %d partitions while their destination catches up",
                        self.step.name, len(backlogged - self._paused))
        self._backlogged = backlogged
        self._pause_only(backlogged | self._restoring)

    def _pause_only(self, wanted: frozenset[Partition]) -> None:
        newly = wanted - self._paused
        if newly:
            self.consumer.pause([TopicPartition(t, p) for t, p in sorted(newly)])
        resumable = self._paused - wanted
        if resumable:
            self.consumer.resume([TopicPartition(t, p) for t, p in sorted(resumable)])
        self._paused = set(wanted)

    def _rewind(self, reason: str) -> None:
        """Drop everything since the last commit and read it again: the step releases its
        partitions as lost and takes them back at once (their state restored from the
        changelog), and the consumer seeks to the committed offsets. The member stays in its
        group: leaving and joining again with a static identity fences the consumer itself."""
        log.warning("%s: %s; reading again from the committed offsets", self.step.name, reason)
        held = self._held()
        paused = set(self._paused)  # still paused in the consumer: the member keeps them
        self._release(held, lost=True)
        self._paused = paused
        self._to_commit.clear()
        if not held:
            return
        committed = self._committed_offsets(held)
        for tp in committed:
            self.consumer.seek(TopicPartition(
                tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
        self._take(committed, in_rebalance=False, committed=committed)

    def _held(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in sorted(self._assignment)]

    def _join_again(self, reason: str) -> None:
        """A fenced consumer is replaced by a new one with the same identity."""
        now = self._clock()
        self._fenced_at = [t for t in self._fenced_at if now - t < 60.0] + [now]
        if len(self._fenced_at) > FENCED_REJOINS_PER_MINUTE:
            raise KafkaException(KafkaError(KafkaError._FATAL, (
                f"{reason}: fenced {len(self._fenced_at)} times in a minute; is another "
                "process running with this instance id?"), fatal=True))
        log.warning("%s: %s; joining the group again with a new consumer", self.step.name,
                    reason)
        self._release(self._held(), lost=True)
        self._to_commit.clear()
        self._paused.clear()
        try:
            self.consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.debug("closing the fenced consumer: %s", exc)
        self.consumer = self._consumer_factory(self._config)
        self.start()

    def _committed_offsets(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The group's committed offsets, asked until the coordinator answers (a broker
        restarting answers "not coordinator" for a while)."""
        while True:
            try:
                return list(self.consumer.committed(partitions,
                                                    timeout=COMMITTED_LOOKUP_TIMEOUT_S))
            except KafkaException as exc:
                error = _kafka_error(exc)
                if error is not None and _fatal(error):
                    raise FencedError(error.str()) from exc
                if error is None or self.stop_requested.is_set():
                    raise
                log.warning("%s: committed offsets not known yet: %s", self.step.name,
                            error.str())
                time.sleep(1.0)

    # -- commits --------------------------------------------------------------------------

    def _commit(self, synchronous: bool) -> None:
        self._committed_at = self._clock()
        offsets, self._to_commit = self._to_commit, {}
        if not offsets:
            return
        try:
            self.consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=not synchronous)
        except KafkaException as exc:
            error = _kafka_error(exc)
            if error is None:
                raise
            if _fatal(error):
                raise FencedError(error.str()) from exc
            self._retry_commit(offsets, error.str())
            return
        if synchronous:
            self.committed.update(offsets)

    def on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The broker's answer to a commit (the consumer's ``on_commit`` callback)."""
        failed = {(tp.topic, tp.partition): tp.offset for tp in partitions
                  if error is not None or tp.error is not None}
        for tp in partitions:
            if (tp.topic, tp.partition) not in failed:
                self.committed[(tp.topic, tp.partition)] = tp.offset
        if failed:
            self._retry_commit(failed, error.str() if error is not None else "partition error")

    def _retry_commit(self, offsets: Mapping[Partition, int], reason: str) -> None:
        """Not fatal: the results are safe already; the offsets go with the next commit,
        unless a newer one for the partition is waiting (or it was revoked meanwhile)."""
        log.warning("%s: commit of %d partitions deferred: %s", self.step.name, len(offsets),
                    reason)
        for tp, offset in offsets.items():
            if tp in self._assignment and tp not in self._to_commit:
                self._to_commit[tp] = offset

    # -- rebalances -----------------------------------------------------------------------

    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        self._take(partitions, in_rebalance=True)

    def _take(self, partitions: list[TopicPartition], in_rebalance: bool,
              committed: list[TopicPartition] | None = None) -> None:
        """The step takes ``partitions``; those whose state must be restored first stay
        paused until it is. ``committed``: their committed offsets, when already asked."""
        self.state = "restoring"
        owned = [(tp.topic, tp.partition) for tp in partitions]
        offsets: dict[Partition, int] = {}
        if self.step.reads_committed_offsets and partitions:
            for tp in committed or self._committed_offsets(partitions):
                offsets[(tp.topic, tp.partition)] = tp.offset
        elif committed:
            offsets = {(tp.topic, tp.partition): tp.offset for tp in committed}
        # What the step was handed starts at the committed offset, when known (else the
        # first position seen is committed once: the same offset, or one past markers).
        self._handed.update((tp, o) for tp, o in offsets.items() if o >= 0)
        self.step.assigned(owned, offsets)
        self._assignment |= set(owned)
        self._restoring = self.step.restore(0.0) & self._assignment
        if self._restoring:
            if in_rebalance:
                # Assigned here rather than after the callback, so that the partitions whose
                # state is still being restored are paused before their first fetch.
                if self._incremental:
                    self.consumer.incremental_assign(partitions)
                else:
                    self.consumer.assign(partitions)
                self._paused -= self._restoring  # a new assignment starts unpaused
            self._pause_only(self._backlogged | self._restoring)
            log.info("%s: restoring the state of %d partitions", self.step.name,
                     len(self._restoring))
        else:
            self.state = "processing"

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        # Everything consumed so far is finished before the partitions go to another member.
        try:
            self.finish()
        except RewindError as exc:
            # Nothing since the last commit counts: the partitions go as lost (their next
            # owner reads them again), and those this member keeps are read again too.
            self._release(partitions, lost=True)
            self._rewind_due = str(exc)
            return
        self._release(partitions, lost=False)

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        # Another member may own them already: no commit, the step forgets what it held.
        self._release(partitions, lost=True)

    def _release(self, partitions: list[TopicPartition], lost: bool) -> None:
        released = [(tp.topic, tp.partition) for tp in partitions]
        self.step.revoked(released, lost)
        gone = set(released)
        self._assignment -= gone
        self._paused -= gone
        self._restoring -= gone
        self._backlogged -= gone
        for tp in gone:
            self._to_commit.pop(tp, None)
            self.committed.pop(tp, None)
            self._handed.pop(tp, None)
        self.state = "rebalancing"

    # -- lag ------------------------------------------------------------------------------

    def _report_lag(self) -> None:
        """Lag of each assigned partition, from the consumer's positions and watermarks."""
        position = getattr(self.consumer, "position", None)
        if position is None or not self._assignment:
            return
        group = self.group_id[:LAG_GROUP_LABEL_MAX]
        try:
            positions = position([TopicPartition(t, p) for t, p in self._assignment])
            for tp in positions:
                if tp.offset < 0:
                    continue
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)  # type: ignore[attr-defined]
                if high >= 0:
                    metrics.set_consumer_lag(group, tp.topic, tp.partition, high - tp.offset)
        except KafkaException as exc:
            log.debug("lag not known: %s", exc)


def _fatal(error: KafkaError) -> bool:
    """A consumer's fatal error: librdkafka hands it out as a ``_FATAL`` event whose
    ``fatal()`` is false (the flag belongs to the underlying error)."""
    return error.fatal() or error.code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID)


def _kafka_error(exc: KafkaException) -> KafkaError | None:
    """The error a client call raised, if it carries one."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
