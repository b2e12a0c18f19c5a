"""End to end streams: upstream cuts, malformed chunks, idle timeouts, client disconnects in every window, and a
fallback before the first byte — the gateway on uvicorn against the simulator, rows checked in chDB."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import RunningGateway, running_gateway, wait_rows

from gateway.settings import parse_settings

pytestmark = pytest.mark.timeout(60)

IDLE_TIMEOUT_S = 0.6


@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory) -> Iterator[RunningGateway]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("streams_e2e")
    text = f"""
providers:
  sim:
    adapter: openai
    base_url: {simulator.base_url}/v1
    api_key: sk-sim-upstream
  backup:
    adapter: groq
    base_url: {simulator.base_url}/v1
    api_key: gsk-sim-upstream
server:
  default_request_timeout_s: 10
  stream_idle_timeout_s: {IDLE_TIMEOUT_S}
store:
  dsn: {chdb_dsn}
  database: streams_e2e_{uuid.uuid4().hex[:8]}
  spool_dir: {tmp}/spool
  flush_interval_ms: 100
"""
    with running_gateway(parse_settings(text)) as running:
        yield running


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def body(model: str, text: str, *, stream: bool = True) -> dict[str, Any]:
    return {"model": f"sim/{model}", "stream": stream, "messages": [{"role": "user", "content": text}]}


def sse_events(raw: str) -> list[str]:
    return [line[len("data: "):] for line in raw.split("\n") if line.startswith("data: ")]


def stream_raw(gateway: RunningGateway, payload: dict[str, Any], headers: dict[str, str] | None = None,
               timeout_s: float = 10.0) -> tuple[httpx.Response, list[str]]:
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=payload, headers=headers,
                      timeout=timeout_s) as response:
        raw = response.read().decode()
    return response, sse_events(raw)


def content_of(events: list[str]) -> str:
    text = ""
    for event in events:
        if event == "[DONE]":
            continue
        data = json.loads(event)
        for choice in data.get("choices") or []:
            text += (choice.get("delta") or {}).get("content") or ""
    return text



def finished_records(simulator: Any, model: str, timeout_s: float = 1.0) -> list[Any]:
    """The simulator's records for a model once all of them completed (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = [r for r in simulator.requests() if r.model == model]
        if (records and all(r.completed_at is not None for r in records)) or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def row_for_model(gateway: RunningGateway, model: str, columns: str) -> list[Any]:
    return wait_rows(gateway, f"SELECT {columns} FROM requests WHERE model_requested = {{m:String}}",
                     {"m": f"sim/{model}"})


# --- upstream failures after the first byte -------------------------------------------------------------------


