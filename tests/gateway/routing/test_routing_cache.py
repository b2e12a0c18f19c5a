"""The exact-match response cache and the SSE replay of cached completions."""

from __future__ import annotations

import json

import msgspec
from routing_testkit import FakeClock

from gateway.routing.cache import ResponseCache, cache_key, completion_to_sse_chunks
from gateway.routing.plan import CachePolicy

POLICY = CachePolicy(max_age_s=60.0)
REQUEST = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_routing_cache_statuses_and_expiry() -> None:
    clock = FakeClock()
    cache = ResponseCache(1 << 20, clock)
    assert cache.lookup(REQUEST, None).status == "DISABLED"
    miss = cache.lookup(REQUEST, POLICY)
    assert miss.status == "MISS" and cache.store(miss, b'{"id": "1"}')
    hit = cache.lookup({**REQUEST, "stream": True, "user": "u1"}, POLICY)  # delivery fields do not matter
    assert hit.status == "HIT" and hit.body == b'{"id": "1"}'
    assert cache.lookup({**REQUEST, "temperature": 1}, POLICY).status == "MISS"
    assert cache.lookup(REQUEST, POLICY, namespace="other-team").status == "MISS"
    refresh = cache.lookup(REQUEST, POLICY, force_refresh=True)
    assert refresh.status == "REFRESH" and refresh.body is None
    assert cache.store(refresh, b'{"id": "2"}') and cache.lookup(REQUEST, POLICY).body == b'{"id": "2"}'
    clock.now += 61
    assert cache.lookup(REQUEST, POLICY).status == "MISS" and len(cache) == 0


def test_routing_cache_is_bounded_lru_by_bytes() -> None:
    cache = ResponseCache(4000, FakeClock())
    lookups = [cache.lookup({**REQUEST, "seed": i}, POLICY) for i in range(10)]
    for lookup in lookups:
        assert cache.store(lookup, b"x" * 600)
    assert cache.size_bytes <= 4000 and len(cache) == 5
    assert cache.lookup({**REQUEST, "seed": 0}, POLICY).status == "MISS"
    assert cache.lookup({**REQUEST, "seed": 9}, POLICY).status == "HIT"
    assert not cache.store(cache.lookup({**REQUEST, "seed": 99}, POLICY), b"x" * 2000)  # over 1/4 of the cache


def test_routing_cache_key_is_order_independent() -> None:
    assert cache_key({"a": 1, "b": {"y": 2, "x": 1}}) == cache_key({"b": {"x": 1, "y": 2}, "a": 1})
    assert cache_key({"a": 1}, "t1") != cache_key({"a": 1}, "t2")


def test_routing_completion_replayed_as_sse() -> None:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    events = completion_to_sse_chunks(json.dumps(completion).encode(), include_usage=True)
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [msgspec.json.decode(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello!"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5


def test_routing_tool_calls_replayed() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    completion = {
        "id": "c",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ],
    }
    events = completion_to_sse_chunks(json.dumps(completion).encode())
    chunks = [msgspec.json.decode(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert chunks[1]["choices"][0]["delta"]["tool_calls"] == [{**call, "index": 0}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
