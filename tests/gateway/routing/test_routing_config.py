"""Config model and compilation: Portkey examples, inheritance, strictness, caps and clamps."""

from __future__ import annotations

import json

import pytest
from portkey_examples import PORTKEY_EXAMPLE_A, PORTKEY_EXAMPLE_B
from routing_testkit import make_resolver, raises_config_error

from gateway.routing.plan import Group, Leaf

EXAMPLE_A, EXAMPLE_B = PORTKEY_EXAMPLE_A, PORTKEY_EXAMPLE_B



def test_routing_example_a_resolves_unchanged() -> None:
    plan = make_resolver().resolve(model="gpt-4o", header_value=EXAMPLE_A, portkey_header=True)
    assert plan.config_id == "inline" and plan.portkey_form
    assert isinstance(plan.root, Group) and plan.root.mode == "fallback"
    assert plan.root.on_status_codes == frozenset({408, 429, 446, 500, 502, 503, 504})
    openai, azure, anthropic = plan.leaves()
    assert (openai.path, azure.path, anthropic.path) == ("targets[0].targets[0]", "targets[0].targets[1]", "targets[1]")
    assert openai.target.model == "gpt-4o-mini" and openai.weight == 0.7
    assert openai.target.api_key == "secret-of-OPENAI_KEY"  # the caller's "sk-…" is ignored
    assert azure.target.deployment == "gpt4o-mini" and azure.target.api_version == "2024-06-01"
    assert azure.target.base_url == "https://res.openai.azure.com/openai"  # resource_name ignored
    assert azure.target.model == "gpt-4o"  # no override: the request's model
    assert anthropic.target.name == "anthropic-main"  # Portkey id mapped to the provider with that adapter
    assert anthropic.override_params == {"model": "claude-3-5-sonnet-latest", "max_tokens": 1024}
    for leaf in (openai, azure, anthropic):
        assert leaf.retry.retries == 3 and leaf.timeout_s == 30.0
        assert leaf.cache is not None and leaf.cache.max_age_s == 600.0  # Portkey form: ms
        assert len(leaf.input_guardrails) == 1 and len(leaf.output_guardrails) == 1


def test_routing_example_b_resolves_unchanged() -> None:
    plan = make_resolver().resolve(model="gpt-4o", header_value=EXAMPLE_B, portkey_header=True)
    assert isinstance(plan.root, Group) and plan.root.mode == "conditional"
    assert [leaf.target.model for leaf in plan.leaves()] == ["gpt-4o", "llama-3.1-8b-instant"]
    assert plan.root.pick_conditional({"plan": "paid"}, {"model": "x"}) == 0
    assert plan.root.pick_conditional({"env": "dev"}, {"model": "gpt-4o"}) == 1
    assert plan.root.pick_conditional({"env": "prod"}, {"model": "gpt-4o"}) == 1  # default


def test_routing_max_age_unit_rule() -> None:
    resolver = make_resolver()
    config = json.dumps({"provider": "openai", "cache": {"max_age": 600}})
    native = resolver.resolve(model="m", header_value=config).leaves()[0]
    portkey = resolver.resolve(model="m", header_value=config, portkey_header=True).leaves()[0]
    assert native.cache and native.cache.max_age_s == 600.0
    assert portkey.cache and portkey.cache.max_age_s == 0.6
    for text, seconds in (("10m", 600.0), ("600000ms", 600.0), ("2h", 7200.0), ("90s", 90.0)):
        config = json.dumps({"provider": "openai", "cache": {"max_age": text}})
        leaf = resolver.resolve(model="m", header_value=config, portkey_header=True).leaves()[0]
        assert leaf.cache and leaf.cache.max_age_s == seconds


def test_routing_inheritance_child_wins() -> None:
    config = {
        "retry": {"attempts": 2},
        "request_timeout": 5000,
        "override_params": {"temperature": 0.1, "response_format": {"type": "json_object", "x": 1}},
        "input_guardrails": [{"a": 1}],
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "openai", "retry": {"attempts": 0}, "override_params": {"response_format": {"x": 2}}},
            {"provider": "groq", "request_timeout": 1000, "input_guardrails": [], "model": "llama-3.1-8b-instant"},
        ],
    }
    first, second = make_resolver().resolve(model="gpt-4o", header_value=json.dumps(config)).leaves()
    assert first.retry.retries == 0 and second.retry.retries == 2
    assert first.timeout_s == 5.0 and second.timeout_s == 1.0
    assert first.override_params == {"temperature": 0.1, "response_format": {"type": "json_object", "x": 2}}
    assert second.target.model == "llama-3.1-8b-instant"
    assert first.input_guardrails == ({"a": 1},) and second.input_guardrails == ()
    body = first.apply_overrides({"model": "gpt-4o", "messages": [], "temperature": 1})
    assert body["temperature"] == 0.1 and body["model"] == "gpt-4o"


def test_routing_unknown_field_names_path() -> None:
    config = '{"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}, {"provider": "groq", "urll": 1}]}'
    error = raises_config_error(lambda: make_resolver().resolve(model="m", header_value=config))
    assert error.param == "targets[1].urll"
    assert "targets[1].urll: unknown field" in error.message


