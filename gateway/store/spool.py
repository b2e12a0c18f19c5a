"""Append-only spool of log records: CRC-framed msgpack segment files, group-commit fsync, replay, disk cap."""

from __future__ import annotations

import os
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from gateway.store.rows import SpoolRecord
from schemas.log import RequestLog

_HEADER = struct.Struct("<II")  # payload length, CRC32 of the payload
_MAX_FRAME_BYTES = 256 << 20
SEGMENT_SUFFIX = ".seg"
BODY_STRIP_FRACTION = 0.9  # above this share of the cap, new records lose their bodies


class Segment(msgspec.Struct, kw_only=True):
    """A sealed segment file waiting to be flushed; `records` is an in-memory copy when still at hand."""

    segment_id: str
    path: str
    size: int
    records: list[tuple[int, SpoolRecord]] | None = None


class SegmentReadResult(msgspec.Struct, kw_only=True):
    """Frames decoded from one segment file and what was wrong with the rest."""

    records: list[tuple[int, SpoolRecord]]
    crc_failures: int = 0
    torn_tail: bool = False


class SpoolCounters(msgspec.Struct, kw_only=True):
    """Counters owned by the spool (mutated by the spool thread only, except `bytes`, under its lock)."""

    bytes: int = 0
    records_appended: int = 0
    bodies_stripped: int = 0
    records_dropped: int = 0
    crc_failures: int = 0
    torn_tails: int = 0


def new_segment_id() -> str:
    """Unique, time-ordered id: also the prefix of every insert deduplication token from this segment."""
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}"


def encode_frame(payload: bytes) -> bytes:
    """Length + CRC32 header, then the payload."""
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_segment(path: str, decoder: msgspec.msgpack.Decoder[SpoolRecord]) -> SegmentReadResult:
    """Decode every intact frame; a short or implausible final frame is a torn tail, a bad CRC is skipped."""
    data = Path(path).read_bytes()
    result = SegmentReadResult(records=[])
    offset = index = 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            result.torn_tail = True
            break
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length > _MAX_FRAME_BYTES or end > len(data):
            result.torn_tail = True
            break
        payload = data[start:end]
        if zlib.crc32(payload) != crc:
            result.crc_failures += 1
        else:
            try:
                result.records.append((index, decoder.decode(payload)))
            except msgspec.DecodeError:
                result.crc_failures += 1
        offset, index = end, index + 1
    return result


class Spool:
    """Segment files in one directory. Appends come from one thread; `release` may come from another."""

    def __init__(self, directory: str, max_bytes: int, segment_max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_max_bytes = segment_max_bytes
        self.counters = SpoolCounters()
        self._bytes_lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self.decoder: msgspec.msgpack.Decoder[SpoolRecord] = msgspec.msgpack.Decoder(SpoolRecord)
        self._file: BinaryIO | None = None
        self._active: Segment | None = None
        self._active_opened_at = 0.0
        self._unsynced = 0

    def existing_segments(self) -> list[Segment]:
        """Segments left by an earlier run (oldest first); counted into the spool size."""
        self.directory.mkdir(parents=True, exist_ok=True)
        found: list[Segment] = []
        for path in sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}")):
            size = path.stat().st_size
            found.append(Segment(segment_id=path.name[: -len(SEGMENT_SUFFIX)], path=str(path), size=size))
            self._add_bytes(size)
        return found

    def load(self, segment: Segment) -> list[tuple[int, SpoolRecord]]:
        """The records of a segment (from memory when kept, else from disk), counting damaged frames."""
        if segment.records is not None:
            return segment.records
        result = read_segment(segment.path, self.decoder)
        with self._bytes_lock:
            self.counters.crc_failures += result.crc_failures
            self.counters.torn_tails += int(result.torn_tail)
        return result.records

    def _add_bytes(self, delta: int) -> None:
        with self._bytes_lock:
            self.counters.bytes += delta

    def _admit(self, record: SpoolRecord) -> tuple[SpoolRecord, bytes] | None:
        """Apply the disk cap: strip bodies near or over it, drop the record if it still does not fit."""
        payload = self._encoder.encode(record)
        used = self.counters.bytes
        over_soft = used + len(payload) > self.max_bytes * BODY_STRIP_FRACTION
        stripped = False
        if over_soft and isinstance(record, RequestLog) and (record.request_body or record.response_body):
            record = msgspec.structs.replace(record, request_body="", response_body="", log_policy="metadata")
            payload, stripped = self._encoder.encode(record), True
        if used + len(payload) + _HEADER.size > self.max_bytes:
            self.counters.records_dropped += 1
            return None
        self.counters.bodies_stripped += int(stripped)
        return record, payload

    def append(self, record: SpoolRecord) -> bool:
        """Write one frame to the active segment (not yet durable; see `sync`); False when dropped by the cap."""
        admitted = self._admit(record)
        if admitted is None:
            return False
        record, payload = admitted
        if self._file is None or self._active is None:
            segment_id = new_segment_id()
            path = self.directory / f"{segment_id}{SEGMENT_SUFFIX}"
            self._file = open(path, "ab", buffering=1 << 20)  # noqa: SIM115 - held open across calls
            self._active = Segment(segment_id=segment_id, path=str(path), size=0, records=[])
            self._active_opened_at = time.monotonic()
        frame = encode_frame(payload)
        self._file.write(frame)
        assert self._active.records is not None
        self._active.records.append((len(self._active.records), record))
        self._active.size += len(frame)
        self._add_bytes(len(frame))
        self.counters.records_appended += 1
        self._unsynced += 1
        return True

    @property
    def unsynced(self) -> int:
        """Frames written since the last fsync."""
        return self._unsynced

    def sync(self) -> None:
        """Group commit: flush and fsync the active segment."""
        if self._file is not None and self._unsynced:
            self._file.flush()
            os.fsync(self._file.fileno())
        self._unsynced = 0

    def active_records(self) -> int:
        """Records in the active (unsealed) segment."""
        return len(self._active.records or []) if self._active is not None else 0

    def active_bytes(self) -> int:
        """Bytes written to the active segment."""
        return self._active.size if self._active is not None else 0

    def active_age(self) -> float:
        """Seconds since the active segment was opened (0 when none)."""
        return time.monotonic() - self._active_opened_at if self._active is not None else 0.0

    def seal(self) -> Segment | None:
        """fsync and close the active segment; it becomes flushable."""
        if self._file is None or self._active is None:
            return None
        self._unsynced = max(self._unsynced, 1)
        self.sync()
        self._file.close()
        sealed, self._file, self._active = self._active, None, None
        return sealed

    def release(self, segment: Segment) -> None:
        """Delete a segment whose every row reached ClickHouse (or the dead-letter file)."""
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            return
        self._add_bytes(-segment.size)

    def close(self) -> None:
        """fsync and close the active segment without handing it on (it is replayed at next start)."""
        self.seal()


def iter_frames(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, payload) of each intact frame, stopping at the first damaged one (diagnostics and tests)."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size: offset + _HEADER.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            return
        yield offset, payload
        offset += _HEADER.size + length