def test_mid_stream_cut_ends_with_error_event_and_records_partial(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("cut")
    simulator.script([{"close_after": 3, "drip_ms": 30}], model=model)
    response, events = stream_raw(gateway, body(model, "echo: alpha beta gamma delta epsilon zeta"))
    assert response.status_code == 200
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["type"] == "stream_error" and "sim" in error["message"]
    assert content_of(events[:-1]) == "alpha beta gamma"
    rows = wait_rows(gateway, "SELECT status, error_type, response_body, streamed FROM requests"
                     " WHERE request_id = {id:String}", {"id": response.headers["x-request-id"]})
    assert rows == [("error", "stream_error", "alpha beta gamma", True)]


def test_mid_stream_cut_in_one_read_keeps_the_partial_text(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    """The upstream writes three chunks and cuts the connection at once (no pause between them); whether the
    cut lands in the same read is a race, so six tries must all keep the text."""
    for _ in range(6):
        model = unique("cut1")
        simulator.script([{"close_after": 3}], model=model)
        _, events = stream_raw(gateway, body(model, "echo: alpha beta gamma delta epsilon zeta"))
        assert "[DONE]" not in events and json.loads(events[-1])["error"]["type"] == "stream_error"
        assert content_of(events[:-1]) == "alpha beta gamma"


def test_malformed_chunk_ends_with_error_event(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("bad")
    simulator.script([{"malformed_at": 2}], model=model)
    response, events = stream_raw(gateway, body(model, "echo: one two three four"))
    assert response.status_code == 200
    assert "[DONE]" not in events
    assert "error" in json.loads(events[-1])
    assert content_of(events[:-1]) == "one"
    rows = wait_rows(gateway, "SELECT status FROM requests WHERE request_id = {id:String}",
                     {"id": response.headers["x-request-id"]})
    assert rows == [("error",)]


def test_upstream_error_event_becomes_terminal_error_event(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("evt")
    simulator.script([{"error_event_after": 2, "message": "upstream overloaded mid-answer"}], model=model)
    _, events = stream_raw(gateway, body(model, "echo: one two three four"))
    assert "[DONE]" not in events
    assert "upstream overloaded mid-answer" in json.loads(events[-1])["error"]["message"]
    assert content_of(events[:-1]) == "one two"


def test_idle_timeout_between_chunks(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("idle")
    simulator.script([{"drip_ms": 3000}], model=model)
    started = time.monotonic()
    response, events = stream_raw(gateway, body(model, "echo: slow words here"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "[DONE]" not in events
    assert "idle" in json.loads(events[-1])["error"]["message"]
    assert IDLE_TIMEOUT_S <= elapsed < IDLE_TIMEOUT_S + 1.0
    assert [r.aborted for r in finished_records(simulator, model)] == [True]


def test_openai_sdk_raises_on_the_error_event(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("sdkcut")
    simulator.script([{"close_after": 2, "drip_ms": 30}], model=model)
    with openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0) as client:
        stream = client.chat.completions.create(model=f"sim/{model}", stream=True,
                                                messages=[{"role": "user", "content": "echo: a b c d"}])
        received = ""
        with pytest.raises(openai.APIError) as error:
            for chunk in stream:
                received += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert received == "a b" and "sim stream broke off" in str(error.value)


# --- fallback before the first byte ---------------------------------------------------------------------------


def test_5xx_before_first_byte_falls_back_to_one_clean_stream(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    first, second = unique("s5xx"), unique("sok")
    simulator.script([{"status": 503}], model=first)
    config = {"strategy": {"mode": "fallback"}, "targets": [{"provider": "sim", "model": first},
                                                             {"provider": "backup", "model": second}]}
    response, events = stream_raw(gateway, body(first, "echo: clean stream please"),
                                  headers={"x-portcullis-config": json.dumps(config)})
    assert response.status_code == 200
    assert response.headers["x-portcullis-target"] == "targets[1]"
    assert response.headers["x-portcullis-provider"] == "backup"
    assert events[-1] == "[DONE]" and not any("error" in json.loads(e) for e in events[:-1])
    assert content_of(events) == "clean stream please"
    roles = [e for e in events[:-1] if (json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("role")]
    assert len(roles) == 1
    rows = wait_rows(gateway, "SELECT status, attempt_status, target_path FROM requests"
                     " WHERE request_id = {id:String}", {"id": response.headers["x-request-id"]})
    assert rows == [("ok", [503, 200], "targets[1]")]


# --- client disconnects ---------------------------------------------------------------------------------------


def _assert_cancelled(gateway: RunningGateway, simulator: Any, model: str, gone_at: float) -> None:
    records = finished_records(simulator, model, timeout_s=1.5)
    assert [r.aborted for r in records] == [True], records
    assert records[0].completed_at is not None and records[0].completed_at - gone_at <= 1.0
    assert row_for_model(gateway, model, "status, http_status") == [("cancelled", 499)]


def test_disconnect_before_headers_during_upstream_hang(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("dch")
    simulator.script([{"hang": 30}], model=model)
    with pytest.raises(httpx.ReadTimeout):
        stream_raw(gateway, body(model, "echo: never"), timeout_s=0.5)
    _assert_cancelled(gateway, simulator, model, time.time())


def test_disconnect_before_first_token(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("dcf")
    simulator.script([{"drip_ms": 3000}], model=model)
    config = json.dumps({"provider": "sim", "model": model})
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=body(model, "echo: late words"),
                      headers={"x-portcullis-config": config}, timeout=5) as response:
        assert response.status_code == 200
        time.sleep(0.3)
    gone_at = time.time()
    _assert_cancelled(gateway, simulator, model, gone_at)


def test_disconnect_mid_stream(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("dcm")
    simulator.script([{"drip_ms": 250}], model=model)
    words = " ".join(f"w{i}" for i in range(40))
    seen = ""
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=body(model, f"echo: {words}"),
                      timeout=5) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                seen += content_of([line[6:]])
            if seen.count("w") >= 2:
                break
    gone_at = time.time()
    assert seen.startswith("w0")
    _assert_cancelled(gateway, simulator, model, gone_at)
    rows = row_for_model(gateway, model, "response_body")
    assert rows and rows[0][0].startswith("w0 w1")


def test_disconnect_non_streaming_during_upstream_latency(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("dcn")
    simulator.script([{"hang": 30}], model=model)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.base_url}/chat/completions", json=body(model, "echo: never", stream=False), timeout=0.5)
    _assert_cancelled(gateway, simulator, model, time.time())
