"""Incremental Server-Sent Events parser shared by every streaming adapter."""

from __future__ import annotations

import msgspec

from gateway.providers.base import StreamEvent


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


class SSEStreamDecoder:
    """Base of the stream decoders: SSE framing here; each provider translates one event's data in `_translate`
    and says in `_end` what a finished (or cut) stream adds."""

    __slots__ = ("_include_usage", "_parser", "_provider")

    def __init__(self, provider: str, *, include_usage: bool) -> None:
        self._parser = SSEParser()
        self._provider = provider
        self._include_usage = include_usage

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Translate the events completed by these bytes."""
        events: list[StreamEvent] = []
        for message in self._parser.feed(chunk):
            events.extend(self._translate(message.data))
        return events

    def close(self) -> list[StreamEvent]:
        """The upstream body ended: flush the last event, then the provider's end-of-stream events."""
        events: list[StreamEvent] = []
        for message in self._parser.close():
            events.extend(self._translate(message.data))
        events.extend(self._end())
        return events

    def _translate(self, data: bytes) -> list[StreamEvent]:
        raise NotImplementedError

    def _end(self) -> list[StreamEvent]:
        return []
