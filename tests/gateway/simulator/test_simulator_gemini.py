"""The simulator's Gemini (Generative Language API v1beta) wire format, exercised with raw httpx."""

from __future__ import annotations

import json

import httpx

from gateway.simulator import FaultSpec, RunningSimulator

KEY = {"x-goog-api-key": "g-key"}
MODEL_PATH = "/v1beta/models/gemini-2.5-flash"


def sse_payloads(text: str) -> list[dict]:
    return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: ")]


def test_generate_content_shape_and_usage(sim: RunningSimulator) -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "be kind"}]},
        "contents": [{"role": "user", "parts": [{"text": "hello gemini world"}]}],
    }
    response = httpx.post(f"{sim.base_url}{MODEL_PATH}:generateContent", headers=KEY, json=body, timeout=5)
    assert response.status_code == 200
    payload = response.json()
    candidate = payload["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] == "STOP"
    assert candidate["index"] == 0
    assert len(candidate["content"]["parts"][0]["text"].split()) == 16
    usage = payload["usageMetadata"]
    assert usage["promptTokenCount"] == 5
    assert usage["candidatesTokenCount"] == 16
    assert usage["totalTokenCount"] == 21
    assert payload["modelVersion"] == "gemini-2.5-flash"
    assert payload["responseId"]


def test_key_in_query_and_missing_key_error_shape(sim: RunningSimulator) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    with_query = httpx.post(f"{sim.base_url}{MODEL_PATH}:generateContent?key=abc", json=body, timeout=5)
    missing = httpx.post(f"{sim.base_url}{MODEL_PATH}:generateContent", json=body, timeout=5)
    assert with_query.status_code == 200
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert missing.json()["error"]["code"] == 403


def test_max_output_tokens_and_thoughts_and_cache_counts(sim: RunningSimulator) -> None:
    body = {"contents": [{"parts": [{"text": "a b c d"}]}], "generationConfig": {"maxOutputTokens": 3}}
    headers = {**KEY, "x-sim-cached-tokens": "2", "x-sim-reasoning-tokens": "4"}
    payload = httpx.post(f"{sim.base_url}{MODEL_PATH}:generateContent", headers=headers, json=body, timeout=5).json()
    assert payload["candidates"][0]["finishReason"] == "MAX_TOKENS"
    usage = payload["usageMetadata"]
    assert usage["candidatesTokenCount"] == 3
    assert usage["cachedContentTokenCount"] == 2
    assert usage["thoughtsTokenCount"] == 4
    assert usage["totalTokenCount"] == 4 + 3 + 4


def test_sse_stream_one_chunk_per_token_then_finish(sim: RunningSimulator) -> None:
    body = {"contents": [{"parts": [{"text": "stream please"}]}], "generationConfig": {"maxOutputTokens": 4}}
    streamed = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:streamGenerateContent?alt=sse", headers=KEY, json=body, timeout=5
    )
    whole = httpx.post(f"{sim.base_url}{MODEL_PATH}:generateContent", headers=KEY, json=body, timeout=5).json()
    assert streamed.headers["content-type"].startswith("text/event-stream")
    chunks = sse_payloads(streamed.text)
    assert len(chunks) == 5
    text = "".join(part.get("text", "") for c in chunks for part in c["candidates"][0]["content"]["parts"])
    assert text == whole["candidates"][0]["content"]["parts"][0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3, 4, 4]


def test_stream_without_alt_is_a_json_array(sim: RunningSimulator) -> None:
    body = {"contents": [{"parts": [{"text": "echo: one two"}]}]}
    response = httpx.post(f"{sim.base_url}{MODEL_PATH}:streamGenerateContent", headers=KEY, json=body, timeout=5)
    items = response.json()
    assert isinstance(items, list)
    assert "".join(p["text"] for item in items for p in item["candidates"][0]["content"]["parts"]) == "one two"


def test_function_calling_mode_any_and_prefix(sim: RunningSimulator) -> None:
    tools = [
        {
            "functionDeclarations": [
                {
                    "name": "lookup",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "term": {"type": "STRING"},
                            "limit": {"type": "INTEGER"},
                            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
                        },
                    },
                },
                {"name": "other", "parameters": {"type": "OBJECT", "properties": {}}},
            ]
        }
    ]
    forced = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:generateContent",
        headers=KEY,
        timeout=5,
        json={
            "contents": [{"parts": [{"text": "find"}]}],
            "tools": tools,
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        },
    ).json()
    parallel = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:generateContent",
        headers=KEY,
        timeout=5,
        json={"contents": [{"parts": [{"text": "tool:parallel"}]}], "tools": tools},
    ).json()
    call = forced["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call["name"] == "lookup"
    assert isinstance(call["args"]["term"], str)
    assert isinstance(call["args"]["limit"], int)
    assert isinstance(call["args"]["tags"], list)
    assert forced["candidates"][0]["finishReason"] == "STOP"
    names = [p["functionCall"]["name"] for p in parallel["candidates"][0]["content"]["parts"]]
    assert names == ["lookup", "other"]


def test_safety_block(sim: RunningSimulator) -> None:
    payload = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:generateContent",
        headers=KEY,
        timeout=5,
        json={"contents": [{"parts": [{"text": "safety: something bad"}]}]},
    ).json()
    candidate = payload["candidates"][0]
    assert candidate["finishReason"] == "SAFETY"
    assert "content" not in candidate
    assert candidate["safetyRatings"][0]["blocked"] is True


def test_embed_and_batch_embed(sim: RunningSimulator) -> None:
    single = httpx.post(
        f"{sim.base_url}/v1beta/models/text-embedding-004:embedContent",
        headers=KEY,
        timeout=5,
        json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 12},
    ).json()
    batch = httpx.post(
        f"{sim.base_url}/v1beta/models/text-embedding-004:batchEmbedContents",
        headers=KEY,
        timeout=5,
        json={
            "requests": [
                {
                    "model": "models/text-embedding-004",
                    "content": {"parts": [{"text": "hello"}]},
                    "outputDimensionality": 12,
                },
                {"model": "models/text-embedding-004", "content": {"parts": [{"text": "other"}]}},
            ]
        },
    ).json()
    assert len(single["embedding"]["values"]) == 12
    assert batch["embeddings"][0]["values"] == single["embedding"]["values"]
    assert len(batch["embeddings"][1]["values"]) == 8


def test_errors_in_google_shape_with_retry_after(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=503, retry_after="4")], model="gemini-2.5-flash")
    response = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:generateContent",
        headers=KEY,
        timeout=5,
        json={"contents": [{"parts": [{"text": "x"}]}]},
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "4"
    assert response.json() == {
        "error": {"code": 503, "message": "Simulated upstream error 503.", "status": "UNAVAILABLE"}
    }


def test_mid_stream_error_event(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(error_event_after=1, status=500)])
    response = httpx.post(
        f"{sim.base_url}{MODEL_PATH}:streamGenerateContent?alt=sse",
        headers=KEY,
        timeout=5,
        json={"contents": [{"parts": [{"text": "x"}]}]},
    )
    chunks = sse_payloads(response.text)
    assert len(chunks) == 2
    assert chunks[-1]["error"]["status"] == "INTERNAL"
