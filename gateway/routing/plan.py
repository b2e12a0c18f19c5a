"""The resolved routing plan: a compiled target tree whose leaves carry targets and effective policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import msgspec

from gateway.providers.base import ProviderTarget
from gateway.routing.conditions import Predicate


class RetryPolicy(msgspec.Struct, kw_only=True, frozen=True):
    """Effective retries of one leaf, already clamped by server policy."""

    retries: int = 0  # extra calls after the first one
    on_status_codes: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    use_retry_after: bool = True


class CachePolicy(msgspec.Struct, kw_only=True, frozen=True):
    """Effective cache settings of one leaf (None on the leaf = caching off)."""

    max_age_s: float


class Leaf(msgspec.Struct, kw_only=True, frozen=True):
    """A target that calls one provider, with everything inherited from its ancestors applied."""

    path: str  # "" for a root leaf, else e.g. "targets[1].targets[0]"
    target: ProviderTarget  # target.model is "" until bound to the request model
    name: str | None = None
    weight: float = 1.0
    retry: RetryPolicy = RetryPolicy()
    timeout_s: float = 600.0  # per attempt; the request deadline may cut it shorter
    cache: CachePolicy | None = None
    override_params: dict[str, Any] = msgspec.field(default_factory=dict)  # merged into the body (model included)
    input_guardrails: tuple[Any, ...] = ()  # raw guardrail objects (schemas.guardrails decodes them)
    output_guardrails: tuple[Any, ...] = ()
    log_policy: Literal["full", "metadata", "off"] | None = None
    stream_output_mode: Literal["buffer", "incremental", "post"] | None = None
    strict_open_ai_compliance: bool | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)  # config metadata (merged down the tree)
    passthrough_auth: bool = False  # send the caller's key (target.api_key is the config's api_key or None)

    @property
    def health_key(self) -> tuple[str, str, str]:
        """Identity used for cooldown across requests: provider name, model, deployment."""
        return (self.target.name, self.target.model, self.target.deployment or "")

    def apply_overrides(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new request body with this leaf's override_params on top and the leaf's model set."""
        merged = {**body, **self.override_params}
        merged["model"] = self.target.model
        return merged


class Conditional(msgspec.Struct, kw_only=True, frozen=True):
    """A compiled condition: predicate over (metadata, params) and the child index it selects."""

    predicate: Any  # Predicate
    child: int


class Group(msgspec.Struct, kw_only=True, frozen=True):
    """A node with targets and a strategy."""

    path: str
    mode: Literal["single", "fallback", "loadbalance", "conditional"]
    children: tuple[Leaf | Group, ...]
    name: str | None = None
    weight: float = 1.0
    on_status_codes: frozenset[int] | None = None  # fallback: None = any failure moves on
    conditions: tuple[Conditional, ...] = ()
    default_child: int | None = None

    def pick_conditional(self, metadata: dict[str, Any], params: dict[str, Any]) -> int | None:
        """Index of the first child whose condition matches, else the default (None when there is none)."""
        for rule in self.conditions:
            predicate: Predicate = rule.predicate
            if predicate(metadata, params):
                return rule.child
        return self.default_child


Node = Leaf | Group


class RoutePlan(msgspec.Struct, kw_only=True, frozen=True):
    """What the router executes for one request."""

    root: Node
    config_id: str  # "inline", the named config id, the alias name, or "implicit"
    portkey_form: bool = False  # the config came in x-portkey-config (Portkey 446/246 guardrail statuses)
    adjustments: tuple[str, ...] = ()  # values clamped by server policy, e.g. "retry.attempts 9 -> 5"
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)  # the root config's metadata

    def leaves(self) -> list[Leaf]:
        """Every leaf in tree order."""
        return list(_walk(self.root))


def _walk(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
        return
    for child in node.children:
        yield from _walk(child)
