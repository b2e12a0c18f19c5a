"""One HTTP exchange over raw ASGI: responses, timed streams, injected faults and client-abort detection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import msgspec

from gateway.simulator.faults import FaultSpec
from gateway.simulator.recorder import RecordedRequest, finish_record

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_TYPE = b"application/json"
SSE_TYPE = b"text/event-stream; charset=utf-8"


class WireError(Exception):
    """A request the provider would refuse; rendered in the called provider's error shape."""

    def __init__(self, status: int, message: str, error_type: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param


class Frame(msgspec.Struct, frozen=True):
    """One stream event's bytes; only `content` frames count for faults and get token delays."""

    data: bytes
    kind: Literal["head", "content", "tail"]


class ErrorShapes(Protocol):
    """What every wire module renders for errors."""

    def error_body(self, status: int, message: str, error_type: str | None, param: str | None) -> bytes: ...

    def error_frame(self, status: int, message: str, error_type: str | None) -> bytes: ...


class Timing(msgspec.Struct, kw_only=True, frozen=True):
    """Delays for one request, in milliseconds."""

    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    inter_token_ms: float = 0.0


def corrupt_frame(data: bytes) -> bytes:
    """The same SSE event with its JSON payload cut in half (invalid JSON)."""
    start = data.find(b"data: ")
    if start < 0:
        return data[: len(data) // 2] + b"\n\n"
    payload_start = start + len(b"data: ")
    payload_end = data.find(b"\n", payload_start)
    payload_end = len(data) if payload_end < 0 else payload_end
    half = payload_start + max(1, (payload_end - payload_start) // 2)
    return data[:half] + data[payload_end:]


class Exchange:
    """Sends one response and records how it ended; watches for the client going away while waiting."""

    def __init__(self, receive: Receive, send: Send, record: RecordedRequest | None):
        self._receive = receive
        self._send = send
        self.record = record
        self._watcher: asyncio.Future[dict[str, Any]] | None = None
        self._finished = False
        self.status: int | None = None

    def _watch(self) -> asyncio.Future[dict[str, Any]]:
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._receive())
        return self._watcher

    def client_gone(self) -> bool:
        """True once the client disconnected before the response finished."""
        return self._watcher is not None and self._watcher.done() and not self._finished

    async def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; return True (and record the abort) if the client disconnected meanwhile."""
        watcher = self._watch()
        if seconds > 0 and not watcher.done():
            await asyncio.wait((watcher,), timeout=seconds)
        if watcher.done():
            self._mark_aborted()
            return True
        return False

    def _mark_aborted(self) -> None:
        if self.record is not None:
            finish_record(self.record, status=self.status, aborted=True)

    def close(self) -> None:
        """Release the disconnect watcher; a request still unfinished here was abandoned by the client."""
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
        if self.record is not None and not self._finished:
            finish_record(self.record, status=self.status, aborted=True)

    async def start(self, status: int, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None):
        """Send the status line and headers."""
        self.status = status
        headers = [(b"content-type", content_type)]
        if extra:
            headers.extend(extra)
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, data: bytes, more: bool) -> None:
        """Send body bytes; the last call (more=False) completes the exchange."""
        if not more:
            self._finished = True
            if self.record is not None:
                finish_record(self.record, status=self.status, aborted=False)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def respond(
        self, status: int, data: bytes, content_type: bytes = JSON_TYPE, extra: list | None = None
    ) -> None:
        """A complete non-streaming response."""
        headers = [(b"content-length", str(len(data)).encode())]
        if extra:
            headers.extend(extra)
        await self.start(status, content_type, headers)
        await self.body(data, more=False)

    async def error(self, shapes: ErrorShapes, error: WireError, fault: FaultSpec | None = None) -> None:
        """An error response in the provider's shape, with Retry-After headers from the fault if any."""
        extra: list[tuple[bytes, bytes]] = []
        if fault is not None and fault.retry_after is not None:
            extra.append((b"retry-after", fault.retry_after.encode()))
        if fault is not None and fault.retry_after_ms is not None:
            extra.append((b"retry-after-ms", fault.retry_after_ms.encode()))
        data = shapes.error_body(error.status, error.message, error.error_type, error.param)
        await self.respond(error.status, data, extra=extra)

    def abandon(self) -> None:
        """Mark the exchange cut on purpose by a fault (the server closes, not the client)."""
        self._finished = True
        if self.record is not None:
            finish_record(self.record, status=self.status, aborted=False)

    async def stream(
        self,
        frames: list[Frame],
        shapes: ErrorShapes,
        timing: Timing,
        fault: FaultSpec | None,
        content_type: bytes = SSE_TYPE,
    ) -> bool:
        """Send frames with token timing and stream faults; returns False when the connection must be cut."""
        await self.start(status=200, content_type=content_type, extra=[(b"cache-control", b"no-cache")])
        fault = fault or FaultSpec()
        drip = (fault.drip_ms or 0.0) / 1000.0
        inter_token = drip or timing.inter_token_ms / 1000.0
        pending: list[bytes] = []
        content_seen = 0
        sent_any = False
        reached_tail = False
        for frame in frames:
            at_cut_point = frame.kind == "content" or (frame.kind == "tail" and not reached_tail)
            reached_tail = reached_tail or frame.kind == "tail"
            if at_cut_point and fault.close_after is not None and content_seen >= fault.close_after:
                await self._flush(pending)
                self.abandon()
                return False
            if at_cut_point and fault.error_event_after is not None and content_seen >= fault.error_event_after:
                message = fault.message or "The simulated upstream failed mid-stream."
                pending.append(shapes.error_frame(fault.status or 500, message, fault.error_type))
                break
            delay = 0.0
            if frame.kind == "content":
                delay = timing.ttft_ms / 1000.0 + (drip if sent_any else 0.0) if content_seen == 0 else inter_token
            elif sent_any:
                delay = drip
            if delay > 0:
                if content_seen > 0:  # head frames go out with the first token, after the TTFT
                    await self._flush(pending)
                if await self.wait(delay):
                    return True
            data = frame.data
            if frame.kind == "content":
                content_seen += 1
                if fault.malformed_at == content_seen:
                    data = corrupt_frame(data)
                if self.record is not None:
                    self.record.chunks_sent = content_seen
            pending.append(data)
            sent_any = True
        await self.body(b"".join(pending), more=False)
        return True

    async def _flush(self, pending: list[bytes]) -> None:
        if pending:
            data = b"".join(pending)
            pending.clear()
            await self.body(data, more=True)
