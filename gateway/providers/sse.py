"""Incremental Server-Sent Events parser shared by every streaming adapter."""

from __future__ import annotations

import msgspec


class SSEMessage(msgspec.Struct, kw_only=True):
    """One SSE event: its name (default "message") and its joined data lines."""

    event: str = "message"
    data: bytes = b""


class SSEParser:
    """Feeds raw bytes, yields complete events; tolerant of CRLF and chunk boundaries anywhere."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event = "message"
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Consume bytes and return the events completed by them."""
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[SSEMessage] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data:
                    events.append(SSEMessage(event=self._event, data=b"\n".join(self._data)))
                self._event = "message"
                self._data = []
                continue
            if line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                self._data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
        self._buffer = buffer[start:]
        return events

    def close(self) -> list[SSEMessage]:
        """Flush a final event that was not followed by a blank line."""
        events = self.feed(b"\n\n") if self._buffer else []
        if self._data:
            events.append(SSEMessage(event=self._event, data=b"\n".join(self._data)))
            self._data = []
        return events

    @property
    def pending(self) -> bool:
        """True when bytes of an unfinished event are buffered."""
        return bool(self._buffer or self._data)
