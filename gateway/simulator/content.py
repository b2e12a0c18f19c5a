"""Deterministic model behaviour: reply text, echo, schema-shaped tool calls, usage, embeddings."""

from __future__ import annotations

import hashlib
import math
import re
import struct
from typing import Any, Literal

import msgspec

VOCABULARY: tuple[str, ...] = (
    "alpha", "bridge", "canyon", "delta", "ember", "forest", "glacier", "harbor",
    "island", "jungle", "kettle", "lantern", "meadow", "nectar", "orchid", "pebble",
    "quartz", "river", "summit", "thunder", "umber", "valley", "willow", "xenon",
    "yonder", "zephyr", "amber", "breeze", "cobalt", "dune", "echoes", "fjord",
    "granite", "horizon", "ivory", "jasper", "kelp", "lagoon", "marble", "nimbus",
    "ocean", "prairie", "quiver", "reef", "sierra", "tundra", "upland", "vortex",
    "wave", "yarrow", "zenith", "atlas", "beacon", "cedar", "drift", "eclipse",
    "falcon", "grove", "hollow", "inlet", "juniper", "knoll", "lumen", "mist",
)  # fmt: skip

Finish = Literal["stop", "length", "stop_sequence", "tool_calls", "safety"]

_PIECE = re.compile(r"\s*\S+")
_ARGUMENT_PIECE = re.compile(r".{1,12}", re.DOTALL)
_MAX_SCHEMA_DEPTH = 6
_MASK64 = (1 << 64) - 1


class ToolSpec(msgspec.Struct, kw_only=True, frozen=True):
    """A tool the caller offered: its name and JSON-schema parameters (types may be Gemini's uppercase)."""

    name: str
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class Prompt(msgspec.Struct, kw_only=True):
    """What the wire parsers extract from any provider's request; everything behaviour depends on."""

    model: str
    texts: list[str]
    last_user_text: str
    seed_material: bytes
    tools: list[ToolSpec] = msgspec.field(default_factory=list)
    tool_mode: Literal["auto", "none", "required"] = "auto"
    forced_tool: str | None = None
    max_tokens: int | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False


class Tuning(msgspec.Struct, kw_only=True, frozen=True):
    """Per-request content overrides (from `x-sim-*` headers)."""

    tokens: int | None = None
    cached_tokens: int = 0
    reasoning_tokens: int = 0


class ToolCall(msgspec.Struct, kw_only=True, frozen=True):
    """One tool call the simulated model makes."""

    call_key: str
    name: str
    arguments: dict[str, Any]
    arguments_json: str
    argument_pieces: list[str]


class Reply(msgspec.Struct, kw_only=True, frozen=True):
    """The provider-neutral answer the wire modules render; token counts are already consistent."""

    text: str
    pieces: list[str]
    tool_calls: list[ToolCall]
    finish: Finish
    stop_sequence: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int


def count_words(texts: list[str]) -> int:
    """The simulator's tokenizer: whitespace-separated words in every input text, at least 1."""
    return max(1, sum(len(text.split()) for text in texts))


def split_pieces(text: str) -> list[str]:
    """Whitespace-preserving pieces (each word with its leading whitespace) that concatenate back to text."""
    pieces = _PIECE.findall(text)
    consumed = sum(len(piece) for piece in pieces)
    if consumed < len(text):
        if pieces:
            pieces[-1] += text[consumed:]
        else:
            pieces = [text]
    return pieces


