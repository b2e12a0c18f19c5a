"""Fault specifications for the upstream simulator and the scripted per-model fault queues."""

from __future__ import annotations

from collections import deque

import msgspec


class FaultSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One injected misbehaviour; fields combine (e.g. hang first, then answer with a status).

    - status: answer with this HTTP status and a body in the called provider's error shape
      (with error_event_after set, it only picks the mid-stream error event's type instead).
    - retry_after / retry_after_ms: values of the `retry-after` / `retry-after-ms` headers on that answer.
    - message / error_type: override the error message / provider error type.
    - hang: wait this many seconds before sending headers.
    - close_after: (stream) close the connection abruptly after N content chunks, no terminal event.
    - malformed_at: (stream) the Nth content chunk (1-based) is invalid JSON.
    - drip_ms: (stream) wait this long between every chunk.
    - error_event_after: (stream) after N content chunks send the provider's error event and end.
    """

    status: int | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    message: str | None = None
    error_type: str | None = None
    hang: float | None = None
    close_after: int | None = None
    malformed_at: int | None = None
    drip_ms: float | None = None
    error_event_after: int | None = None


class FaultScript(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of `POST /_sim/script`: faults consumed in order by requests for `model` (any model if null)."""

    faults: list[FaultSpec | None]
    model: str | None = None


def decode_fault(raw: bytes | str) -> FaultSpec:
    """Parse a fault from JSON (header value, CLI flag); raises msgspec.ValidationError/DecodeError."""
    return msgspec.json.decode(raw, type=FaultSpec)


def decode_script(raw: bytes) -> FaultScript:
    """Parse the body of `POST /_sim/script`."""
    return msgspec.json.decode(raw, type=FaultScript)


class FaultQueues:
    """Scripted faults: one FIFO per model plus one for any model; the model-specific queue is used first."""

    def __init__(self) -> None:
        self._by_model: dict[str | None, deque[FaultSpec | None]] = {}

    def add(self, script: FaultScript) -> int:
        """Append the script's faults to its model's queue; return how many are now queued for it."""
        queue = self._by_model.setdefault(script.model, deque())
        queue.extend(script.faults)
        return len(queue)

    def clear(self) -> None:
        """Drop every queued fault."""
        self._by_model.clear()

    def pending(self) -> dict[str, int]:
        """Queued fault counts by model ("*" for any model)."""
        return {("*" if model is None else model): len(queue) for model, queue in self._by_model.items()}

    def take(self, model: str | None) -> tuple[bool, FaultSpec | None]:
        """Consume the next fault for this request: (found, fault); a scripted null is (True, None)."""
        if not self._by_model:
            return False, None
        for key in (model, None) if model is not None else (None,):
            queue = self._by_model.get(key)
            if queue:
                return True, queue.popleft()
        return False, None
