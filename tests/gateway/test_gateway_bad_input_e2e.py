"""Bad input never yields a 500 or a traceback: a corpus of malformed bodies and headers, each a 4xx in the
OpenAI error shape; and the logging policy a caller may lower per request."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from gateway_harness import running_gateway

from gateway.settings import parse_settings


def _nested(depth: int) -> list:  # type: ignore[type-arg]
    value: list = []  # type: ignore[type-arg]
    for _ in range(depth):
        value = [value]
    return value


GOOD = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "echo: ok"}]}


@pytest.fixture(scope="module")
def gateway(simulator, chdb_dsn, tmp_path_factory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("badinput")
    text = f"""
providers:
  sim: {{adapter: openai, base_url: "{simulator.base_url}/v1", api_key: sk-bad-input, models: [gpt-4o-mini]}}
server: {{max_body_bytes: 200000}}
store: {{dsn: "{chdb_dsn}", database: bad_input_e2e, spool_dir: "{tmp}/spool", flush_interval_ms: 100}}
"""
    with running_gateway(parse_settings(text)) as running:
        yield running


BAD_BODIES: list[bytes] = [
    b"", b"null", b"[]", b'"text"', b"42", b"{", b'{"model": }', b"\xff\xfe\x00garbage",
    json.dumps({"messages": []}).encode(),
    json.dumps({"model": 5, "messages": []}).encode(),
    json.dumps({"model": "gpt-4o-mini", "messages": "hi"}).encode(),
    json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": {"a": 1}}]}).encode(),
    json.dumps({"model": "gpt-4o-mini", "messages": [{"content": "no role"}]}).encode(),
    json.dumps({**GOOD, "stream": "yes"}).encode(),
    json.dumps({**GOOD, "max_tokens": "many"}).encode(),
    json.dumps({**GOOD, "temperature": [1]}).encode(),
    b'{"model": "x", "messages": [], "n": 1e999}',
    ("[" * 5000 + "]" * 5000).encode(),
    json.dumps({**GOOD, "deep": _nested(70)}).encode(),
    b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\\ud800"}]}',
]
BAD_HEADERS: list[dict[str, str]] = [
    {"x-portcullis-config": "{not json"},
    {"x-portcullis-config": "pc-does-not-exist"},
    {"x-portcullis-config": json.dumps({"targets": "nope"})},
    {"x-portcullis-config": "x" * 9000},
    {"x-portcullis-metadata": "[1,2]"},
    {"x-portcullis-metadata": "{broken"},
    {"x-portcullis-metadata": json.dumps({"k": {"nested": 1}})},
    {"x-portcullis-metadata": json.dumps({"k": "v" * 5000})},
    {"authorization": "Basic abc"},
    {"authorization": "Bearer"},
    {"x-portcullis-log": "loud"},
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_are_4xx_in_openai_shape(gateway, body: bytes) -> None:  # type: ignore[no-untyped-def]
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages"):
        response = httpx.post(f"{gateway.root_url}{path}", content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        error = response.json()["error"]
        assert error["message"] and "Traceback" not in response.text


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=range(len(BAD_HEADERS)))
def test_bad_headers_are_4xx_in_openai_shape(gateway, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(f"{gateway.base_url}/chat/completions", json=GOOD, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["error"]["message"]


def test_wrong_methods_and_routes(gateway) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{gateway.base_url}/chat/completions").status_code == 405
    assert httpx.delete(f"{gateway.base_url}/models").status_code == 405
    missing = httpx.post(f"{gateway.base_url}/completions/legacy", json=GOOD)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_request_may_lower_but_not_raise_its_logging_policy(gateway) -> None:  # type: ignore[no-untyped-def]
    ids = {}
    for policy in ("metadata", "off", "full"):
        response = httpx.post(f"{gateway.base_url}/chat/completions", json=GOOD, headers={"x-portcullis-log": policy})
        assert response.status_code == 200
        ids[policy] = response.headers["x-request-id"]
    store, writer = gateway.services.store, gateway.services.writer
    deadline = time.monotonic() + 15
    rows: list = []
    while time.monotonic() < deadline:
        writer.flush_now()
        rows = store.query("SELECT request_id, log_policy, length(request_body) FROM requests WHERE request_id IN "
                           "({ids:Array(String)})", {"ids": list(ids.values())})
        if len(rows) >= 2:
            break
        time.sleep(0.1)
    by_id = {row[0]: row[1:] for row in rows}
    assert by_id[ids["metadata"]] == ("metadata", 0)
    assert ids["off"] not in by_id  # not recorded, not billed
    assert by_id[ids["full"]][0] == "full" and by_id[ids["full"]][1] > 0