def content_hash(*parts: bytes) -> int:
    """A 64-bit hash of the given byte strings."""
    digest = hashlib.blake2b(b"\x1f".join(parts), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _next_state(state: int) -> int:
    state ^= (state << 13) & _MASK64
    state ^= state >> 7
    state ^= (state << 17) & _MASK64
    return state or 0x9E3779B97F4A7C15


def generated_words(state: int, count: int) -> list[str]:
    """`count` words from the vocabulary, fixed by `state`."""
    words = []
    for _ in range(count):
        state = _next_state(state)
        words.append(VOCABULARY[state % len(VOCABULARY)])
    return words


def _schema_type(schema: dict[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((kind for kind in declared if str(kind).lower() != "null"), "null")
    if declared is None:
        return "object" if "properties" in schema else "string"
    return str(declared).lower()


def value_for_schema(schema: Any, name: str, state: int, depth: int = 0) -> Any:
    """A deterministic value that satisfies the simple parts of a JSON schema (enum, const, type, nesting)."""
    if not isinstance(schema, dict):
        return f"{name}-{VOCABULARY[state % len(VOCABULARY)]}"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = _schema_type(schema)
    state = _next_state(state ^ content_hash(name.encode()))
    if kind == "object":
        if depth >= _MAX_SCHEMA_DEPTH:
            return {}
        properties = schema.get("properties") or {}
        return {key: value_for_schema(sub, key, state, depth + 1) for key, sub in properties.items()}
    if kind == "array":
        if depth >= _MAX_SCHEMA_DEPTH:
            return []
        return [value_for_schema(schema.get("items") or {}, name, state, depth + 1)]
    if kind == "integer":
        return int(state % 100) + 1
    if kind == "number":
        return int(state % 100) + 0.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"{name}-{VOCABULARY[state % len(VOCABULARY)]}"


def _chosen_tools(prompt: Prompt) -> list[ToolSpec]:
    by_name = {tool.name: tool for tool in prompt.tools}
    if prompt.forced_tool is not None and prompt.forced_tool in by_name:
        return [by_name[prompt.forced_tool]]
    command = prompt.last_user_text[len("tool:") :].strip() if prompt.last_user_text.startswith("tool:") else ""
    if command == "parallel":
        return [prompt.tools[0], prompt.tools[1] if len(prompt.tools) > 1 else prompt.tools[0]]
    return [by_name.get(command.split()[0] if command else "", prompt.tools[0])]


def _wants_tools(prompt: Prompt) -> bool:
    if not prompt.tools or prompt.tool_mode == "none":
        return False
    return prompt.tool_mode == "required" or prompt.forced_tool is not None or prompt.last_user_text.startswith("tool:")


def _tool_calls(prompt: Prompt, state: int) -> list[ToolCall]:
    calls = []
    for position, tool in enumerate(_chosen_tools(prompt)):
        call_state = _next_state(state + position)
        arguments = value_for_schema(tool.parameters or {"type": "object"}, tool.name, call_state)
        if not isinstance(arguments, dict):
            arguments = {}
        arguments_json = msgspec.json.encode(arguments).decode()
        calls.append(
            ToolCall(
                call_key=hashlib.blake2b(f"{call_state}:{position}".encode(), digest_size=12).hexdigest(),
                name=tool.name,
                arguments=arguments,
                arguments_json=arguments_json,
                argument_pieces=_ARGUMENT_PIECE.findall(arguments_json),
            )
        )
    return calls


def _cut_at_stop(pieces: list[str], stops: list[str]) -> tuple[list[str], str | None]:
    text = "".join(pieces)
    found = [(text.find(stop), stop) for stop in stops if stop and stop in text]
    if not found:
        return pieces, None
    cut, stop = min(found)
    kept: list[str] = []
    length = 0
    for piece in pieces:
        if length + len(piece) >= cut:
            if cut > length:
                kept.append(piece[: cut - length])
            break
        kept.append(piece)
        length += len(piece)
    return kept, stop


def build_reply(prompt: Prompt, default_tokens: int, instance_seed: int, tuning: Tuning) -> Reply:
    """Decide what the model says: tool calls, echo, a safety block, or generated vocabulary words."""
    state = content_hash(prompt.seed_material, str(prompt.seed).encode(), str(instance_seed).encode())
    prompt_tokens = count_words(prompt.texts)
    cached = min(max(tuning.cached_tokens, 0), prompt_tokens)
    reasoning = max(tuning.reasoning_tokens, 0)
    limit = prompt.max_tokens
    finish: Finish = "stop"
    stop_sequence = None
    tool_calls: list[ToolCall] = []
    pieces: list[str] = []
    last = prompt.last_user_text
    if _wants_tools(prompt):
        tool_calls = _tool_calls(prompt, state)
        finish = "tool_calls"
    elif last.startswith("safety:"):
        finish = "safety"
    else:
        if last.startswith("echo:"):
            echoed = last[len("echo:") :]
            pieces = split_pieces(echoed[1:] if echoed.startswith(" ") else echoed)
        else:
            wanted = tuning.tokens if tuning.tokens is not None else default_tokens
            words = generated_words(state, max(wanted, 0))
            pieces = [words[0], *(" " + word for word in words[1:])] if words else []
        if limit is not None and len(pieces) > limit:
            pieces = pieces[: max(limit, 0)]
            finish = "length"
        pieces, stop_sequence = _cut_at_stop(pieces, prompt.stop)
        if stop_sequence is not None:
            finish = "stop_sequence"
    completion = len(pieces) + sum(1 + len(call.argument_pieces) for call in tool_calls)
    return Reply(
        text="".join(pieces),
        pieces=pieces,
        tool_calls=tool_calls,
        finish=finish,
        stop_sequence=stop_sequence,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion,
        cached_tokens=cached,
        reasoning_tokens=reasoning,
    )


def embedding_vector(text: str, dimensions: int, instance_seed: int) -> list[float]:
    """A deterministic unit vector for text (same text and seed, same vector)."""
    dimensions = max(1, min(dimensions, 8192))
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.blake2b(f"{instance_seed}\x1f{block}\x1f{text}".encode(), digest_size=64).digest()
        values.extend((number / 2147483647.5) - 1.0 for number in struct.unpack("<16I", digest))
        block += 1
    del values[dimensions:]
    norm = math.sqrt(sum(value * value for value in values)) or 1.0
    return [value / norm for value in values]
