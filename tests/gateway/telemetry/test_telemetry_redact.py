"""The redactor: canary secrets in headers, URLs, provider errors and JSON bodies never survive."""

from __future__ import annotations

import json
import time

from gateway.telemetry.redact import REDACTED, Redactor, is_sensitive_header, truncate

PROVIDER_KEY = "sk-proj-CANARYprovider0123456789abcdefXYZ"
ADMIN_TOKEN = "pc-admin-CANARY-7f3a9b2c"
VIRTUAL_KEY = "pck_CANARYvirtual_5d1e8f"
OPAQUE = "canary-opaque-credential-Q1w2E3"


def _redactor() -> Redactor:
    return Redactor([PROVIDER_KEY, ADMIN_TOKEN, "", "short"])


def test_telemetry_headers_are_redacted() -> None:
    headers = {
        "Authorization": f"Bearer {VIRTUAL_KEY}",
        "x-api-key": OPAQUE,
        "api-key": OPAQUE,
        "X-Goog-Api-Key": OPAQUE,
        "Proxy-Authorization": f"Basic {OPAQUE}",
        "Cookie": f"session={OPAQUE}",
        "Set-Cookie": f"sid={OPAQUE}",
        "x-custom-token": OPAQUE,
        "X-Client-Secret": OPAQUE,
        "x-db-password": OPAQUE,
        "x-trace-note": f"called with {PROVIDER_KEY} and {VIRTUAL_KEY}",
        "content-type": "application/json",
        "x-portcullis-metadata": '{"team":"search"}',
    }
    safe = _redactor().redact_headers(headers, extra_secrets=[VIRTUAL_KEY])
    text = json.dumps(safe)
    for canary in (PROVIDER_KEY, VIRTUAL_KEY, OPAQUE, ADMIN_TOKEN):
        assert canary not in text
    assert safe["Authorization"] == REDACTED
    assert safe["x-trace-note"] == f"called with {REDACTED} and {REDACTED}"
    assert safe["content-type"] == "application/json"
    assert safe["x-portcullis-metadata"] == '{"team":"search"}'
    assert is_sensitive_header("X-API-KEY") and not is_sensitive_header("accept")


def test_telemetry_urls_are_redacted() -> None:
    redactor = _redactor()
    url = (f"https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?key={OPAQUE}"
           f"&alt=sse&api_key={OPAQUE}&access_token={OPAQUE}&token={OPAQUE}&sig={OPAQUE}")
    safe = redactor.redact_url(url)
    assert OPAQUE not in safe
    assert "alt=sse" in safe and "key=%5BREDACTED%5D" not in safe and f"key={REDACTED}" in safe
    assert redactor.redact_url(f"https://user:{OPAQUE}@host/path") == f"https://user:{REDACTED}@host/path"
    assert redactor.redact_url(f"https://host/p?q={ADMIN_TOKEN}") == f"https://host/p?q={REDACTED}"
    plain = "https://api.openai.com/v1/chat/completions"
    assert redactor.redact_url(plain) is plain


def test_telemetry_provider_error_bodies_and_free_text() -> None:
    redactor = _redactor()
    error = (f'{{"error": {{"message": "Incorrect API key provided: {PROVIDER_KEY}. '
             f'You can find your API key at https://platform.openai.com", "type": "invalid_request_error"}}}}')
    assert PROVIDER_KEY not in redactor.redact_json_text(error)
    # A credential we were never told about is still caught by its shape.
    unknown = "sk-ant-api03-" + "Z" * 40
    google = "AIza" + "B" * 35
    text = redactor.redact_text(f"keys {unknown} {google} and Authorization: Bearer abcdefgh12345678")
    assert unknown not in text and google not in text and "abcdefgh12345678" not in text


def test_telemetry_json_bodies_are_redacted() -> None:
    body = json.dumps({
        "model": "gpt-4o",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": f"my admin token is {ADMIN_TOKEN}"}],
        "api_key": OPAQUE,
        "nested": {"apiKey": OPAQUE, "Authorization": OPAQUE, "password": OPAQUE, "client_secret": OPAQUE,
                   "token": OPAQUE, "refresh_token": OPAQUE, "x-api-key": OPAQUE},
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
        "logprobs": {"content": [{"token": "Hello", "logprob": -0.1, "bytes": [72]}]},
    })
    safe = _redactor().redact_json_text(body, extra_secrets=[VIRTUAL_KEY])
    assert OPAQUE not in safe and ADMIN_TOKEN not in safe
    decoded = json.loads(safe)
    assert decoded["api_key"] == REDACTED
    assert set(decoded["nested"].values()) == {REDACTED}
    assert decoded["max_tokens"] == 100 and decoded["usage"]["total_tokens"] == 12
    assert decoded["logprobs"]["content"][0]["token"] == "Hello"
    assert decoded["messages"][0]["content"] == f"my admin token is {REDACTED}"
    # Truncated (invalid) JSON is still redacted, and formatting is kept.
    tail = '", "messages": [{"role": "user", "content": "hel'
    cut = '{"password" : "' + OPAQUE + tail
    assert _redactor().redact_json_text(cut) == '{"password" : "' + REDACTED + tail


def test_telemetry_fast_path_returns_input_unchanged() -> None:
    redactor = _redactor()
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello " * 2000}]})
    assert redactor.redact_json_text(body) is body
    assert redactor.scrub(body) is body
    assert Redactor([]).scrub("anything") == "anything"
    started = time.perf_counter()
    for _ in range(200):
        redactor.redact_json_text(body)
    per_call_us = (time.perf_counter() - started) / 200 * 1e6
    print(f"redact_json_text on a {len(body)} byte clean body: {per_call_us:.1f} us")
    assert per_call_us < 5000


def test_telemetry_truncate_marks_and_respects_utf8() -> None:
    assert truncate("short", 100) == "short"
    text = "é" * 1000  # 2000 bytes
    cut = truncate(text, 100)
    assert len(cut.encode()) <= 100 and cut.startswith("é") and "truncated" in cut
    assert cut.endswith("bytes]")
    assert Redactor.truncate("x" * 10, 10) == "x" * 10
    assert len(truncate("a" * 10_000, 64).encode()) <= 64