def test_routing_bad_type_names_path() -> None:
    config = '{"provider": "openai", "retry": {"attempts": "many"}}'
    error = raises_config_error(lambda: make_resolver().resolve(model="m", header_value=config))
    assert error.param == "retry.attempts"


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"provider": "nope"}, "provider"),
        (
            {"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}, {"provider": "x"}]},
            "targets[1].provider",
        ),
        (
            {"strategy": {"mode": "conditional", "default": "ghost"}, "targets": [{"provider": "openai", "name": "a"}]},
            "strategy.default",
        ),
        (
            {
                "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.a": 1}, "then": "zz"}]},
                "targets": [{"provider": "openai", "name": "a"}],
            },
            "strategy.conditions[0].then",
        ),
        ({"provider": "openai", "custom_host": "http://169.254.169.254"}, "custom_host"),
        ({"provider": "openai", "forward_headers": ["authorization"]}, "forward_headers"),
        ({"provider": "azure-openai", "deployment_id": "evil.com#"}, "deployment_id"),
        ({"provider": "openai", "cache": {"max_age": "soon"}}, "cache.max_age"),
        (
            {
                "strategy": {"mode": "fallback"},
                "targets": [{"provider": "openai"}, {"provider": "groq"}],
                "provider": "x",
            },
            "provider",
        ),
        ({"targets": [{"provider": "openai"}, {"provider": "groq"}]}, "strategy"),
        ({"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "weight": 0}]}, "targets"),
        ({"strategy": {"mode": "fallback"}, "targets": []}, "targets"),
        (
            {
                "strategy": {"mode": "fallback"},
                "targets": [{"name": "a", "provider": "openai"}, {"name": "a", "provider": "groq"}],
            },
            "targets[1].name",
        ),
        ({"provider": "openai", "model": "a", "override_params": {"model": "b"}}, "model"),
        ({"provider": "openai", "strategy": {"mode": "single"}}, "strategy"),
    ],
)
def test_routing_bad_configs_name_the_field(config: dict[str, object], param: str) -> None:
    error = raises_config_error(lambda: make_resolver().resolve(model="m", header_value=json.dumps(config)))
    assert error.param == param, error.message
    assert param in error.message


def test_routing_custom_host_equal_to_registered_url_is_accepted() -> None:
    config = {"provider": "openai", "custom_host": "https://api.openai.com/v1/"}
    assert make_resolver().resolve(model="m", header_value=json.dumps(config)).leaves()[0].target.name == "openai"


def test_routing_api_key_only_with_passthrough_auth() -> None:
    resolver = make_resolver()
    plain = resolver.resolve(model="m", header_value='{"provider": "openai", "api_key": "sk-caller"}').leaves()[0]
    assert plain.target.api_key == "secret-of-OPENAI_KEY" and not plain.passthrough_auth
    byok = resolver.resolve(model="m", header_value='{"provider": "byok", "api_key": "sk-caller"}').leaves()[0]
    assert byok.target.api_key == "sk-caller" and byok.passthrough_auth


def _nested(levels: int) -> dict[str, object]:
    node: dict[str, object] = {"provider": "openai"}
    for _ in range(levels):
        node = {"strategy": {"mode": "single"}, "targets": [node]}
    return node


def test_routing_depth_and_size_caps() -> None:
    resolver = make_resolver(max_depth=3, max_targets=4)
    assert resolver.resolve(model="m", header_value=json.dumps(_nested(3))).leaves()
    error = raises_config_error(lambda: resolver.resolve(model="m", header_value=json.dumps(_nested(4))))
    assert "deeper than 3" in error.message
    many = {"strategy": {"mode": "fallback"}, "targets": [{"provider": "openai"}] * 5}
    error = raises_config_error(lambda: resolver.resolve(model="m", header_value=json.dumps(many)))
    assert error.param == "targets" and "more than 4 targets" in error.message
    huge = json.dumps({"provider": "openai", "metadata": {"pad": "x" * 9000}})
    error = raises_config_error(lambda: resolver.resolve(model="m", header_value=huge))
    assert "larger than 8192 bytes" in error.message
    bomb = '{"provider": "openai", "override_params": {"a": ' + "[" * 100 + "]" * 100 + "}}"
    error = raises_config_error(lambda: resolver.resolve(model="m", header_value=bomb))
    assert "nested deeper" in error.message


def test_routing_attempts_and_timeouts_are_clamped() -> None:
    resolver = make_resolver(max_attempts=2, max_request_timeout_ms=10_000)
    config = {"provider": "openai", "retry": {"attempts": 9}, "request_timeout": 999_999}
    plan = resolver.resolve(model="m", header_value=json.dumps(config))
    leaf = plan.leaves()[0]
    assert isinstance(leaf, Leaf) and leaf.retry.retries == 2 and leaf.timeout_s == 10.0
    assert plan.adjustments == ("retry.attempts 9 -> 2", "request_timeout 999999 -> 10000")


def test_routing_bad_regex_is_rejected() -> None:
    for pattern in ("(?=lookahead)", "(a)\\1", "[unclosed"):
        config = {
            "strategy": {
                "mode": "conditional",
                "default": "a",
                "conditions": [{"query": {"params.model": {"$regex": pattern}}, "then": "a"}],
            },
            "targets": [{"name": "a", "provider": "openai"}],
        }
        error = raises_config_error(lambda c=config: make_resolver().resolve(model="m", header_value=json.dumps(c)))
        assert error.param == "strategy.conditions[0].query.params.model.$regex"
        assert "regex" in error.message
