"""Durable log writer: submit() from the event loop -> spool thread (fsync) -> flush thread -> ClickHouse."""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from collections import deque
from typing import Any

import msgspec

from gateway.store.flush import Inserter, SegmentFlusher, TransientInsertError
from gateway.store.rows import GENESIS_HASH, SpoolRecord, chain_audit
from gateway.store.spool import Segment, Spool
from schemas.log import AuditRow, LogRecord

logger = logging.getLogger(__name__)

GROUP_COMMIT_RECORDS = 256
MAX_QUEUE_RECORDS = 50_000
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 30.0
KEEP_IN_MEMORY_SEGMENTS = 4


class WriterStats(msgspec.Struct, kw_only=True, frozen=True):
    """A snapshot of the writer's counters (exported as metrics by the gateway)."""

    queue_depth: int
    spool_bytes: int
    spool_segments_pending: int
    records_submitted: int
    records_spooled: int
    records_durable: int
    rows_flushed: int
    insert_failures: int
    bodies_stripped: int
    records_dropped: int
    queue_dropped: int
    dead_letters: int
    crc_failures: int
    torn_tails: int
    last_error: str


class LogWriter:
    """Durable, exactly-once (by insert deduplication token) log pipeline into ClickHouse."""

    def __init__(self, store: Inserter, *, spool_dir: str, spool_max_bytes: int = 1 << 30,
                 batch_rows: int = 5000, flush_interval_ms: int = 1000, fsync_window_ms: int = 10,
                 segment_max_bytes: int = 64 << 20, node_name: str | None = None,
                 max_queue_records: int = MAX_QUEUE_RECORDS) -> None:
        self._spool = Spool(spool_dir, spool_max_bytes, min(segment_max_bytes, max(spool_max_bytes // 8, 4096)))
        self._flusher = SegmentFlusher(store, spool_dir=spool_dir, batch_rows=batch_rows)
        self._batch_rows = batch_rows
        self._max_queue_records = max_queue_records
        self._flush_interval_s = flush_interval_ms / 1000
        self._fsync_window_s = fsync_window_ms / 1000
        self._queue: queue.SimpleQueue[LogRecord | None] = queue.SimpleQueue()
        self._pending: deque[Segment] = deque()
        self._pending_cv = threading.Condition()
        self._stopping = threading.Event()
        self._flush_requested = threading.Event()
        self._spool_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._chain = f"{node_name or socket.gethostname()}-{time.time_ns()}"
        self._audit_seq = 0
        self._audit_prev = GENESIS_HASH
        self._submitted = 0
        self._queue_dropped = 0
        self._durable = 0
        self._drain_to_store = True
        self._give_up_at = float("inf")

    @classmethod
    def from_config(cls, store: Inserter, config: Any) -> LogWriter:
        """Build from a gateway.store.client.StoreConfig (or any object with the same fields)."""
        return cls(store, spool_dir=config.spool_dir, spool_max_bytes=config.spool_max_bytes,
                   batch_rows=config.batch_rows, flush_interval_ms=config.flush_interval_ms,
                   fsync_window_ms=config.fsync_window_ms)

    # ---- event-loop side -------------------------------------------------------------------------------
    def submit(self, record: LogRecord) -> None:
        """Hand a record to the writer: O(1), non-blocking, never raises (over the queue bound it is counted)."""
        try:
            if self._queue.qsize() >= self._max_queue_records or self._stopping.is_set():
                self._queue_dropped += 1
                return
            self._queue.put_nowait(record)
            self._submitted += 1
        except Exception:  # pragma: no cover - SimpleQueue.put does not fail; never let logging break a request
            self._queue_dropped += 1

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Replay segments left by an earlier run, then start the spool and flush threads."""
        with self._pending_cv:
            self._pending.extend(self._spool.existing_segments())
        self._threads = [
            threading.Thread(target=self._spool_loop, name="portcullis-spool", daemon=True),
            threading.Thread(target=self._flush_loop, name="portcullis-flush", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0, *, drain_to_store: bool = True) -> bool:
        """Spool everything submitted (fsync), then flush to ClickHouse until `timeout`; True if all flushed.

        With drain_to_store=False the spool is only fsynced; its segments are replayed at the next start.
        """
        deadline = time.monotonic() + timeout
        self._drain_to_store = drain_to_store
        self._give_up_at = deadline
        self._stopping.set()
        self._queue.put(None)
        with self._pending_cv:
            self._pending_cv.notify_all()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._pending_cv:
            return not self._pending and not any(thread.is_alive() for thread in self._threads)

    # ---- spool thread ----------------------------------------------------------------------------------
    def _append(self, record: LogRecord) -> None:
        spooled: SpoolRecord = record
        if isinstance(record, AuditRow):
            self._audit_seq += 1
            chained = chain_audit(record, self._chain, self._audit_seq, self._audit_prev)
            self._audit_prev, spooled = chained.hash, chained
        try:
            self._spool.append(spooled)
        except (TypeError, ValueError, msgspec.EncodeError) as error:
            self._flusher.dead_letter_unencodable(repr(record)[:2000], f"spool encode failed: {error}")
        except OSError as error:  # disk full or failing: count it, keep serving
            logger.error("spool append failed: %s", error)
            self._spool.counters.records_dropped += 1

    def _seal(self) -> None:
        segment = self._spool.seal()
        if segment is None:
            return
        with self._pending_cv:
            if len(self._pending) >= KEEP_IN_MEMORY_SEGMENTS:
                segment.records = None  # a backlog: read it back from disk when its turn comes
            self._pending.append(segment)
            self._pending_cv.notify_all()

    def _rotation_due(self) -> bool:
        return (self._spool.active_records() >= self._batch_rows
                or self._spool.active_bytes() >= self._spool.segment_max_bytes
                or self._spool.active_age() >= self._flush_interval_s
                or self._flush_requested.is_set())

    def _spool_loop(self) -> None:
        """Run the spool until stopped; an unexpected error is logged and the loop goes on."""
        while True:
            try:
                self._spool_until_stopped()
                break
            except Exception:  # pragma: no cover - a disk failure must not kill logging for good
                logger.exception("spool thread error")
                time.sleep(0.1)
        self._spool_done.set()
        with self._pending_cv:
            self._pending_cv.notify_all()

    def _spool_until_stopped(self) -> None:
        stop_seen = False
        while not stop_seen:
            timeout = self._flush_interval_s if self._spool.active_records() == 0 else max(
                0.0, self._flush_interval_s - self._spool.active_age())
            try:
                item = self._queue.get(timeout=max(timeout, 0.001))
            except queue.Empty:
                item = None if self._stopping.is_set() else _NOTHING
            window_end = time.monotonic() + self._fsync_window_s
            while item is not _NOTHING:
                if item is None:
                    stop_seen = self._stopping.is_set()
                    if stop_seen:
                        break
                else:
                    self._append(item)  # type: ignore[arg-type]
                if self._spool.unsynced >= GROUP_COMMIT_RECORDS or time.monotonic() >= window_end:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, window_end - time.monotonic()))
                except queue.Empty:
                    break
            if stop_seen:  # drain what is still queued behind the stop marker
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        self._append(item)
            unsynced = self._spool.unsynced
            self._spool.sync()
            self._durable += unsynced
            if stop_seen or self._rotation_due():
                self._flush_requested.clear()
                self._seal()

    # ---- flush thread ----------------------------------------------------------------------------------
    def _next_segment(self) -> Segment | None:
        with self._pending_cv:
            while not self._pending:
                if self._spool_done.is_set():
                    return None
                self._pending_cv.wait(0.5)
            return self._pending[0]

    def _must_quit(self) -> bool:
        """Stopping, and either told not to drain or out of time (what is left is replayed at next start)."""
        return self._stopping.is_set() and (not self._drain_to_store or time.monotonic() >= self._give_up_at)

    def _flush_loop(self) -> None:
        backoff = BACKOFF_MIN_S
        while not self._must_quit():
            segment = self._next_segment()
            if segment is None or self._must_quit():
                return
            try:
                self._flusher.flush(segment, self._spool.load(segment))
            except (TransientInsertError, OSError) as error:
                logger.warning("log flush failed, retrying in %.1fs: %s", backoff, error)
                self._sleep_backoff(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
                continue
            backoff = BACKOFF_MIN_S
            self._spool.release(segment)
            with self._pending_cv:
                self._pending.popleft()
                self._pending_cv.notify_all()

    def _sleep_backoff(self, backoff: float) -> None:
        """Jittered wait before a retry; cut short by flush_now() or a stop without draining."""
        end = time.monotonic() + backoff * random.uniform(0.5, 1.0)
        while time.monotonic() < end and not self._flush_requested.is_set():
            if self._must_quit():
                return
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))

    # ---- tests and operations --------------------------------------------------------------------------
    def flush_now(self) -> None:
        """Seal the active segment at the next spool tick and skip any retry backoff."""
        self._flush_requested.set()
        self._queue.put(None)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything submitted is in ClickHouse (or dead-lettered); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._pending_cv:
                idle = (not self._pending and self._queue.qsize() == 0 and self._spool.active_records() == 0
                        and self._spool.counters.records_appended + self._spool.counters.records_dropped
                        + self._flusher.counters.unencodable >= self._submitted)
            if idle:
                return True
            self.flush_now()
            time.sleep(0.01)
        return False

    def stats(self) -> WriterStats:
        """Counters for metrics and tests."""
        spool, flush = self._spool.counters, self._flusher.counters
        with self._pending_cv:
            pending = len(self._pending)
        return WriterStats(
            queue_depth=self._queue.qsize(), spool_bytes=spool.bytes, spool_segments_pending=pending,
            records_submitted=self._submitted, records_spooled=spool.records_appended,
            records_durable=self._durable, rows_flushed=flush.rows_flushed,
            insert_failures=flush.insert_failures, bodies_stripped=spool.bodies_stripped,
            records_dropped=spool.records_dropped, queue_dropped=self._queue_dropped,
            dead_letters=flush.dead_letters + flush.unencodable, crc_failures=spool.crc_failures,
            torn_tails=spool.torn_tails, last_error=flush.last_error,
        )


class _Nothing:
    """Marker for 'no queue item this tick' (None is the stop/flush marker)."""


_NOTHING: Any = _Nothing()
