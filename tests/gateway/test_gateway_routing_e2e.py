"""End to end routing: the real openai SDK → the gateway on uvicorn → the simulator (fallback, retry, deadline,
loadbalance, conditional, Portkey configs, named and bad configs, cache, and the attempts in the request row)."""

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
from portkey_examples import PORTKEY_EXAMPLE_A, PORTKEY_EXAMPLE_B

from gateway.settings import parse_settings

pytestmark = pytest.mark.timeout(60)

@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory) -> Iterator[RunningGateway]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("routing_e2e")
    sim = simulator.base_url
    text = f"""
providers:
  openai:
    adapter: openai
    base_url: {sim}/v1
    api_key: sk-sim-openai
    models: [gpt-4o-mini]
  azure-openai:
    adapter: azure_openai
    base_url: {sim}
    api_key: az-sim-key
    api_version: 2024-10-21
  anthropic:
    adapter: anthropic
    base_url: {sim}
    api_key: sk-ant-sim
    default_max_tokens: 64
  groq:
    adapter: groq
    base_url: {sim}/v1
    api_key: gsk-sim
configs:
  pc-routing-fallback:
    strategy: {{mode: fallback, on_status_codes: [503]}}
    targets:
      - provider: openai
        override_params: {{model: named-primary}}
      - provider: groq
        override_params: {{model: named-secondary}}
server:
  default_request_timeout_s: 4
store:
  dsn: {chdb_dsn}
  database: routing_e2e_{uuid.uuid4().hex[:8]}
  spool_dir: {tmp}/spool
  flush_interval_ms: 100
"""
    with running_gateway(parse_settings(text)) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0, timeout=20) as sdk:
        yield sdk


def unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def upstream_calls(simulator: Any, *models: str) -> dict[str, int]:
    records = simulator.requests()
    return {model: sum(1 for r in records if r.model == model) for model in models}


