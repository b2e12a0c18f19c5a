"""Compiles a ConfigNode tree into plan nodes: Portkey inheritance, structural checks, policy caps."""

from __future__ import annotations

import re
from typing import Any, Protocol

import msgspec

from gateway.errors import ConfigError
from gateway.providers.base import ProviderTarget
from gateway.routing.conditions import compile_query
from gateway.routing.plan import CachePolicy, Conditional, Group, Leaf, Node, RetryPolicy
from schemas.config import Cache, ConfigNode, Retry
from schemas.settings import PolicySettings, ProviderSettings

DEFAULT_CACHE_MAX_AGE_S = 7 * 24 * 3600.0
_SAFE_PATH_PIECE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # deployment ids, api versions: no URL tricks
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class Providers(Protocol):
    """What compilation needs from the provider directory."""

    def require(self, reference: str, where: str) -> str: ...
    def settings(self, name: str) -> ProviderSettings: ...
    def template(self, name: str) -> ProviderTarget: ...


def field_path(path: str, name: str) -> str:
    """`targets[1].retry` style path of a field on the node at `path`."""
    return f"{path}.{name}" if path else name


def bad(where: str, problem: str) -> ConfigError:
    """A 400 that names the offending field."""
    return ConfigError(f"invalid config: {where}: {problem}", param=where)


def deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Merge child into parent recursively; the child wins on conflicts (Portkey override_params rule)."""
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def cache_max_age_seconds(value: float | str | None, where: str, *, portkey_form: bool) -> float:
    """Seconds for `cache.max_age`: strings carry a unit; bare numbers are ms in Portkey form, else s."""
    if value is None:
        return DEFAULT_CACHE_MAX_AGE_S
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise bad(where, f'max_age {value!r} is not a duration like 600, "600s", "10m" or "600000ms"')
        number, unit = float(match.group(1)), match.group(2)
        seconds = number * _UNIT_SECONDS[unit] if unit else (number / 1000.0 if portkey_form else number)
    else:
        seconds = value / 1000.0 if portkey_form else float(value)
    if seconds <= 0:
        raise bad(where, "max_age must be positive")
    return seconds


class _Inherited(msgspec.Struct, kw_only=True, frozen=True):
    retry: Retry | None = None
    timeout_ms: int | None = None
    override_params: dict[str, Any] = msgspec.field(default_factory=dict)
    cache: Cache | None = None
    input_guardrails: list[Any] | None = None
    output_guardrails: list[Any] | None = None
    log_policy: Any = None
    stream_output_mode: Any = None
    strict: bool | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    api_key: str | None = None
    custom_host: str | None = None


class TreeCompiler:
    """Compiles one config; collects clamp notes in `adjustments`."""

    def __init__(self, policy: PolicySettings, providers: Providers, *, portkey_form: bool) -> None:
        self._policy = policy
        self._providers = providers
        self._portkey_form = portkey_form
        self._count = 0
        self.adjustments: list[str] = []

    def compile(self, config: ConfigNode, *, implicit_provider: str | None = None) -> Node:
        """The root node; a root with neither provider nor targets calls `implicit_provider`."""
        if config.provider is None and config.targets is None:
            if implicit_provider is None:
                raise bad("provider", "a config needs `provider` or `targets`")
            config = msgspec.structs.replace(config, provider=implicit_provider)
        return self._node(config, "", 0, _Inherited())

    def _node(self, node: ConfigNode, path: str, level: int, parent: _Inherited) -> Node:
        if level > self._policy.max_depth:
            raise bad(path, f"targets nested deeper than {self._policy.max_depth} levels")
        inherited = self._inherit(node, path, parent)
        if node.targets is not None:
            return self._group(node, path, level, inherited)
        if node.strategy is not None:
            raise bad(field_path(path, "strategy"), "a strategy needs `targets`")
        if node.provider is None:
            raise bad(path or "provider", "a target needs `provider` or `targets`")
        return self._leaf(node, path, inherited)

    def _inherit(self, node: ConfigNode, path: str, parent: _Inherited) -> _Inherited:
        overrides = parent.override_params
        if node.override_params is not None:
            overrides = deep_merge(overrides, node.override_params)
        if node.model is not None:
            own = (node.override_params or {}).get("model")
            if own is not None and own != node.model:
                raise bad(field_path(path, "model"), "differs from override_params.model")
            overrides = {**overrides, "model": node.model}
        if node.forward_headers:
            raise bad(
                field_path(path, "forward_headers"),
                "not supported: caller headers are never forwarded upstream",
            )
        return _Inherited(
            retry=node.retry if node.retry is not None else parent.retry,
            timeout_ms=node.request_timeout if node.request_timeout is not None else parent.timeout_ms,
            override_params=overrides,
            cache=node.cache if node.cache is not None else parent.cache,
            input_guardrails=node.input_guardrails if node.input_guardrails is not None else parent.input_guardrails,
            output_guardrails=(
                node.output_guardrails if node.output_guardrails is not None else parent.output_guardrails
            ),
            log_policy=node.logging.policy if node.logging is not None else parent.log_policy,
            stream_output_mode=node.stream_output_mode or parent.stream_output_mode,
            strict=node.strict_open_ai_compliance if node.strict_open_ai_compliance is not None else parent.strict,
            metadata=deep_merge(parent.metadata, node.metadata) if node.metadata else parent.metadata,
            api_key=node.api_key if node.api_key is not None else parent.api_key,
            custom_host=node.custom_host if node.custom_host is not None else parent.custom_host,
        )

    def _group(self, node: ConfigNode, path: str, level: int, inherited: _Inherited) -> Group:
        targets = node.targets or []
        if not targets:
            raise bad(field_path(path, "targets"), "must not be empty")
        for leaf_field in ("provider", "deployment_id", "resource_name", "api_version"):
            if getattr(node, leaf_field) is not None:
                raise bad(field_path(path, leaf_field), "belongs on a leaf target, not on a node with `targets`")
        self._count += len(targets)
        if self._count > self._policy.max_targets:
            raise bad(field_path(path, "targets"), f"more than {self._policy.max_targets} targets in the config")
        strategy = node.strategy
        if strategy is None and len(targets) > 1:
            raise bad(field_path(path, "strategy"), "strategy.mode is required with more than one target")
        mode = strategy.mode if strategy is not None else "single"
        names: dict[str, int] = {}
        for index, child in enumerate(targets):
            if child.name is not None:
                if child.name in names:
                    raise bad(field_path(path, f"targets[{index}].name"), f"duplicate target name {child.name!r}")
                names[child.name] = index
        children = tuple(
            self._node(child, field_path(path, f"targets[{i}]"), level + 1, inherited)
            for i, child in enumerate(targets)
        )
        conditions: tuple[Conditional, ...] = ()
        default_child = None
        where = field_path(path, "strategy")
        if mode == "conditional":
            assert strategy is not None
            if not strategy.conditions and strategy.default is None:
                raise bad(where, "conditional mode needs `conditions` or a `default`")
            conditions = tuple(
                Conditional(
                    predicate=compile_query(rule.query, f"{where}.conditions[{i}].query"),
                    child=self._named(names, rule.then, f"{where}.conditions[{i}].then"),
                )
                for i, rule in enumerate(strategy.conditions or [])
            )
            if strategy.default is not None:
                default_child = self._named(names, strategy.default, f"{where}.default")
        elif strategy is not None and strategy.conditions:
            raise bad(f"{where}.conditions", "only used with mode conditional")
        if mode == "loadbalance" and not any(child.weight > 0 for child in children):
            raise bad(field_path(path, "targets"), "loadbalance needs at least one target with weight > 0")
        codes = strategy.on_status_codes if strategy is not None else None
        return Group(
            path=path,
            mode=mode,
            children=children,
            name=node.name,
            weight=node.weight if node.weight is not None else 1.0,
            on_status_codes=frozenset(codes) if codes is not None else None,
            conditions=conditions,
            default_child=default_child,
        )

    @staticmethod
    def _named(names: dict[str, int], name: str, where: str) -> int:
        if name not in names:
            known = ", ".join(names) or "none (give targets a `name`)"
            raise bad(where, f"no target named {name!r} (names: {known})")
        return names[name]

    def _leaf(self, node: ConfigNode, path: str, inherited: _Inherited) -> Leaf:
        assert node.provider is not None
        name = self._providers.require(node.provider, field_path(path, "provider"))
        registered = self._providers.settings(name)
        target = self._providers.template(name)
        if inherited.custom_host is not None and inherited.custom_host.rstrip("/") != target.base_url:
            raise bad(
                field_path(path, "custom_host"),
                "callers cannot choose a destination; only the provider's registered base URL is accepted",
            )
        model = inherited.override_params.get("model")
        if model is not None and not isinstance(model, str):
            raise bad(field_path(path, "override_params.model"), "must be a string")
        changes: dict[str, Any] = {"model": model or ""}
        if node.deployment_id is not None:
            changes["deployment"] = self._safe_piece(node.deployment_id, field_path(path, "deployment_id"))
        if node.api_version is not None:
            changes["api_version"] = self._safe_piece(node.api_version, field_path(path, "api_version"))
        if registered.passthrough_auth:
            changes["api_key"] = inherited.api_key
        return Leaf(
            path=path,
            target=msgspec.structs.replace(target, **changes),
            name=node.name,
            weight=node.weight if node.weight is not None else 1.0,
            retry=self._retry(inherited.retry, path),
            timeout_s=self._timeout_s(inherited.timeout_ms, registered, path),
            cache=self._cache(inherited.cache, path),
            override_params=inherited.override_params,
            input_guardrails=tuple(inherited.input_guardrails or ()),
            output_guardrails=tuple(inherited.output_guardrails or ()),
            log_policy=inherited.log_policy,
            stream_output_mode=inherited.stream_output_mode,
            strict_open_ai_compliance=inherited.strict,
            metadata=inherited.metadata,
            passthrough_auth=registered.passthrough_auth,
        )

    @staticmethod
    def _safe_piece(value: str, where: str) -> str:
        if not _SAFE_PATH_PIECE.match(value):
            raise bad(where, "only letters, digits, '.', '_' and '-' (at most 64) are allowed")
        return value

    def _retry(self, retry: Retry | None, path: str) -> RetryPolicy:
        if retry is None:
            return RetryPolicy()
        retries = retry.attempts
        if retries > self._policy.max_attempts:
            self.adjustments.append(f"{field_path(path, 'retry.attempts')} {retries} -> {self._policy.max_attempts}")
            retries = self._policy.max_attempts
        return RetryPolicy(
            retries=retries,
            on_status_codes=frozenset(retry.on_status_codes),
            use_retry_after=retry.use_retry_after_header,
        )

    def _timeout_s(self, timeout_ms: int | None, registered: ProviderSettings, path: str) -> float:
        cap_ms = self._policy.max_request_timeout_ms
        if timeout_ms is None:
            return min(registered.timeout_s, cap_ms / 1000.0)
        if timeout_ms > cap_ms:
            self.adjustments.append(f"{field_path(path, 'request_timeout')} {timeout_ms} -> {cap_ms}")
            timeout_ms = cap_ms
        return timeout_ms / 1000.0

    def _cache(self, cache: Cache | None, path: str) -> CachePolicy | None:
        if cache is None:
            return None
        where = field_path(path, "cache.max_age")
        return CachePolicy(max_age_s=cache_max_age_seconds(cache.max_age, where, portkey_form=self._portkey_form))
