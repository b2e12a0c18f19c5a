"""Every registered provider against its wire fixtures: request building, response parsing, streams, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from gateway.errors import InvalidRequest, ProviderError, ProviderStreamError
from gateway.providers.base import Provider, ProviderTarget, StreamEvent, TokenUsage
from gateway.providers.registry import discover

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
SECRET = "sk-fixture-secret-0001"
REQUIRED_KINDS = {"chat_request", "chat_response", "stream", "error"}
PROVIDERS = discover()


def _fixtures() -> list[tuple[str, Path]]:
    return [(pid, path) for pid in sorted(PROVIDERS) for path in sorted((FIXTURES / pid).glob("*.json"))]


def _target(provider: Provider, spec: dict[str, Any]) -> ProviderTarget:
    fields = {
        "name": f"{provider.id}-test",
        "adapter": provider.id,
        "base_url": provider.default_base_url,
        "api_key": SECRET,
    }
    fields.update(spec)
    fields["extra_headers"] = tuple(tuple(pair) for pair in fields.get("extra_headers", ()))
    return msgspec.convert(fields, ProviderTarget)


def _raw(body: Any) -> bytes:
    return body.encode() if isinstance(body, str) else json.dumps(body).encode()


def _without_created(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "created"}
    return value


def _usage(expected: dict[str, int] | None) -> TokenUsage | None:
    return None if expected is None else TokenUsage(**expected)


def _frames(data: bytes) -> list[Any]:
    """Split OpenAI SSE bytes into decoded chunk objects (or the literal "[DONE]")."""
    frames = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        assert block.startswith("data: "), block
        payload = block[len("data: ") :]
        frames.append(payload if payload == "[DONE]" else _without_created(json.loads(payload)))
    return frames


def _run_stream(provider: Provider, target: ProviderTarget, fixture: dict[str, Any], split: str) -> list[StreamEvent]:
    decoder = provider.chat_stream(target, include_usage=fixture.get("include_usage", False))
    raw = "".join(fixture["upstream_events"]).encode()
    if split == "event":
        pieces = [event.encode() for event in fixture["upstream_events"]]
    elif split == "bytes7":
        pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    else:
        pieces = [raw]
    events: list[StreamEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events


def check_chat_request(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    stream = fixture.get("stream", False)
    if "expect_error" in fixture:
        with pytest.raises(InvalidRequest) as caught:
            provider.chat_request(fixture["openai_body"], target, stream=stream)
        assert caught.value.http_status == fixture["expect_error"]["status"]
        assert caught.value.param == fixture["expect_error"]["param"]
        return
    request = provider.chat_request(fixture["openai_body"], target, stream=stream)
    expect = fixture["expect"]
    assert request.method == "POST"
    assert request.url == expect["url"]
    assert SECRET not in request.url
    for name, value in expect["headers"].items():
        assert request.headers.get(name) == value, name
    assert json.loads(request.content) == expect["body"]


def check_chat_response(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    result = provider.chat_response(_raw(fixture["upstream_body"]), target)
    expect = fixture["expect"]
    if "body" in expect:
        assert _without_created(json.loads(result.body)) == _without_created(expect["body"])
    assert result.finish_reasons == expect["finish_reasons"]
    assert result.response_id == expect["response_id"]
    assert result.response_model == expect["response_model"]
    assert result.usage == _usage(expect.get("usage"))


def check_stream(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    if "expect_error" in fixture:
        for split in ("event", "bytes7", "whole"):
            with pytest.raises(ProviderStreamError) as caught:
                _run_stream(provider, target, fixture, split)
            expected = fixture["expect_error"]
            assert expected["message_contains"] in caught.value.message
            if "error_type" in expected:
                assert caught.value.error_type == expected["error_type"]
            assert SECRET not in caught.value.message
        return
    outcomes = [_run_stream(provider, target, fixture, split) for split in ("event", "bytes7", "whole")]
    expect = fixture["expect"]
    for events in outcomes:
        frames = _frames(b"".join(e.data for e in events))
        assert frames == [_without_created(c) for c in expect["chunks"]]
        assert "".join(e.text for e in events) == expect["text"]
        finishes = [e.finish_reason for e in events if e.finish_reason]
        assert (finishes[-1] if finishes else None) == expect["finish_reason"]
        usages = [e.usage for e in events if e.usage is not None]
        assert (usages[-1] if usages else None) == _usage(expect.get("usage"))
        assert any(e.done for e in events) == expect["done"]
        ids = [e.response_id for e in events if e.response_id]
        if "response_id" in expect:
            assert ids and ids[0] == expect["response_id"]
        models = [e.response_model for e in events if e.response_model]
        if "response_model" in expect:
            assert models and models[0] == expect["response_model"]


def check_error(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    error = provider.error(fixture["status"], _raw(fixture["upstream_body"]), fixture["headers"], target)
    expect = fixture["expect"]
    assert isinstance(error, ProviderError)
    assert error.http_status == expect["status"]
    assert error.error_type == expect["error_type"]
    assert error.error_code == expect["code"]
    assert error.retry_after_s == expect["retry_after_s"]
    assert expect["message_contains"] in error.message
    assert SECRET not in error.message
    assert SECRET not in str(error)


def check_embeddings_request(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    if "expect_error" in fixture:
        with pytest.raises(InvalidRequest) as caught:
            provider.embeddings_request(fixture["openai_body"], target)
        assert caught.value.http_status == fixture["expect_error"]["status"]
        assert caught.value.param == fixture["expect_error"]["param"]
        return
    request = provider.embeddings_request(fixture["openai_body"], target)
    expect = fixture["expect"]
    assert request.url == expect["url"]
    assert SECRET not in request.url
    for name, value in expect["headers"].items():
        assert request.headers.get(name) == value, name
    assert json.loads(request.content) == expect["body"]


def check_embeddings_response(provider: Provider, target: ProviderTarget, fixture: dict[str, Any]) -> None:
    result = provider.embeddings_response(_raw(fixture["upstream_body"]), target)
    expect = fixture["expect"]
    assert json.loads(result.body) == expect["body"]
    assert result.response_model == expect["response_model"]
    assert result.usage == _usage(expect.get("usage"))


CHECKS = {
    "chat_request": check_chat_request,
    "chat_response": check_chat_response,
    "stream": check_stream,
    "error": check_error,
    "embeddings_request": check_embeddings_request,
    "embeddings_response": check_embeddings_response,
}


@pytest.mark.parametrize(("provider_id", "path"), _fixtures(), ids=lambda v: v.stem if isinstance(v, Path) else v)
def test_provider_matches_wire_fixture(provider_id: str, path: Path) -> None:
    fixture = json.loads(path.read_text())
    provider = PROVIDERS[provider_id]
    check = CHECKS[fixture["kind"]]
    target = _target(provider, fixture["target"])
    if not fixture.get("known_gap"):
        check(provider, target, fixture)
        return
    try:
        check(provider, target, fixture)
    except AssertionError:
        pytest.xfail(fixture["known_gap"])
    pytest.fail(f"known gap is fixed, remove `known_gap` from {path.name}: {fixture['known_gap']}")


@pytest.mark.parametrize("provider_id", sorted(PROVIDERS))
def test_every_registered_provider_has_fixtures_for_each_operation(provider_id: str) -> None:
    kinds = {json.loads(p.read_text())["kind"] for p in (FIXTURES / provider_id).glob("*.json")}
    assert kinds >= REQUIRED_KINDS, f"{provider_id} lacks fixtures for {REQUIRED_KINDS - kinds}"


def test_fixture_folders_name_registered_providers() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders <= set(PROVIDERS)
