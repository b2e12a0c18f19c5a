"""End to end: the real openai SDK → the gateway on uvicorn → the simulator, with rows landing in chDB."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest
from gateway_harness import running_gateway, wait_rows

from gateway.settings import parse_settings


def settings_for(sim_url: str, chdb_dsn: str, database: str, tmp_path, extra: str = ""):  # type: ignore[no-untyped-def]
    text = f"""
providers:
  sim:
    adapter: openai
    base_url: {sim_url}/v1
    api_key: sk-sim-upstream-secret
    models: [gpt-4o-mini]
  dead:
    adapter: openai
    base_url: http://127.0.0.1:9/v1
    api_key: sk-dead
    models: [dead-model]
server:
  max_body_bytes: 65536
  default_request_timeout_s: 5
store:
  dsn: {chdb_dsn}
  database: {database}
  spool_dir: {tmp_path}/spool
  flush_interval_ms: 100
{extra}
"""
    return parse_settings(text)


@pytest.fixture
def gateway(simulator, chdb_dsn, database_name, tmp_path):  # type: ignore[no-untyped-def]
    settings = settings_for(simulator.base_url, chdb_dsn, database_name, tmp_path)
    with running_gateway(settings) as running:
        yield running


def test_non_streaming_round_trip_and_log_row(gateway) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "echo: hello there"}],
        extra_headers={"x-portcullis-metadata": json.dumps({"feature": "e2e", "user": "u1"})},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello there"
    assert completion.usage is not None and completion.usage.completion_tokens == 2
    request_id = raw.headers["x-request-id"]
    assert raw.headers["x-portcullis-provider"] == "sim"
    rows = wait_rows(
        gateway,
        "SELECT status, http_status, provider, model_requested, input_tokens, output_tokens, streamed,"
        " feature, user, position(request_body, 'hello there') > 0 FROM requests WHERE request_id = {id:String}",
        {"id": request_id},
        1,
    )
    assert rows == [("ok", 200, "sim", "gpt-4o-mini", completion.usage.prompt_tokens, 2, False, "e2e", "u1", True)]


def test_streaming_sync_and_usage(gateway) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "echo: one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "one two three four"
    assert usage is not None and usage.completion_tokens == 4


def test_streaming_without_usage_request_strips_usage_chunk(gateway) -> None:  # type: ignore[no-untyped-def]
    with httpx.stream(
        "POST", f"{gateway.base_url}/chat/completions",
        json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "echo: a b"}]},
    ) as response:
        body = response.read().decode()
    events = [line[6:] for line in body.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert all('"usage"' not in e or json.loads(e).get("usage") is None for e in events[:-1])


@pytest.mark.anyio
async def test_async_client_streaming(gateway) -> None:  # type: ignore[no-untyped-def]
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "echo: async works"}], stream=True
    )
    parts = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(parts) == "async works"
    completion = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "echo: plain"}]
    )
    assert completion.choices[0].message.content == "plain"
    await client.close()


def test_error_cases_map_to_sdk_exceptions(gateway) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad_type:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": 3}])  # type: ignore[list-item]
    assert "messages[0].content" in str(bad_type.value)
    response = httpx.post(f"{gateway.base_url}/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
    response = httpx.get(f"{gateway.root_url}/v2/nothing")
    assert response.status_code == 404 and "error" in response.json()
    big = "x" * 70_000
    response = httpx.post(f"{gateway.base_url}/chat/completions",
                          json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]})
    assert response.status_code == 413 and response.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.InternalServerError) as unreachable:
        client.chat.completions.create(model="dead/dead-model", messages=[{"role": "user", "content": "hi"}])
    assert unreachable.value.status_code == 502
    assert "127.0.0.1:9" not in str(unreachable.value)


def test_upstream_errors_keep_status_and_name_provider(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    model = f"m-{uuid.uuid4().hex[:8]}"
    simulator.script([{"status": 429, "retry_after": "1"}, {"status": 400, "message": "bad thing"},
                      {"hang": 30}], model=model)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-portcullis-config": json.dumps(
                                           {"provider": "sim", "retry": {"attempts": 0}})})
    assert "sim" in str(limited.value)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=f"sim/{model}", messages=[{"role": "user", "content": "hi"}])
    assert "bad thing" in str(bad.value)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as timeout:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-portcullis-config": json.dumps(
                {"provider": "sim", "request_timeout": 1000, "retry": {"attempts": 0}})},
        )
    assert timeout.value.status_code == 504
    assert time.monotonic() - started < 4


def test_models_and_health(gateway) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    ids = {m.id for m in client.models.list()}
    assert {"sim/gpt-4o-mini", "gpt-4o-mini", "dead/dead-model"} <= ids
    assert httpx.get(f"{gateway.root_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.root_url}/readyz")
    assert ready.status_code == 200 and ready.json()["store"] is True
