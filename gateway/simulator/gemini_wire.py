"""Gemini (Generative Language API v1beta) wire format: generateContent, SSE, embeddings, errors."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from gateway.simulator.content import Prompt, Reply, ToolSpec, embedding_vector
from gateway.simulator.exchange import Frame, WireError

_FINISH = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "stop_sequence": "STOP",
    "tool_calls": "STOP",
    "safety": "SAFETY",
}
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


def _parts_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return " ".join(part["text"] for part in parts if isinstance(part, dict) and isinstance(part.get("text"), str))


def _tools(body: dict[str, Any]) -> list[ToolSpec]:
    tools = []
    for tool in body.get("tools") or []:
        for declaration in (tool.get("functionDeclarations") or []) if isinstance(tool, dict) else []:
            if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
                schema = declaration.get("parameters") or declaration.get("parametersJsonSchema") or {}
                tools.append(ToolSpec(name=declaration["name"], parameters=schema))
    return tools


def _sse(payload: dict[str, Any], kind: Any) -> Frame:
    return Frame(b"data: " + msgspec.json.encode(payload) + b"\r\n\r\n", kind)


class GeminiWire:
    """Renders the Gemini API's GenerateContentResponse / embedding / error shapes."""

    def check_auth(self, headers: dict[str, str], query: dict[str, list[str]]) -> None:
        """Require an API key in `x-goog-api-key` or `?key=`."""
        if not (headers.get("x-goog-api-key") or query.get("key")):
            raise WireError(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )

    def parse_generate(self, body: Any, model: str, stream: bool) -> Prompt:
        """Extract the behaviour-relevant facts from a generateContent request."""
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
            raise WireError(400, "* GenerateContentRequest.contents: contents is not specified")
        contents = body["contents"]
        system = body.get("systemInstruction") or body.get("system_instruction") or {}
        system_text = _parts_text(system.get("parts")) if isinstance(system, dict) else ""
        texts = ([system_text] if system_text else []) + [
            _parts_text(content.get("parts")) for content in contents if isinstance(content, dict)
        ]
        last_user = next(
            (
                _parts_text(content.get("parts"))
                for content in reversed(contents)
                if isinstance(content, dict) and content.get("role", "user") == "user"
            ),
            "",
        )
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = str(calling.get("mode", "AUTO")).upper()
        allowed = calling.get("allowedFunctionNames") or []
        generation = body.get("generationConfig") or {}
        max_tokens = generation.get("maxOutputTokens")
        return Prompt(
            model=model,
            texts=texts,
            last_user_text=last_user,
            seed_material=msgspec.json.encode([system, contents]),
            tools=_tools(body),
            tool_mode="required" if mode in ("ANY", "VALIDATED") else ("none" if mode == "NONE" else "auto"),
            forced_tool=allowed[0] if mode == "ANY" and len(allowed) == 1 else None,
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            stop=[s for s in generation.get("stopSequences") or [] if isinstance(s, str)],
            seed=generation.get("seed") if isinstance(generation.get("seed"), int) else None,
            stream=stream,
        )

    def _usage(self, reply: Reply, candidates: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": candidates,
            "totalTokenCount": reply.prompt_tokens + candidates + reply.reasoning_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}],
        }
        if reply.cached_tokens:
            usage["cachedContentTokenCount"] = reply.cached_tokens
        if reply.reasoning_tokens:
            usage["thoughtsTokenCount"] = reply.reasoning_tokens
        return usage

    def _candidate(self, parts: list[dict[str, Any]] | None, finish: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {}
        if parts is not None:
            candidate["content"] = {"parts": parts, "role": "model"}
        if finish is not None:
            candidate["finishReason"] = finish
            if finish == "SAFETY":
                candidate["safetyRatings"] = _SAFETY_RATINGS
        candidate["index"] = 0
        return candidate

    def _response(self, candidate: dict[str, Any], usage: dict[str, Any], prompt: Prompt, rid: str) -> dict:
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": prompt.model,
            "responseId": rid,
        }

    def _call_parts(self, reply: Reply) -> list[dict[str, Any]]:
        return [{"functionCall": {"name": call.name, "args": call.arguments}} for call in reply.tool_calls]

    def generate_body(self, reply: Reply, prompt: Prompt) -> bytes:
        """A complete GenerateContentResponse."""
        finish = _FINISH[reply.finish]
        if reply.tool_calls:
            parts: list[dict[str, Any]] | None = self._call_parts(reply)
        else:
            parts = None if reply.finish == "safety" else [{"text": reply.text}]
        payload = self._response(
            self._candidate(parts, finish),
            self._usage(reply, reply.completion_tokens),
            prompt,
            uuid.uuid4().hex[:22],
        )
        return msgspec.json.encode(payload)

    def generate_frames(self, reply: Reply, prompt: Prompt, sse: bool) -> list[Frame]:
        """One GenerateContentResponse per token (cumulative usage), then a final chunk with finishReason."""
        rid = uuid.uuid4().hex[:22]
        responses: list[tuple[dict[str, Any], Any]] = []
        if reply.tool_calls:
            responses.append((self._candidate(self._call_parts(reply), None), "content"))
        else:
            responses.extend((self._candidate([{"text": piece}], None), "content") for piece in reply.pieces)
        produced = 0
        frames_payload = []
        for candidate, kind in responses:
            produced = min(produced + 1, reply.completion_tokens)
            frames_payload.append((self._response(candidate, self._usage(reply, produced), prompt, rid), kind))
        final_parts = None if reply.finish == "safety" else [{"text": ""}]
        final = self._candidate(final_parts, _FINISH[reply.finish])
        frames_payload.append((self._response(final, self._usage(reply, reply.completion_tokens), prompt, rid), "tail"))
        if sse:
            return [_sse(payload, kind) for payload, kind in frames_payload]
        encoded = [msgspec.json.encode(payload) for payload, _ in frames_payload]
        frames = [
            Frame((b"[" if i == 0 else b",\r\n") + data, kind)
            for i, (data, (_, kind)) in enumerate(zip(encoded, frames_payload, strict=True))
        ]
        return [*frames, Frame(b"]", "tail")]

    def error_body(self, status: int, message: str, error_type: str | None, param: str | None) -> bytes:
        """`{"error": {"code", "message", "status"}}`."""
        kind = error_type or _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return msgspec.json.encode({"error": {"code": status, "message": message, "status": kind}})

    def error_frame(self, status: int, message: str, error_type: str | None) -> bytes:
        """The error object as an SSE data event (Gemini ends a failed stream this way)."""
        return b"data: " + self.error_body(status, message, error_type, None) + b"\r\n\r\n"

    def embed_body(self, body: Any, default_dimensions: int, seed: int) -> bytes:
        """`:embedContent` → `{"embedding": {"values": [...]}}`."""
        return msgspec.json.encode({"embedding": self._embedding(body, default_dimensions, seed)})

    def batch_embed_body(self, body: Any, default_dimensions: int, seed: int) -> bytes:
        """`:batchEmbedContents` → `{"embeddings": [{"values": [...]}, ...]}`."""
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            raise WireError(400, "* BatchEmbedContentsRequest.requests: requests is not specified")
        return msgspec.json.encode(
            {"embeddings": [self._embedding(request, default_dimensions, seed) for request in requests]}
        )

    def _embedding(self, request: Any, default_dimensions: int, seed: int) -> dict[str, Any]:
        content = request.get("content") if isinstance(request, dict) else None
        if not isinstance(content, dict):
            raise WireError(400, "* EmbedContentRequest.content: content is not specified")
        text = _parts_text(content.get("parts"))
        dimensions = request.get("outputDimensionality")
        size = dimensions if isinstance(dimensions, int) else default_dimensions
        return {"values": embedding_vector(text, size, seed)}
