"""Exact-match response cache: key = hash of the normalised request, LRU bounded in bytes, per-entry max age."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from gateway.routing.plan import CachePolicy

CacheStatus = Literal["HIT", "MISS", "REFRESH", "DISABLED"]
# Fields that change how the answer is delivered or who asked, not what the answer is.
KEY_EXCLUDED_FIELDS = frozenset({"stream", "stream_options", "user"})
ENTRY_OVERHEAD_BYTES = 200  # key, bookkeeping


class CacheLookup(msgspec.Struct, kw_only=True, frozen=True):
    """The outcome of a lookup: status for the response header, the key to store under, the cached body on HIT."""

    status: CacheStatus
    key: str = ""
    body: bytes | None = None
    max_age_s: float = 0.0


def cache_key(body: dict[str, Any], namespace: str = "") -> str:
    """SHA-256 over the namespace and the request (after overrides) without delivery fields, keys sorted."""
    normalised = {k: v for k, v in body.items() if k not in KEY_EXCLUDED_FIELDS}
    digest = hashlib.sha256(namespace.encode())
    digest.update(b"\x00")
    digest.update(msgspec.json.encode(normalised, order="sorted"))
    return digest.hexdigest()


class ResponseCache:
    """In-memory, size-bounded LRU of final chat.completion bodies (long-lived; built in the lifespan)."""

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # key -> (body, expires_at)
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """Bytes currently held (bodies plus a fixed per-entry overhead)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(
        self,
        body: dict[str, Any],
        policy: CachePolicy | None,
        *,
        namespace: str = "",
        force_refresh: bool = False,
    ) -> CacheLookup:
        """Look the request up (the body the upstream would get, overrides applied); REFRESH skips the lookup."""
        if policy is None or self._max_bytes <= 0:
            return CacheLookup(status="DISABLED")
        key = cache_key(body, namespace)
        if force_refresh:
            return CacheLookup(status="REFRESH", key=key, max_age_s=policy.max_age_s)
        entry = self._entries.get(key)
        if entry is not None:
            cached, expires_at = entry
            if self._clock() < expires_at:
                self._entries.move_to_end(key)
                return CacheLookup(status="HIT", key=key, body=cached, max_age_s=policy.max_age_s)
            self._drop(key)
        return CacheLookup(status="MISS", key=key, max_age_s=policy.max_age_s)

    def store(self, lookup: CacheLookup, body: bytes) -> bool:
        """Keep a successful final answer after a MISS or REFRESH; False when too big (over 1/4 of the cache)."""
        if lookup.status not in ("MISS", "REFRESH") or not lookup.key:
            return False
        size = len(body) + ENTRY_OVERHEAD_BYTES
        if size > self._max_bytes // 4:
            return False
        if lookup.key in self._entries:
            self._drop(lookup.key)
        self._entries[lookup.key] = (body, self._clock() + lookup.max_age_s)
        self._bytes += size
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def _drop(self, key: str) -> None:
        cached, _ = self._entries.pop(key)
        self._bytes -= len(cached) + ENTRY_OVERHEAD_BYTES


class _Message(msgspec.Struct):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    message: _Message = msgspec.field(default_factory=_Message)
    finish_reason: str | None = None
    logprobs: Any = None


class _Completion(msgspec.Struct):
    id: str = ""
    created: int = 0
    model: str = ""
    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: dict[str, Any] | None = None
    system_fingerprint: str | None = None


def completion_to_sse_chunks(body: bytes, *, include_usage: bool = False) -> list[bytes]:
    """Replay a cached chat.completion as chat.completion.chunk SSE events ending with `data: [DONE]`."""
    completion = msgspec.json.decode(body, type=_Completion)
    base: dict[str, Any] = {
        "id": completion.id,
        "object": "chat.completion.chunk",
        "created": completion.created,
        "model": completion.model,
    }
    if completion.system_fingerprint is not None:
        base["system_fingerprint"] = completion.system_fingerprint
    events: list[bytes] = []

    def emit(choices: list[dict[str, Any]], **extra: Any) -> None:
        events.append(b"data: " + msgspec.json.encode({**base, "choices": choices, **extra}) + b"\n\n")

    for choice in completion.choices:
        delta: dict[str, Any] = {"role": choice.message.role, "content": ""}
        if choice.message.refusal is not None:
            delta["refusal"] = choice.message.refusal
        emit([{"index": choice.index, "delta": delta, "logprobs": None, "finish_reason": None}])
        if choice.message.content:
            delta = {"content": choice.message.content}
            emit([{"index": choice.index, "delta": delta, "logprobs": None, "finish_reason": None}])
        if choice.message.tool_calls:
            calls = [{**call, "index": i} for i, call in enumerate(choice.message.tool_calls)]
            emit([{"index": choice.index, "delta": {"tool_calls": calls}, "logprobs": None, "finish_reason": None}])
        emit([{"index": choice.index, "delta": {}, "logprobs": None, "finish_reason": choice.finish_reason}])
    if include_usage and completion.usage is not None:
        emit([], usage=completion.usage)
    events.append(b"data: [DONE]\n\n")
    return events
