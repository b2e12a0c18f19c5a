"""Bounded record of every provider request the simulator saw, with its timing, fault and abort status."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import msgspec

from gateway.simulator.faults import FaultSpec


class RecordedRequest(msgspec.Struct, kw_only=True):
    """One request as the simulator saw it; times are Unix seconds (time.time())."""

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any = None
    arrived_at: float
    completed_at: float | None = None
    status: int | None = None
    aborted: bool = False
    fault: FaultSpec | None = None
    model: str | None = None
    stream: bool = False
    chunks_sent: int = 0


class Recorder:
    """Keeps the last `limit` requests in arrival order."""

    def __init__(self, limit: int) -> None:
        self._records: deque[RecordedRequest] = deque(maxlen=max(1, limit))
        self._seq = 0

    def start(self, method: str, path: str, query: str, headers: dict[str, str]) -> RecordedRequest:
        """Record a request at its arrival and return the mutable entry the handler completes."""
        self._seq += 1
        record = RecordedRequest(
            seq=self._seq, method=method, path=path, query=query, headers=headers, arrived_at=time.time()
        )
        self._records.append(record)
        return record

    def clear(self) -> None:
        """Forget every recorded request (sequence numbers keep increasing)."""
        self._records.clear()

    def encode(self) -> bytes:
        """The record as a JSON array."""
        return msgspec.json.encode(list(self._records))


def finish_record(record: RecordedRequest, *, status: int | None, aborted: bool) -> None:
    """Mark a record complete (idempotent: the first completion wins)."""
    if record.completed_at is None:
        record.completed_at = time.time()
        record.status = status
        record.aborted = aborted
