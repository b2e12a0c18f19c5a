"""Flush one sealed spool segment into ClickHouse: deterministic batches, dedup tokens, poison-row isolation."""

from __future__ import annotations

import os
import struct
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Protocol

import msgspec
from clickhouse_connect.driver.exceptions import DataError, Error

from gateway.store.rows import TABLES, SpoolRecord, TableSpec
from gateway.store.spool import Segment

DEAD_LETTER_FILE = "dead-letter.jsonl"

# ClickHouse error codes that mean "this data is bad", never "the server is unwell".
_DATA_ERROR_CODES = frozenset({
    6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321, 349, 469, 1001,
})


class TransientInsertError(Exception):
    """ClickHouse could not take a batch now; retry the segment later (already-inserted batches dedup)."""


class Inserter(Protocol):
    """What the flusher needs from the store."""

    def insert(self, table: str, rows: Any, column_names: Any, dedup_token: str | None = None) -> None: ...


class FlushCounters(msgspec.Struct, kw_only=True):
    """Counters owned by the flush thread."""

    rows_flushed: int = 0
    insert_failures: int = 0
    dead_letters: int = 0
    unencodable: int = 0
    last_error: str = ""


class DeadLetter(msgspec.Struct, kw_only=True):
    """One line of dead-letter.jsonl."""

    segment_id: str
    frame: int
    table: str
    reason: str
    record: Any


def is_data_error(error: BaseException) -> bool:
    """True when the batch itself is at fault (serialisation or a data-rejecting server error)."""
    if isinstance(error, DataError | ValueError | TypeError | OverflowError | struct.error | msgspec.EncodeError):
        return True
    return isinstance(error, Error) and getattr(error, "code", None) in _DATA_ERROR_CODES


class SegmentFlusher:
    """Inserts a segment table by table in fixed `batch_rows` chunks; tokens depend only on segment content."""

    def __init__(self, store: Inserter, *, spool_dir: str, batch_rows: int) -> None:
        self._store = store
        self._dead_letter_path = Path(spool_dir) / DEAD_LETTER_FILE
        self._batch_rows = batch_rows
        self._done_tokens: set[str] = set()
        self._dead_letter_lock = threading.Lock()
        self._json = msgspec.json.Encoder()
        self.counters = FlushCounters()

    def flush(self, segment: Segment, records: list[tuple[int, SpoolRecord]]) -> None:
        """Insert every row of the segment (or dead-letter it); raises TransientInsertError to retry later."""
        by_table: dict[type, list[tuple[int, SpoolRecord]]] = defaultdict(list)
        for frame, record in records:
            by_table[type(record)].append((frame, record))
        for record_type, frames in by_table.items():
            spec = TABLES.get(record_type)
            if spec is None:
                for frame, record in frames:
                    self._dead_letter(segment.segment_id, frame, "", record, "no table for this record type")
                continue
            for start in range(0, len(frames), self._batch_rows):
                self._insert_range(segment.segment_id, spec, frames[start:start + self._batch_rows])
        self._done_tokens = {token for token in self._done_tokens if not token.startswith(segment.segment_id)}

    def _insert_range(self, segment_id: str, spec: TableSpec, frames: list[tuple[int, SpoolRecord]]) -> None:
        token = f"{segment_id}:{spec.table}:{frames[0][0]}-{frames[-1][0]}"
        if token in self._done_tokens:
            return
        try:
            rows = [spec.to_row(record) for _, record in frames]
            self._store.insert(spec.table, rows, spec.columns, dedup_token=token)
        except Exception as error:
            self.counters.insert_failures += 1
            self.counters.last_error = f"{type(error).__name__}: {error}"[:500]
            if not is_data_error(error):
                raise TransientInsertError(self.counters.last_error) from error
            if len(frames) == 1:
                frame, record = frames[0]
                self._dead_letter(segment_id, frame, spec.table, record, self.counters.last_error)
                self._done_tokens.add(token)
                return
            middle = len(frames) // 2
            self._insert_range(segment_id, spec, frames[:middle])
            self._insert_range(segment_id, spec, frames[middle:])
            self._done_tokens.add(token)
            return
        self._done_tokens.add(token)
        self.counters.rows_flushed += len(frames)

    def _write_dead_letter(self, line: bytes) -> None:
        with self._dead_letter_lock:
            self._dead_letter_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._dead_letter_path, "ab") as handle:
                handle.write(line + b"\n")
                handle.flush()
                os.fsync(handle.fileno())

    def _dead_letter(self, segment_id: str, frame: int, table: str, record: SpoolRecord, reason: str) -> None:
        entry = DeadLetter(segment_id=segment_id, frame=frame, table=table, reason=reason,
                           record=msgspec.to_builtins(record))
        self._write_dead_letter(self._json.encode(entry))
        self.counters.dead_letters += 1

    def dead_letter_unencodable(self, description: str, reason: str) -> None:
        """A record the spool could not even encode (called from the spool thread)."""
        entry = DeadLetter(segment_id="", frame=-1, table="", reason=reason, record=description)
        self._write_dead_letter(self._json.encode(entry))
        self.counters.unencodable += 1
