"""Instance configuration of the upstream simulator (timings, output size, seed, default fault)."""

from __future__ import annotations

import msgspec

from gateway.simulator.faults import FaultSpec

DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4o-mini",
    "gpt-4o",
    "text-embedding-3-small",
    "claude-haiku-4-5",
    "gemini-2.5-flash",
)


class SimulatorConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """How every request behaves unless a request header (`x-sim-*`) or a scripted fault says otherwise."""

    latency_ms: float = 0.0
    """Non-streaming: delay before the response is sent."""
    ttft_ms: float = 0.0
    """Streaming: delay before the first content chunk (headers are sent at once)."""
    inter_token_ms: float = 0.0
    """Streaming: delay between content chunks."""
    default_tokens: int = 16
    """Generated words (= tokens = stream chunks) when the request's max tokens does not cut earlier."""
    seed: int = 0
    """Mixed into every content hash: two simulators with different seeds say different things."""
    fault: FaultSpec | None = None
    """Applied to every request that has no header fault and no scripted fault."""
    record_limit: int = 10_000
    """How many recent requests the recorder keeps."""
    embedding_dimensions: int = 8
    """Vector length when the request does not ask for one."""
    models: tuple[str, ...] = DEFAULT_MODELS
    """What `GET /v1/models` lists (any model name is accepted for calls)."""
