"""End to end: GenAI spans over OTLP and in ClickHouse, trace continuation, /metrics, and the secrets canary."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest
from gateway_harness import running_gateway
from otlp_receiver import OtlpReceiver

from gateway.settings import parse_settings

CANARY_PROVIDER_KEY = f"sk-canary-provider-{uuid.uuid4().hex}"
CANARY_CALLER_KEY = f"sk-canary-caller-{uuid.uuid4().hex}"
CANARY_X_API_KEY = f"canary-xapi-{uuid.uuid4().hex}"
CANARY_QUERY = f"canary-query-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def receiver():  # type: ignore[no-untyped-def]
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory, receiver):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("observability")
    text = f"""
providers:
  sim:
    adapter: openai
    base_url: {simulator.base_url}/v1
    api_key: {CANARY_PROVIDER_KEY}
    models: [gpt-4o-mini]
guardrails:
  input:
    - {{id: length, action: flag, params: {{max_chars: 100000}}}}
store:
  dsn: {chdb_dsn}
  database: observability_e2e
  spool_dir: {tmp}/spool
  flush_interval_ms: 100
telemetry:
  service_name: portcullis-test
"""
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with running_gateway(parse_settings(text), environ=environ) as running:
        yield running


def _flush(gateway) -> None:  # type: ignore[no-untyped-def]
    gateway.services.telemetry.tracing.force_flush(5)
    gateway.services.writer.flush_now()


def _rows(gateway, sql: str, params: dict, expected: int) -> list:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 15
    rows: list = []
    while time.monotonic() < deadline:
        _flush(gateway)
        rows = gateway.services.store.query(sql, params)
        if len(rows) >= expected:
            break
        time.sleep(0.1)
    return rows


def test_spans_follow_genai_conventions_and_continue_the_callers_trace(gateway, receiver) -> None:  # type: ignore[no-untyped-def]
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    client = openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "echo: traced"}], max_tokens=20, temperature=0.5,
        extra_headers={"traceparent": parent})
    assert raw.headers["x-portcullis-trace-id"] == trace_id
    assert raw.headers["traceparent"].split("-")[1] == trace_id
    _flush(gateway)
    assert receiver.wait_for(lambda r: sum(s["trace_id"] == trace_id for s in r.spans) >= 3, timeout=10)
    spans = {s["name"]: s for s in receiver.spans if s["trace_id"] == trace_id}
    server = spans["POST /v1/chat/completions"]
    attempt = spans["chat gpt-4o-mini"]
    guardrail = spans["guardrail length"]
    assert server["kind"] == "SERVER" and server["parent_span_id"] == parent.split("-")[2]
    assert attempt["kind"] == "CLIENT" and attempt["parent_span_id"] == server["span_id"]
    assert guardrail["parent_span_id"] == server["span_id"]
    attrs = attempt["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.max_tokens"] == 20 and attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.usage.output_tokens"] == 1 and attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["server.address"] == "127.0.0.1"
    assert "gen_ai.input.messages" not in attrs  # content capture is opt-in
    assert server["resource"]["service.name"] == "portcullis-test"
    rows = _rows(gateway, "SELECT name, kind, parent_span_id FROM spans WHERE trace_id = {t:String} ORDER BY name",
                 {"t": trace_id}, 3)
    assert {(r[0], r[1]) for r in rows} >= {("POST /v1/chat/completions", "SERVER"), ("chat gpt-4o-mini", "CLIENT"),
                                            ("guardrail length", "INTERNAL")}


def test_trace_id_is_generated_when_absent_and_errors_carry_error_type(gateway, receiver, simulator) -> None:  # type: ignore[no-untyped-def]
    simulator.script([{"status": 503}], model="obs-fail")
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={
        "x-portcullis-config": '{"provider": "sim", "retry": {"attempts": 0}}'},
        json={"model": "obs-fail", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 503
    trace_id = response.headers["x-portcullis-trace-id"]
    assert len(trace_id) == 32 and int(trace_id, 16) != 0
    _flush(gateway)
    assert receiver.wait_for(lambda r: any(s["trace_id"] == trace_id and s["kind"] == "CLIENT" for s in r.spans), 10)
    attempt = next(s for s in receiver.spans if s["trace_id"] == trace_id and s["kind"] == "CLIENT")
    assert attempt["status"] == "ERROR" and attempt["attributes"]["error.type"] == "upstream_error"


def test_metrics_endpoint_exposes_genai_metrics(gateway) -> None:  # type: ignore[no-untyped-def]
    httpx.post(f"{gateway.base_url}/chat/completions",
               json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "echo: m"}]})
    text = httpx.get(f"{gateway.root_url}/metrics").text
    assert "gen_ai_client_operation_duration" in text
    assert "gen_ai_client_token_usage" in text


def test_secrets_canary_never_reaches_any_sink(gateway, receiver, capfd) -> None:  # type: ignore[no-untyped-def]
    marker = uuid.uuid4().hex
    response = httpx.post(
        f"{gateway.base_url}/chat/completions?key={CANARY_QUERY}",
        headers={"authorization": f"Bearer {CANARY_CALLER_KEY}", "x-api-key": CANARY_X_API_KEY,
                 "x-portcullis-metadata": json.dumps({"feature": marker})},
        json={"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": f"echo: my key is {CANARY_CALLER_KEY}"}]})
    assert response.status_code == 200
    bad = httpx.post(f"{gateway.base_url}/chat/completions?key={CANARY_QUERY}",
                     headers={"authorization": f"Bearer {CANARY_CALLER_KEY}"}, content=b"{broken")
    assert bad.status_code == 400
    for canary in (CANARY_PROVIDER_KEY, CANARY_CALLER_KEY, CANARY_X_API_KEY, CANARY_QUERY):
        assert canary not in bad.text  # error bodies
    assert CANARY_PROVIDER_KEY not in response.text
    rows = _rows(gateway, "SELECT * FROM requests WHERE feature = {f:String}", {"f": marker}, 1)
    assert rows
    _flush(gateway)
    time.sleep(0.3)
    dumps = [json.dumps(rows, default=str)]
    for table in ("spans", "guardrail_results", "requests"):
        dumps.append(json.dumps(gateway.services.store.query(f"SELECT * FROM {table}"), default=str))
    dumps.append(json.dumps(receiver.spans, default=str))
    captured = capfd.readouterr()
    dumps.extend([captured.out, captured.err])
    for canary in (CANARY_PROVIDER_KEY, CANARY_CALLER_KEY, CANARY_X_API_KEY, CANARY_QUERY):
        for dump in dumps:
            assert canary not in dump


def test_message_content_on_spans_only_when_opted_in(simulator, chdb_dsn, tmp_path, receiver) -> None:  # type: ignore[no-untyped-def]
    text = f"""
providers:
  sim: {{adapter: openai, base_url: "{simulator.base_url}/v1", api_key: sk-capture-test, models: [gpt-4o-mini]}}
store: {{dsn: "{chdb_dsn}", database: capture_e2e, spool_dir: "{tmp_path}/spool"}}
"""
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
               "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}
    with running_gateway(parse_settings(text), environ=environ) as gateway:
        response = httpx.post(f"{gateway.base_url}/chat/completions", json={"model": "gpt-4o-mini", "messages": [
            {"role": "system", "content": "be terse"}, {"role": "user", "content": "echo: captured words"}]})
        trace_id = response.headers["x-portcullis-trace-id"]
        gateway.services.telemetry.tracing.force_flush(5)
        assert receiver.wait_for(lambda r: any(s["trace_id"] == trace_id and s["kind"] == "CLIENT"
                                               for s in r.spans), 10)
    attempt = next(s for s in receiver.spans if s["trace_id"] == trace_id and s["kind"] == "CLIENT")
    assert "captured words" in attempt["attributes"]["gen_ai.input.messages"]
    assert "be terse" in attempt["attributes"]["gen_ai.system_instructions"]
    assert "captured words" in attempt["attributes"]["gen_ai.output.messages"]
