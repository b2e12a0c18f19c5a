"""End to end guardrails: input deny/redact/flag, every message shape, output deny/redact, the three stream modes,
Portkey 446/246, server default chains — and no matched secret in any logged column."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from gateway_harness import RunningGateway, running_gateway, wait_rows

from gateway.settings import parse_settings

pytestmark = pytest.mark.timeout(60)

EMAIL = "zed.quill7421@example.org"
EMAIL_2 = "ops.rota9934@example.net"
PII_EMAIL = {"entities": ["EMAIL_ADDRESS"]}


def settings_text(sim_url: str, chdb_dsn: str, tmp: Any, extra: str = "") -> str:
    return f"""
providers:
  sim:
    adapter: openai
    base_url: {sim_url}/v1
    api_key: sk-sim-upstream
server:
  default_request_timeout_s: 10
store:
  dsn: {chdb_dsn}
  database: guard_e2e_{uuid.uuid4().hex[:8]}
  spool_dir: {tmp}/spool
  flush_interval_ms: 100
{extra}
"""


@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory) -> Iterator[RunningGateway]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("guard_e2e")
    with running_gateway(parse_settings(settings_text(simulator.base_url, chdb_dsn, tmp))) as running:
        yield running


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.base_url, api_key="anything", max_retries=0, timeout=20) as sdk:
        yield sdk


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def config(model: str, **extra: Any) -> dict[str, str]:
    return {"x-portcullis-config": json.dumps({"provider": "sim", "model": model, **extra})}


def pii(action: str, **params: Any) -> list[dict[str, Any]]:
    return [{"id": "pii", "action": action, "params": {**PII_EMAIL, **params}}]


def upstream(simulator: Any, model: str) -> list[Any]:
    return [r for r in simulator.requests() if r.model == model]



def guardrail_rows(gateway: RunningGateway, request_id: str, expected: int = 1) -> list[Any]:
    return wait_rows(gateway, "SELECT stage, check_id, verdict, action, entity_types, finding_count, findings_json"
                     " FROM guardrail_results WHERE request_id = {id:String} ORDER BY stage",
                     {"id": request_id}, expected)


def assert_secret_nowhere(gateway: RunningGateway, request_id: str, *secrets: str,
                          tables: tuple[str, ...] = ("requests", "guardrail_results", "spans")) -> None:
    """Every column of every row of the request in these tables, as text, holds none of the secrets."""
    wait_rows(gateway, "SELECT 1 FROM requests WHERE request_id = {id:String}", {"id": request_id})
    for table in tables:
        rows = gateway.services.store.query(f"SELECT * FROM {table} WHERE request_id = {{id:String}}",
                                            {"id": request_id})
        text = repr(rows)
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {table}"
            assert secret.split("@")[0] not in text, f"local part of {secret!r} found in {table}"


def sse_events(raw: str) -> list[str]:
    return [line[len("data: "):] for line in raw.split("\n") if line.startswith("data: ")]


def stream_raw(gateway: RunningGateway, model: str, text: str, headers: dict[str, str]) -> tuple[httpx.Response, str]:
    payload = {"model": model, "stream": True, "messages": [{"role": "user", "content": text}]}
    with httpx.stream("POST", f"{gateway.base_url}/chat/completions", json=payload, headers=headers,
                      timeout=15) as response:
        raw = response.read().decode()
    return response, raw


def content_of(events: list[str]) -> tuple[str, str | None]:
    text, finish = "", None
    for event in events:
        if event == "[DONE]":
            continue
        for choice in json.loads(event).get("choices") or []:
            text += (choice.get("delta") or {}).get("content") or ""
            finish = choice.get("finish_reason") or finish
    return text, finish


# --- input -------------------------------------------------------------------------------------------------------


def test_input_deny_is_400_and_upstream_never_called(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("indeny")
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"write to {EMAIL}"}],
                                       extra_headers=config(model, input_guardrails=pii("deny")))
    body = error.value.response.json()["error"]
    assert body["code"] == "content_filter" and "pii" in body["message"]
    assert upstream(simulator, model) == []
    request_id = error.value.response.headers["x-request-id"]
    rows = guardrail_rows(gateway, request_id)
    assert [row[:6] for row in rows] == [("input", "pii", "failed", "deny", ["EMAIL_ADDRESS"], 1)]
    findings = json.loads(rows[0][6])
    assert findings[0]["type"] == "EMAIL_ADDRESS" and findings[0]["end"] - findings[0]["start"] == len(EMAIL)
    request = wait_rows(gateway, "SELECT status, http_status, guardrail_outcome, guardrail_failed FROM requests"
                        " WHERE request_id = {id:String}", {"id": request_id})
    assert request == [("denied", 400, "denied", ["pii"])]
    logged = wait_rows(gateway, "SELECT request_body FROM requests WHERE request_id = {id:String}", {"id": request_id})
    assert "write to <EMAIL_ADDRESS>" in logged[0][0]  # the log shows what was blocked, redacted
    assert_secret_nowhere(gateway, request_id, EMAIL)


def test_input_redact_reaches_upstream_and_log_redacted(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("inred")
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"echo: mail {EMAIL} today"}],
        extra_headers=config(model, input_guardrails=pii("redact")))
    assert raw.parse().choices[0].message.content == "mail <EMAIL_ADDRESS> today"
    [record] = upstream(simulator, model)
    sent = json.dumps(record.body)
    assert "<EMAIL_ADDRESS>" in sent and EMAIL not in sent
    request_id = raw.headers["x-request-id"]
    rows = wait_rows(gateway, "SELECT guardrail_outcome, position(request_body, '<EMAIL_ADDRESS>') > 0 FROM requests"
                     " WHERE request_id = {id:String}", {"id": request_id})
    assert rows == [("redacted", True)]
    assert [row[:4] for row in guardrail_rows(gateway, request_id)] == [("input", "pii", "failed", "redact")]
    assert_secret_nowhere(gateway, request_id, EMAIL)


def test_input_flag_passes_and_is_recorded(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("inflag")
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"echo: flag {EMAIL}"}],
        extra_headers=config(model, input_guardrails=pii("flag")))
    assert raw.parse().choices[0].message.content == f"flag {EMAIL}"
    assert EMAIL in json.dumps(upstream(simulator, model)[0].body)
    request_id = raw.headers["x-request-id"]
    assert [row[:5] for row in guardrail_rows(gateway, request_id)] == [
        ("input", "pii", "failed", "flag", ["EMAIL_ADDRESS"])]
    assert wait_rows(gateway, "SELECT status, guardrail_outcome FROM requests WHERE request_id = {id:String}",
                     {"id": request_id}) == [("ok", "flagged")]
    assert_secret_nowhere(gateway, request_id, EMAIL, tables=("guardrail_results", "spans"))


def _shapes_messages() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": [{"type": "text", "text": "You help with mail."}]},
        {"role": "user", "content": [{"type": "text", "text": "please write to"},
                                     {"type": "text", "text": f"the address {EMAIL}"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "send_mail", "arguments": json.dumps({"to": EMAIL_2, "subject": "hi"})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sent"},
        {"role": "user", "content": "echo: done"},
    ]


def test_pii_in_content_parts_and_tool_arguments_is_redacted(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("shapes")
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=_shapes_messages(),  # type: ignore[arg-type]
        extra_headers=config(model, input_guardrails=pii("redact")))
    assert raw.parse().choices[0].message.content == "done"
    sent = json.dumps(upstream(simulator, model)[0].body)
    assert EMAIL not in sent and EMAIL_2 not in sent
    assert sent.count("<EMAIL_ADDRESS>") == 2
    arguments = json.loads(upstream(simulator, model)[0].body["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"to": "<EMAIL_ADDRESS>", "subject": "hi"}
    [row] = guardrail_rows(gateway, raw.headers["x-request-id"])
    assert row[5] == 2 and {f["path"].split(".")[0] for f in json.loads(row[6])} == {"messages[1]", "messages[2]"}
    assert_secret_nowhere(gateway, raw.headers["x-request-id"], EMAIL, EMAIL_2)


def test_pii_in_tool_arguments_alone_is_denied(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("tooldeny")
    messages = _shapes_messages()
    messages[1] = {"role": "user", "content": [{"type": "text", "text": "please write"}]}
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=model, messages=messages,  # type: ignore[arg-type]
                                       extra_headers=config(model, input_guardrails=pii("deny")))
    assert error.value.response.json()["error"]["code"] == "content_filter"
    assert upstream(simulator, model) == []


# --- output, non-streaming -----------------------------------------------------------------------------------


def test_output_deny_withholds_content(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("outdeny")
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"echo: reach me at {EMAIL}"}],
        extra_headers=config(model, output_guardrails=pii("deny")))
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "content_filter" and choice.message.content is None
    assert EMAIL not in raw.http_response.text
    request_id = raw.headers["x-request-id"]
    assert [row[:4] for row in guardrail_rows(gateway, request_id)] == [("output", "pii", "failed", "deny")]
    rows = wait_rows(gateway, "SELECT finish_reason, guardrail_outcome, position(response_body, {s:String}) > 0"
                     " FROM requests WHERE request_id = {id:String}", {"id": request_id, "s": EMAIL})
    assert rows == [("content_filter", "denied", False)]


def test_output_redact_non_stream(gateway, client, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("outred")
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": f"echo: reach me at {EMAIL} soon"}],
        extra_headers=config(model, output_guardrails=pii("redact")))
    assert raw.parse().choices[0].message.content == "reach me at <EMAIL_ADDRESS> soon"
    assert [row[:4] for row in guardrail_rows(gateway, raw.headers["x-request-id"])] == [
        ("output", "pii", "failed", "redact")]


# --- output, streaming ---------------------------------------------------------------------------------------


def test_stream_buffer_mode_denied_sends_content_filter_only(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("sbuf")
    response, raw = stream_raw(gateway, model, f"echo: the address is {EMAIL} right",
                               config(model, output_guardrails=pii("deny"), stream_output_mode="buffer"))
    assert response.status_code == 200
    assert EMAIL not in raw and EMAIL.split("@")[0] not in raw
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert content_of(events) == ("", "content_filter")
    [row] = guardrail_rows(gateway, response.headers["x-request-id"])
    assert row[:4] == ("output", "pii", "failed", "deny")


def test_stream_buffer_mode_redacts(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("sbufred")
    _, raw = stream_raw(gateway, model, f"echo: the address is {EMAIL} right",
                        config(model, output_guardrails=pii("redact")))
    assert EMAIL not in raw
    assert content_of(sse_events(raw)) == ("the address is <EMAIL_ADDRESS> right", "stop")


def test_stream_incremental_mode_cuts_before_the_email(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("sinc")
    lead = " ".join(f"word{i}" for i in range(60))
    response, raw = stream_raw(gateway, model, f"echo: {lead} contact {EMAIL} for more words after it",
                               config(model, output_guardrails=pii("deny"), stream_output_mode="incremental"))
    assert response.status_code == 200
    assert EMAIL not in raw and EMAIL.split("@")[0] not in raw
    events = sse_events(raw)
    assert "[DONE]" not in events
    error = json.loads(events[-1])["error"]
    assert error["code"] == "content_filter" and "pii" in error["message"]
    released, _ = content_of(events[:-1])
    assert released.startswith("word0 word1") and "contact" not in released.split()[-1:]
    request_id = response.headers["x-request-id"]
    [row] = guardrail_rows(gateway, request_id)
    assert row[:4] == ("output", "pii", "failed", "deny")
    assert_secret_nowhere(gateway, request_id, EMAIL, tables=("guardrail_results", "spans"))


def test_stream_incremental_mode_passes_clean_text(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("sincok")
    text = " ".join(f"clean{i}" for i in range(50))
    _, raw = stream_raw(gateway, model, f"echo: {text}",
                        config(model, output_guardrails=pii("deny"), stream_output_mode="incremental"))
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert content_of(events) == (text, "stop")


def test_stream_post_mode_forwards_and_records(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("spost")
    response, raw = stream_raw(gateway, model, f"echo: post mode {EMAIL} here",
                               config(model, output_guardrails=pii("deny"), stream_output_mode="post"))
    events = sse_events(raw)
    assert events[-1] == "[DONE]"
    assert content_of(events) == (f"post mode {EMAIL} here", "stop")
    [row] = guardrail_rows(gateway, response.headers["x-request-id"])
    assert row[:5] == ("output", "pii", "failed", "deny", ["EMAIL_ADDRESS"])


# --- Portkey shorthand -----------------------------------------------------------------------------------------


def test_portkey_input_deny_is_446_with_hook_results(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("pk446")
    portkey = {"provider": "sim", "override_params": {"model": model},
               "input_guardrails": [{"default.regexMatch": {"rule": "secret-[0-9]+", "not": True}, "deny": True}]}
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portkey-config": json.dumps(portkey)},
                          json={"model": "x", "messages": [{"role": "user", "content": "my secret-4242 is"}]},
                          timeout=10)
    assert response.status_code == 446, response.text
    body = response.json()
    assert body["error"]["type"] == "hooks_failed"
    [hook] = body["hook_results"]["before_request_hooks"]
    assert hook["verdict"] is False and hook["deny"] is True
    assert hook["checks"][0]["id"] == "default.regexMatch" and hook["checks"][0]["verdict"] is False
    assert body["hook_results"]["after_request_hooks"] == []
    assert upstream(simulator, model) == []
    assert_secret_nowhere(gateway, response.headers["x-request-id"], "secret-4242",
                          tables=("guardrail_results", "spans"))


def test_portkey_non_deny_failure_is_246_with_hook_results(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("pk246")
    portkey = {"provider": "sim", "override_params": {"model": model},
               "input_guardrails": [{"default.regexMatch": {"rule": "secret-[0-9]+", "not": True}, "deny": False}],
               "output_guardrails": [{"default.wordCount": {"minWords": 1, "maxWords": 400}}]}
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portkey-config": json.dumps(portkey)},
                          json={"model": "x", "messages": [{"role": "user", "content": "echo: secret-77 ok"}]},
                          timeout=10)
    assert response.status_code == 246, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "secret-77 ok"
    assert body["hook_results"]["before_request_hooks"][0]["verdict"] is False
    assert body["hook_results"]["after_request_hooks"][0]["verdict"] is True
    with openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model="x", messages=[{"role": "user", "content": "echo: secret-78"}],
                                            extra_headers={"x-portkey-config": json.dumps(portkey)})
    assert reply.choices[0].message.content == "secret-78"  # a 2xx: the SDK reads it as a normal answer


def test_portkey_all_pass_is_200_with_hook_results(gateway, simulator) -> None:  # type: ignore[no-untyped-def]
    model = unique("pk200")
    portkey = {"provider": "sim", "override_params": {"model": model},
               "input_guardrails": [{"default.regexMatch": {"rule": "secret-[0-9]+", "not": True}, "deny": True}]}
    response = httpx.post(f"{gateway.base_url}/chat/completions", headers={"x-portkey-config": json.dumps(portkey)},
                          json={"model": "x", "messages": [{"role": "user", "content": "echo: harmless"}]},
                          timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["hook_results"]["before_request_hooks"][0]["verdict"] is True


# --- server defaults and output_deny: error ----------------------------------------------------------------------


def test_server_default_chains_and_output_deny_error(simulator, chdb_dsn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    extra = """
guardrails:
  output_deny: error
  input:
    - {id: regex, action: deny, params: {patterns: ["FORBIDDEN-[0-9]+"]}}
  output:
    - {id: pii, action: deny, params: {entities: [EMAIL_ADDRESS]}}