def finished_records(simulator: Any, model: str, timeout_s: float = 1.5) -> list[Any]:
    """The simulator's records for a model once all of them completed (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = [r for r in simulator.requests() if r.model == model]
        if (records and all(r.completed_at is not None for r in records)) or time.monotonic() > deadline:
            return records
        time.sleep(0.02)



def one_line(config: str | dict[str, Any]) -> bytes:
    """A Portkey config as one header line, byte for byte the same JSON values (UTF-8, `…` placeholders kept)."""
    value = json.loads(config) if isinstance(config, str) else config
    return json.dumps(value, ensure_ascii=False).encode()


def config_header(config: dict[str, Any]) -> dict[str, str]:
    return {"x-portcullis-config": json.dumps(config)}


def fallback(first: str, second: str, codes: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    strategy: dict[str, Any] = {"mode": "fallback"}
    if codes is not None:
        strategy["on_status_codes"] = codes
    return {"strategy": strategy, "targets": [{"provider": "openai", "model": first, **extra},
                                                {"provider": "openai", "model": second}]}


# --- fallback ----------------------------------------------------------------------------------------------------


def test_fallback_on_listed_status_and_attempts_in_row(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    first, second = unique("fb1"), unique("fb2")
    simulator.script([{"status": 503}], model=first)
    raw = client.chat.completions.with_raw_response.create(
        model="ignored", messages=[{"role": "user", "content": "echo: served by the second"}],
        extra_headers=config_header(fallback(first, second, [503])),
    )
    assert raw.parse().choices[0].message.content == "served by the second"
    assert raw.headers["x-portcullis-target"] == "targets[1]"
    assert raw.headers["x-portcullis-provider"] == "openai"
    assert raw.headers["x-portcullis-retry-count"] == "1"
    assert upstream_calls(simulator, first, second) == {first: 1, second: 1}
    rows = wait_rows(
        gateway,
        "SELECT status, http_status, target_path, attempt_target_path, attempt_status, attempt_model, retry_count,"
        " model_served FROM requests WHERE request_id = {id:String}",
        {"id": raw.headers["x-request-id"]},
    )
    assert rows == [("ok", 200, "targets[1]", ["targets[0]", "targets[1]"], [503, 200], [first, second], 1, second)]


def test_fallback_does_not_move_on_unlisted_status(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    first, second = unique("nf1"), unique("nf2")
    simulator.script([{"status": 400, "message": "the first target rejects this"}], model=first)
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(
            model="ignored", messages=[{"role": "user", "content": "hi"}],
            extra_headers=config_header(fallback(first, second, [503])),
        )
    assert "the first target rejects this" in str(error.value)
    assert upstream_calls(simulator, first, second) == {first: 1, second: 0}
    request_id = error.value.response.headers["x-request-id"]
    rows = wait_rows(gateway, "SELECT status, http_status, attempt_status FROM requests WHERE request_id = {id:String}",
                     {"id": request_id})
    assert rows == [("error", 400, [400])]


def test_fallback_without_list_moves_on_any_failure(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    first, second = unique("any1"), unique("any2")
    simulator.script([{"status": 400}], model=first)
    reply = client.chat.completions.create(
        model="ignored", messages=[{"role": "user", "content": "echo: ok"}],
        extra_headers=config_header(fallback(first, second)),
    )
    assert reply.choices[0].message.content == "ok"
    assert upstream_calls(simulator, first, second) == {first: 1, second: 1}


# --- retries and deadlines -----------------------------------------------------------------------------------------


def test_retry_honours_retry_after(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("ra")
    simulator.script([{"status": 429, "retry_after": "1"}], model=model)
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model="ignored", messages=[{"role": "user", "content": "echo: after the wait"}],
        extra_headers=config_header({"provider": "openai", "model": model, "retry": {"attempts": 2}}),
    )
    elapsed = time.monotonic() - started
    assert raw.parse().choices[0].message.content == "after the wait"
    assert raw.headers["x-portcullis-retry-count"] == "1"
    assert 1.0 <= elapsed < 3.0
    records = [r for r in simulator.requests() if r.model == model]
    assert len(records) == 2 and records[1].arrived_at - records[0].arrived_at >= 0.95
    rows = wait_rows(gateway, "SELECT attempt_status, attempt_retry_index, retry_count, target_path FROM requests"
                     " WHERE request_id = {id:String}", {"id": raw.headers["x-request-id"]})
    assert rows == [([429, 200], [0, 1], 1, "")]


def test_retry_after_beyond_policy_cap_falls_back_at_once(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    first, second = unique("cap1"), unique("cap2")
    simulator.script([{"status": 429, "retry_after": "120"}], model=first)
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(
        model="ignored", messages=[{"role": "user", "content": "echo: fell back"}],
        extra_headers=config_header(fallback(first, second, [429], retry={"attempts": 3})),
    )
    assert time.monotonic() - started < 1.5
    assert raw.parse().choices[0].message.content == "fell back"
    assert raw.headers["x-portcullis-target"] == "targets[1]"
    assert upstream_calls(simulator, first, second) == {first: 1, second: 1}


def test_per_attempt_timeout_gives_504_within_bound(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("hang")
    simulator.script([{"hang": 30}], model=model)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(
            model="ignored", messages=[{"role": "user", "content": "hi"}],
            extra_headers=config_header({"provider": "openai", "model": model, "request_timeout": 800}),
        )
    elapsed = time.monotonic() - started
    assert error.value.status_code == 504
    assert 0.7 <= elapsed < 2.0
    assert [r.aborted for r in finished_records(simulator, model)] == [True]


def test_request_deadline_caps_retries(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    """Five retries of 1.5 s attempts against a hanging upstream still end at the 4 s server deadline."""
    model = unique("deadline")
    simulator.script([{"hang": 30}] * 6, model=model)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(
            model="ignored", messages=[{"role": "user", "content": "hi"}],
            extra_headers=config_header({"provider": "openai", "model": model, "request_timeout": 1500,
                                         "retry": {"attempts": 5}}),
        )
    elapsed = time.monotonic() - started
    assert error.value.status_code == 504
    assert 3.0 <= elapsed < 5.0, elapsed
    simulator.script([None] * 6, model=model)  # nothing left queued that could surprise anyone


# --- loadbalance and conditional -----------------------------------------------------------------------------------


def test_loadbalance_weights_over_real_requests(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    heavy, light = unique("lb3"), unique("lb1")
    header = config_header({"strategy": {"mode": "loadbalance"}, "targets": [
        {"provider": "openai", "model": heavy, "weight": 3},
        {"provider": "groq", "model": light, "weight": 1}]})
    targets: dict[str, int] = {}
    with httpx.Client(base_url=gateway.base_url, timeout=10) as http:
        for _ in range(200):
            response = http.post("/chat/completions", headers=header,
                                 json={"model": "x", "messages": [{"role": "user", "content": "echo: lb"}]})
            assert response.status_code == 200
            path = response.headers["x-portcullis-target"]
            targets[path] = targets.get(path, 0) + 1
    assert set(targets) == {"targets[0]", "targets[1]"}
    assert 120 <= targets["targets[0]"] <= 180, targets  # expected 150, sd ≈ 6
    assert upstream_calls(simulator, heavy, light) == {heavy: targets["targets[0]"], light: targets["targets[1]"]}


def test_conditional_routing_on_metadata_and_params(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    premium, cheap, fallback_model = unique("prem"), unique("cheap"), unique("deflt")
    config = {
        "strategy": {"mode": "conditional", "default": "default", "conditions": [
            {"query": {"metadata.plan": {"$in": ["paid", "enterprise"]}}, "then": "premium"},
            {"query": {"$and": [{"params.max_tokens": {"$gt": 100}}, {"metadata.env": {"$ne": "prod"}}]},
             "then": "cheap"}]},
        "targets": [
            {"name": "premium", "provider": "openai", "model": premium},
            {"name": "cheap", "provider": "groq", "model": cheap},
            {"name": "default", "provider": "openai", "model": fallback_model}],
    }

    def route(metadata: dict[str, str], **params: Any) -> tuple[str, str]:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "echo: routed"}],
            extra_headers={**config_header(config), "x-portcullis-metadata": json.dumps(metadata)}, **params,
        )
        return raw.headers["x-portcullis-target"], raw.parse().model

    assert route({"plan": "paid"}) == ("targets[0]", premium)
    assert route({"plan": "free", "env": "dev"}, max_tokens=500) == ("targets[1]", cheap)
    assert route({"plan": "free", "env": "prod"}, max_tokens=500) == ("targets[2]", fallback_model)
    assert route({}) == ("targets[2]", fallback_model)


# --- Portkey example configs, sent unchanged ---------------------------------------------------------------------


def test_portkey_example_a_unchanged(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=gateway.base_url, timeout=20) as http:
        response = http.post("/chat/completions", headers={"x-portkey-config": one_line(PORTKEY_EXAMPLE_A)},
                             json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "echo: hello a"}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "hello a"
    assert response.headers["x-portcullis-target"] in ("targets[0].targets[0]", "targets[0].targets[1]")


def test_portkey_example_a_routing_part_unchanged(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    """Example A minus its output guardrails, many times: routes across the loadbalance, retries, checks."""
    config = json.loads(PORTKEY_EXAMPLE_A)
    del config["output_guardrails"]
    seen: set[str] = set()
    with httpx.Client(base_url=gateway.base_url, timeout=20) as http:
        for index in range(12):
            response = http.post(
                "/chat/completions", headers={"x-portkey-config": one_line(config)},
                json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"echo: hello a {index}"}]})
            assert response.status_code == 200, response.text
            assert response.json()["choices"][0]["message"]["content"] == f"hello a {index}"
            seen.add(response.headers["x-portcullis-target"])
        assert seen <= {"targets[0].targets[0]", "targets[0].targets[1]"} and seen
        denied = http.post("/chat/completions", headers={"x-portkey-config": one_line(config)},
                           json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ssn 123-45-6789"}]})
    assert denied.status_code == 446, denied.text
    assert denied.json()["hook_results"]["before_request_hooks"][0]["verdict"] is False
    azure = [r for r in simulator.requests() if r.path.startswith("/openai/deployments/gpt4o-mini/")]
    if "targets[0].targets[1]" in seen:
        assert azure and "api-version=2024-06-01" in azure[-1].query


def test_portkey_example_b_unchanged(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=gateway.base_url, timeout=20) as http:
        def send(metadata: dict[str, str], model: str) -> httpx.Response:
            return http.post("/chat/completions",
                             headers={"x-portkey-config": one_line(PORTKEY_EXAMPLE_B),
                                      "x-portkey-metadata": json.dumps(metadata)},
                             json={"model": model, "messages": [{"role": "user", "content": "echo: hello b"}]})

        paid = send({"plan": "paid"}, "gpt-4o-mini")
        dev = send({"env": "dev"}, "gpt-4-turbo")
        other = send({"env": "prod"}, "claude")
    for response in (paid, dev, other):
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "hello b"
    assert (paid.headers["x-portcullis-target"], paid.json()["model"]) == ("targets[0]", "gpt-4o")
    assert (dev.headers["x-portcullis-target"], dev.json()["model"]) == ("targets[1]", "llama-3.1-8b-instant")
    assert other.headers["x-portcullis-target"] == "targets[1]"
    assert paid.headers["x-portcullis-provider"] == "openai" and dev.headers["x-portcullis-provider"] == "groq"


# --- named and bad configs ---------------------------------------------------------------------------------------


def test_named_config(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    simulator.script([{"status": 503}], model="named-primary")
    raw = client.chat.completions.with_raw_response.create(
        model="ignored", messages=[{"role": "user", "content": "echo: named"}],
        extra_headers={"x-portcullis-config": "pc-routing-fallback"},
    )
    assert raw.parse().choices[0].message.content == "named"
    assert raw.headers["x-portcullis-target"] == "targets[1]" and raw.headers["x-portcullis-provider"] == "groq"
    rows = wait_rows(gateway, "SELECT config_id FROM requests WHERE request_id = {id:String}",
                     {"id": raw.headers["x-request-id"]})
    assert rows == [("pc-routing-fallback",)]
    with pytest.raises(openai.BadRequestError) as missing:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}],
                                       extra_headers={"x-portcullis-config": "pc-does-not-exist"})
    assert "pc-does-not-exist" in str(missing.value)


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"provider": "openai", "model": "deep"}
    for _ in range(levels):
        node = {"strategy": {"mode": "fallback"}, "targets": [node]}
    return node


BAD_CONFIGS = {
    "unknown_field": ({"provider": "openai", "retries": 3}, "retries"),
    "nested_unknown_field": ({"strategy": {"mode": "fallback"},
                              "targets": [{"provider": "openai", "weigth": 2}]}, "targets[0].weigth"),
    "unknown_target": ({"strategy": {"mode": "conditional", "default": "nope"},
                        "targets": [{"name": "a", "provider": "openai"}]}, "strategy.default"),
    "unknown_provider": ({"provider": "mystery-ai"}, "provider"),
    "too_deep": (_deep(8), "targets nested deeper"),
    "bad_regex": ({"strategy": {"mode": "conditional", "default": "a",
                                "conditions": [{"query": {"params.model": {"$regex": "(unclosed"}}, "then": "a"}]},
                   "targets": [{"name": "a", "provider": "openai"}]}, "strategy.conditions[0].query.params.model"),
    "lookaround_regex": ({"strategy": {"mode": "conditional", "default": "a",
                                       "conditions": [{"query": {"params.model": {"$regex": "^(?!gpt).*"}},
                                                       "then": "a"}]},
                          "targets": [{"name": "a", "provider": "openai"}]}, "no lookaround"),
    "custom_host": ({"provider": "openai", "custom_host": "http://169.254.169.254"}, "custom_host"),
    "wrong_type": ({"provider": "openai", "retry": {"attempts": "three"}}, "retry.attempts"),
    "not_json": ("{not json", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configs_are_400_naming_the_field(gateway, case: str) -> None:  # type: ignore[no-untyped-def]
    config, named = BAD_CONFIGS[case]
    header = config if isinstance(config, str) else json.dumps(config)
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portcullis-config": header},
                          json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_config"
    assert named in error["message"], error


def test_config_header_over_8_kib_is_400(gateway) -> None:  # type: ignore[no-untyped-def]
    config = {"provider": "openai", "metadata": {"padding": "x" * 9000}}
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portcullis-config": json.dumps(config)},
                          json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert response.status_code == 400, response.text
    assert "larger than 8192 bytes" in response.json()["error"]["message"]


def test_bad_portkey_guardrail_in_config_is_400(gateway) -> None:  # type: ignore[no-untyped-def]
    config = {"provider": "openai", "input_guardrails": [{"default.noSuchCheck": {}, "deny": True}]}
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portkey-config": json.dumps(config)},
                          json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
    assert response.status_code == 400, response.text
    assert "default.noSuchCheck" in response.json()["error"]["message"]


# --- cache -------------------------------------------------------------------------------------------------------


def test_simple_cache_hit_refresh_and_stream_replay(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("cache")
    headers = config_header({"provider": "openai", "model": model, "cache": {"mode": "simple", "max_age": "60s"}})
    messages = [{"role": "user", "content": "echo: cached answer here"}]
    first = client.chat.completions.with_raw_response.create(model="x", messages=messages, extra_headers=headers)
    second = client.chat.completions.with_raw_response.create(model="x", messages=messages, extra_headers=headers)
    assert first.headers["x-portcullis-cache-status"] == "MISS"
    assert second.headers["x-portcullis-cache-status"] == "HIT"
    assert second.parse().choices[0].message.content == "cached answer here"
    assert upstream_calls(simulator, model) == {model: 1}
    refreshed = client.chat.completions.with_raw_response.create(
        model="x", messages=messages, extra_headers={**headers, "x-portcullis-cache-force-refresh": "true"})
    assert refreshed.headers["x-portcullis-cache-status"] == "REFRESH"
    assert upstream_calls(simulator, model) == {model: 2}
    # a stream request is answered from the cached completion, replayed as valid SSE
    with client.chat.completions.with_streaming_response.create(
        model="x", messages=messages, stream=True, stream_options={"include_usage": True}, extra_headers=headers,
    ) as response:
        assert response.headers["x-portcullis-cache-status"] == "HIT"
        text, usage, finish = "", None, None
        for chunk in response.parse():
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            usage = chunk.usage or usage
    assert (text, finish) == ("cached answer here", "stop")
    assert usage is not None and usage.completion_tokens == 3
    assert upstream_calls(simulator, model) == {model: 2}
    rows = wait_rows(gateway, "SELECT cache_status, length(attempt_status) FROM requests"
                     " WHERE request_id = {id:String}", {"id": second.headers["x-request-id"]})
    assert rows == [("HIT", 0)]


def test_stream_answer_is_cached_for_the_next_request(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("scache")
    headers = config_header({"provider": "openai", "model": model, "cache": {"mode": "simple"}})
    messages = [{"role": "user", "content": "echo: streamed then cached"}]
    stream = client.chat.completions.create(model="x", messages=messages, stream=True, extra_headers=headers)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "streamed then cached"
    raw = client.chat.completions.with_raw_response.create(model="x", messages=messages, extra_headers=headers)
    assert raw.headers["x-portcullis-cache-status"] == "HIT"
    assert raw.parse().choices[0].message.content == "streamed then cached"
    assert upstream_calls(simulator, model) == {model: 1}
