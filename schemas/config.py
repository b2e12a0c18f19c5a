"""The routing config (header, named configs, aliases): a strict recursive target tree, Portkey-compatible."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

StatusCode = Annotated[int, msgspec.Meta(ge=100, le=599)]
StrategyMode = Literal["single", "fallback", "loadbalance", "conditional"]
LogPolicy = Literal["full", "metadata", "off"]
StreamOutputMode = Literal["buffer", "incremental", "post"]  # same values as schemas.guardrails.StreamOutputMode

DEFAULT_RETRY_STATUS_CODES: tuple[int, ...] = (429, 500, 502, 503, 504)


class _Strict(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for config types: strict, immutable, keyword-only."""


class Condition(_Strict):
    """One conditional-routing rule: when `query` matches the request, route to the target named `then`."""

    query: dict[str, Any]  # {"metadata.plan": {"$eq": "paid"}}, {"$and": [...]}, {"params.model": "gpt-4o"}
    then: str


class Strategy(_Strict):
    """How a node with `targets` picks among them."""

    mode: StrategyMode
    on_status_codes: list[StatusCode] | None = None  # fallback: only these failure statuses move on
    conditions: list[Condition] | None = None  # conditional: first match wins
    default: str | None = None  # conditional: target name used when no condition matches


class Retry(_Strict):
    """Retries inside one leaf target; `attempts` counts retries after the first call (Portkey semantics)."""

    attempts: Annotated[int, msgspec.Meta(ge=0)]
    on_status_codes: list[StatusCode] = msgspec.field(default_factory=lambda: list(DEFAULT_RETRY_STATUS_CODES))
    use_retry_after_header: bool = True  # Portkey's default is false; ours honours Retry-After (capped by policy)


class Cache(_Strict):
    """Exact-match response cache; `max_age` is a number (unit: see docs/config.md) or "600s"/"10m"."""

    mode: Literal["simple"] = "simple"
    max_age: float | str | None = None


class Logging(_Strict):
    """What is recorded for requests routed by this config."""

    policy: LogPolicy = "full"


class ConfigNode(_Strict):
    """A routing config: a group (`strategy` + `targets`, nested to any depth) or a leaf (`provider`)."""

    # tree
    strategy: Strategy | None = None
    targets: list[ConfigNode] | None = None
    name: str | None = None  # label used by conditional routing (`then`, `default`)
    weight: Annotated[float, msgspec.Meta(ge=0)] | None = None  # loadbalance weight, default 1
    # leaf: which operator-registered provider (its name, or a Portkey provider id such as "openai")
    provider: str | None = None
    model: str | None = None  # shortcut for override_params.model
    # inherited down the tree
    retry: Retry | None = None  # replaced wholesale by a child that defines it
    request_timeout: Annotated[int, msgspec.Meta(gt=0)] | None = None  # ms; clamped by policy
    override_params: dict[str, Any] | None = None  # deep-merged, child wins
    cache: Cache | None = None  # replaced wholesale by a child that defines it
    input_guardrails: list[Any] | None = None  # schemas.guardrails decides their shape; inherited if absent
    output_guardrails: list[Any] | None = None
    logging: Logging | None = None
    stream_output_mode: StreamOutputMode | None = None
    strict_open_ai_compliance: bool | None = None
    metadata: dict[str, Any] | None = None  # merged like override_params
    id: str | None = None  # informational (Portkey config id); never selects a stored config
    # Portkey provider fields: accepted so Portkey configs parse, never allowed to pick a destination
    api_key: str | None = None  # used only when the provider has passthrough_auth; otherwise ignored
    custom_host: str | None = None  # rejected unless it equals the provider's registered base URL
    forward_headers: list[str] | None = None  # rejected: the gateway never forwards caller headers upstream
    resource_name: str | None = None  # Azure: ignored (the operator's base_url decides the resource)
    deployment_id: str | None = None  # Azure: selects the deployment on the registered resource
    api_version: str | None = None  # Azure: overrides the registered api_version


RoutingConfig = ConfigNode
"""The root of a routing config is a node like any other."""
