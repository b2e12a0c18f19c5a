"""Where a config comes from: header, named id, key default, alias, default_config, implicit; start-up validation."""

from __future__ import annotations

from typing import Any

import pytest
from routing_testkit import adapters, make_resolver, make_settings, raises_config_error

from gateway.errors import ConfigError
from gateway.routing.resolve import RouteResolver, json_nesting, validate_settings_configs
from schemas.settings import PolicySettings

NAMED = {
    "pc-support-bot": {
        "strategy": {"mode": "fallback"},
        "targets": [{"provider": "openai"}, {"provider": "groq", "model": "llama-3.1-8b-instant"}],
    },
    "pc-retry-only": {"retry": {"attempts": 2}},
    "pc-default": {"provider": "groq"},
}
ALIASES = {"fast": {"provider": "groq", "override_params": {"model": "llama-3.1-8b-instant"}}}


def _resolver(**overrides: Any) -> RouteResolver:
    fields: dict[str, Any] = {"configs": NAMED, "aliases": ALIASES}
    fields.update(overrides)
    return make_resolver(make_settings(**fields))


def test_routing_header_named_id_and_precedence() -> None:
    resolver = _resolver(default_config="pc-default")
    plan = resolver.resolve(model="gpt-4o", header_value="pc-support-bot", key_config_id="pc-default")
    assert plan.config_id == "pc-support-bot"
    assert [leaf.target.model for leaf in plan.leaves()] == ["gpt-4o", "llama-3.1-8b-instant"]
    assert resolver.resolve(model="gpt-4o", key_config_id="pc-support-bot").config_id == "pc-support-bot"
    alias = resolver.resolve(model="fast", key_config_id=None)
    assert alias.config_id == "fast" and alias.leaves()[0].target.model == "llama-3.1-8b-instant"
    default = resolver.resolve(model="gpt-4o")
    assert default.config_id == "pc-default" and default.leaves()[0].target.name == "groq"
    inline = resolver.resolve(model="gpt-4o", header_value=' {"provider": "openai"} ', key_config_id="pc-default")
    assert inline.config_id == "inline" and not inline.portkey_form


def test_routing_config_without_target_uses_implicit_provider() -> None:
    plan = _resolver().resolve(model="anthropic/claude-3-5-haiku", header_value="pc-retry-only")
    leaf = plan.leaves()[0]
    assert (leaf.target.name, leaf.target.model, leaf.retry.retries) == ("anthropic-main", "claude-3-5-haiku", 2)


@pytest.mark.parametrize(
    ("model", "provider", "upstream"),
    [
        ("anthropic/claude-3-5-haiku", "anthropic-main", "claude-3-5-haiku"),  # adapter id prefix
        ("groq/llama-3.1-8b-instant", "groq", "llama-3.1-8b-instant"),  # registered name prefix
        ("azure-openai/gpt-4o", "azure-openai", "gpt-4o"),
        ("llama-3.1-8b-instant", "groq", "llama-3.1-8b-instant"),  # listed by a provider
        ("gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("meta-llama/Llama-3-8b", "openai", "meta-llama/Llama-3-8b"),  # unknown prefix: first provider, unchanged
        ("something-else", "openai", "something-else"),
    ],
)
def test_routing_implicit_targets(model: str, provider: str, upstream: str) -> None:
    plan = make_resolver().resolve(model=model)
    leaf = plan.leaves()[0]
    assert plan.config_id == "implicit" and leaf.path == ""
    assert (leaf.target.name, leaf.target.model) == (provider, upstream)


def test_routing_unknown_named_config_and_disabled_inline() -> None:
    error = raises_config_error(lambda: _resolver().resolve(model="m", header_value="pc-nope"))
    assert "pc-nope" in error.message
    error = raises_config_error(lambda: _resolver().resolve(model="m", key_config_id="pc-gone"))
    assert "pc-gone" in error.message
    closed = make_resolver(make_settings(policy=PolicySettings(allow_inline_configs=False)))
    error = raises_config_error(lambda: closed.resolve(model="m", header_value='{"provider": "openai"}'))
    assert "inline configs are disabled" in error.message


def test_routing_no_model_anywhere_is_a_400() -> None:
    error = raises_config_error(lambda: make_resolver().resolve(model=None, header_value='{"provider": "openai"}'))
    assert "no model" in error.message


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (
            {"configs": {"pc-bad": {"provider": "openai", "retry": {"attempts": 1, "on": [1]}}}},
            "configs.pc-bad: invalid config: retry.on: unknown field",
        ),
        (
            {"configs": {"pc-bad": {"provider": "mystery"}}},
            "configs.pc-bad: invalid config: provider: unknown provider",
        ),
        ({"aliases": {"fast": {"provider": "groq"}}}, "aliases.fast.override_params.model"),
        ({"default_config": "pc-missing"}, "default_config"),
    ],
)
def test_routing_settings_configs_validated_at_startup(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_settings_configs(make_settings(**fields), adapters())
    assert fragment in caught.value.message


def test_routing_settings_with_unknown_adapter_fail() -> None:
    settings = make_settings()
    with pytest.raises(ConfigError, match="unknown adapter"):
        validate_settings_configs(settings, {"openai": adapters()["openai"]})


def test_routing_json_nesting_ignores_strings() -> None:
    brackets = b"[{" * 40
    assert json_nesting(b'{"a": "' + brackets + b'", "b": [[1]]}') == 3
    assert json_nesting(b'{"a": "\\"' + brackets + b'"}') == 1
    assert json_nesting(b"[" * 40 + b"]" * 40) == 40
    assert json_nesting(b'{"a": [1]}') <= 32
