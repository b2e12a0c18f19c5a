"""Fault injection (header, script queue, instance default), abort detection and the request record."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from gateway.simulator import FaultSpec, RunningSimulator, SimulatorConfig, run_in_thread

AUTH = {"authorization": "Bearer sk-test"}


def chat_body(model: str = "gpt-4o-mini", stream: bool = False, text: str = "hello", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream, **extra}


def post_chat(sim: RunningSimulator, body: dict, headers: dict | None = None, timeout: float = 5) -> httpx.Response:
    return httpx.post(
        f"{sim.base_url}/v1/chat/completions", json=body, headers={**AUTH, **(headers or {})}, timeout=timeout
    )


def fault_header(**fault) -> dict[str, str]:
    return {"x-sim-fault": json.dumps(fault)}


def test_header_fault_status_with_retry_after_headers(sim: RunningSimulator) -> None:
    response = post_chat(
        sim, chat_body(), fault_header(status=503, retry_after="2", retry_after_ms="1500", message="busy")
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["retry-after-ms"] == "1500"
    assert response.json()["error"] == {"message": "busy", "type": "server_error", "param": None, "code": None}
    record = sim.requests()[0]
    assert record.status == 503
    assert record.fault == FaultSpec(status=503, retry_after="2", retry_after_ms="1500", message="busy")


def test_invalid_header_fault_is_a_400(sim: RunningSimulator) -> None:
    response = post_chat(sim, chat_body(), {"x-sim-fault": '{"hang": "soon", "bogus": 1}'})
    assert response.status_code == 400


def test_hang_then_client_timeout_is_recorded_as_abort_within_a_second(sim: RunningSimulator) -> None:
    with pytest.raises(httpx.ReadTimeout):
        post_chat(sim, chat_body(), fault_header(hang=30), timeout=0.3)
    gave_up_at = time.time()
    record = sim.wait_for(1, timeout_s=2.0)[0]
    assert record.aborted is True
    assert record.status is None
    assert record.completed_at is not None
    assert record.completed_at - gave_up_at < 1.0


def test_abort_during_non_stream_latency(sim: RunningSimulator) -> None:
    with pytest.raises(httpx.ReadTimeout):
        post_chat(sim, chat_body(), {"x-sim-latency-ms": "20000"}, timeout=0.3)
    gave_up_at = time.time()
    record = sim.wait_for(1, timeout_s=2.0)[0]
    assert record.aborted is True
    assert record.completed_at - gave_up_at < 1.0


def test_abort_mid_stream(sim: RunningSimulator) -> None:
    headers = {**AUTH, "x-sim-inter-token-ms": "100", "x-sim-tokens": "50"}
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST", f"{sim.base_url}/v1/chat/completions", json=chat_body(stream=True), headers=headers
        ) as response,
    ):
        lines = response.iter_lines()
        received: list[str] = []
        for line in lines:
            if line.startswith("data: "):
                received.append(line)
            if len(received) >= 3:
                break
    gave_up_at = time.time()
    record = sim.wait_for(1, timeout_s=2.0)[0]
    assert record.aborted is True
    assert 1 <= record.chunks_sent < 50
    assert record.completed_at - gave_up_at < 1.0


def test_close_after_truncates_the_stream(sim: RunningSimulator) -> None:
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST",
            f"{sim.base_url}/v1/chat/completions",
            json=chat_body(stream=True),
            headers={**AUTH, **fault_header(close_after=3)},
        ) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("data: "):
                received.append(line)
    assert len(received) == 4  # the role chunk and three content chunks
    assert "data: [DONE]" not in received
    record = sim.wait_for(1)[0]
    assert record.aborted is False
    assert record.chunks_sent == 3


def test_close_after_surfaces_in_the_openai_sdk(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(close_after=2)])
    with openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="k", max_retries=0) as client:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        pieces: list[str] = []
        with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
            for chunk in stream:
                pieces.append(chunk.choices[0].delta.content or "")
    assert len([p for p in pieces if p]) == 2


def test_malformed_chunk_is_invalid_json(sim: RunningSimulator) -> None:
    response = post_chat(sim, chat_body(stream=True, max_tokens=4), fault_header(malformed_at=2))
    payloads = [line[len("data: ") :] for line in response.text.splitlines() if line.startswith("data: ")]
    broken = []
    assert payloads[-1] == "[DONE]"
    for index, payload in enumerate(payloads[:-1]):
        try:
            json.loads(payload)
        except json.JSONDecodeError:
            broken.append(index)
    assert broken == [2]  # role chunk at 0, content chunks 1..4


def test_openai_error_event_mid_stream(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(error_event_after=2, status=500, message="upstream broke")])
    received: list[str] = []
    with openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="k", max_retries=0) as client:
        stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert len([r for r in received if r]) == 2
    assert "upstream broke" in str(caught.value)


def test_drip_slows_every_chunk(sim: RunningSimulator) -> None:
    started = time.monotonic()
    response = post_chat(sim, chat_body(stream=True, max_tokens=3), fault_header(drip_ms=60))
    elapsed = time.monotonic() - started
    assert response.text.endswith("data: [DONE]\n\n")
    assert elapsed >= 0.06 * 5


def test_script_queue_is_consumed_in_order_with_nulls(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=500), None, FaultSpec(status=429)])
    statuses = [post_chat(sim, chat_body()).status_code for _ in range(4)]
    assert statuses == [500, 200, 429, 200]


def test_script_model_filter(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=503), FaultSpec(status=502)], model="gpt-4o")
    sim.script([FaultSpec(status=418)])
    assert post_chat(sim, chat_body(model="gpt-4o-mini")).status_code == 418
    assert post_chat(sim, chat_body(model="gpt-4o-mini")).status_code == 200
    assert post_chat(sim, chat_body(model="gpt-4o")).status_code == 503
    assert post_chat(sim, chat_body(model="gpt-4o")).status_code == 502
    assert post_chat(sim, chat_body(model="gpt-4o")).status_code == 200


def test_header_fault_wins_over_script_without_consuming_it(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=500)])
    assert post_chat(sim, chat_body(), fault_header(status=404)).status_code == 404
    assert post_chat(sim, chat_body()).status_code == 500


def test_reset_clears_scripts_and_record(sim: RunningSimulator) -> None:
    sim.script([FaultSpec(status=500)])
    post_chat(sim, chat_body(), fault_header(status=400))
    sim.reset()
    assert sim.requests() == []
    assert post_chat(sim, chat_body()).status_code == 200


def test_record_holds_request_details(sim: RunningSimulator) -> None:
    post_chat(sim, chat_body(text="record me"), {"x-trace": "abc"})
    record = sim.requests()[0]
    assert record.method == "POST"
    assert record.path == "/v1/chat/completions"
    assert record.headers["x-trace"] == "abc"
    assert record.body["messages"][0]["content"] == "record me"
    assert record.model == "gpt-4o-mini"
    assert record.status == 200
    assert record.aborted is False
    assert record.arrived_at <= record.completed_at


def test_instance_default_fault_and_bounded_record() -> None:
    config = SimulatorConfig(fault=FaultSpec(status=529), record_limit=3)
    with run_in_thread(config) as sim:
        body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        statuses = [
            httpx.post(f"{sim.base_url}/v1/messages", json=body, headers=headers, timeout=5).status_code
            for _ in range(5)
        ]
        sim.script([None])
        scripted_ok = httpx.post(f"{sim.base_url}/v1/messages", json=body, headers=headers, timeout=5)
        records = sim.requests()
    assert statuses == [529] * 5
    assert scripted_ok.status_code == 200
    assert [record.seq for record in records] == [4, 5, 6]


def test_timing_headers(sim: RunningSimulator) -> None:
    started = time.monotonic()
    post_chat(sim, chat_body(), {"x-sim-latency-ms": "250"})
    assert time.monotonic() - started >= 0.25
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST",
            f"{sim.base_url}/v1/chat/completions",
            json=chat_body(stream=True, max_tokens=3),
            headers={**AUTH, "x-sim-ttft-ms": "200", "x-sim-inter-token-ms": "50"},
        ) as response,
    ):
        headers_at = time.monotonic()
        stamps = [time.monotonic() for line in response.iter_lines() if '"content":"' in line]
    assert stamps[0] - headers_at >= 0.15
    assert stamps[-1] - stamps[1] >= 0.05