"""
    settings = parse_settings(settings_text(simulator.base_url, chdb_dsn, tmp_path, extra))
    model = unique("srv")
    with running_gateway(settings) as gateway, \
            openai.OpenAI(base_url=gateway.base_url, api_key="x", max_retries=0) as sdk:
        with pytest.raises(openai.BadRequestError) as denied:
            sdk.chat.completions.create(model=f"sim/{model}",
                                        messages=[{"role": "user", "content": "echo: FORBIDDEN-12"}])
        assert denied.value.response.json()["error"]["code"] == "content_filter"
        assert upstream(simulator, model) == []
        with pytest.raises(openai.APIStatusError) as withheld:
            sdk.chat.completions.create(model=f"sim/{model}", messages=[{"role": "user", "content": f"echo: {EMAIL}"}])
        assert withheld.value.response.json()["error"]["code"] == "content_filter"
        assert EMAIL not in withheld.value.response.text
        clean = sdk.chat.completions.create(model=f"sim/{model}", messages=[{"role": "user", "content": "echo: fine"}])
        assert clean.choices[0].message.content == "fine"
        stream = sdk.chat.completions.create(model=f"sim/{model}", stream=True,
                                             messages=[{"role": "user", "content": f"echo: to {EMAIL}"}])
        with pytest.raises(openai.APIError) as stream_error:
            for chunk in stream:
                assert EMAIL not in chunk.model_dump_json()
        assert "output guardrails" in str(stream_error.value)
