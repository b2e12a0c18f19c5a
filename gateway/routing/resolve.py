"""Where a request's routing config comes from (header, key, alias, default, implicit): a RoutePlan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from gateway.errors import ConfigError
from gateway.routing.compile import TreeCompiler, bad
from gateway.routing.directory import ProviderDirectory
from gateway.routing.plan import Group, Leaf, Node, RoutePlan
from schemas.config import ConfigNode
from schemas.settings import PortcullisSettings

MAX_JSON_NESTING = 32  # brackets in an inline config, checked before decoding


def json_nesting(raw: bytes) -> int:
    """Deepest bracket nesting of a JSON text (strings skipped), or an upper bound when that is under the limit."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_NESTING:
        return raw.count(b"{") + raw.count(b"[")  # an upper bound that is already under the limit
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x7D, 0x5D):
            depth -= 1
    return deepest


def describe_validation(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    """msgspec's message led by the field path: ("invalid config: targets[0].x: ...", "targets[0].x")."""
    message = str(exc)
    problem, sep, where = message.partition(" - at `")
    if not sep:
        return f"invalid config: {message}", None
    path = where.rstrip("`").removeprefix("$").lstrip(".")
    if problem.startswith("Object contains unknown field `"):
        unknown = problem.split("`")[1]
        path = f"{path}.{unknown}" if path else unknown
        return f"invalid config: {path}: unknown field", path
    return f"invalid config: {path or '(root)'}: {problem}", path or None


def decode_config(raw: bytes | str, *, max_bytes: int) -> ConfigNode:
    """Decode inline JSON strictly: size cap, nesting cap, unknown fields rejected (400 naming the field)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        raise ConfigError(f"invalid config: larger than {max_bytes} bytes", param="x-portcullis-config")
    if json_nesting(data) > MAX_JSON_NESTING:
        raise ConfigError(f"invalid config: JSON nested deeper than {MAX_JSON_NESTING}", param="x-portcullis-config")
    try:
        return msgspec.json.decode(data, type=ConfigNode)
    except msgspec.ValidationError as exc:
        message, param = describe_validation(exc)
        raise ConfigError(message, param=param) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"invalid config: not valid JSON ({exc})", param="x-portcullis-config") from None


def convert_config(obj: Any, *, source: str) -> ConfigNode:
    """Convert a config object from the server file (decoded YAML); errors name the source and field."""
    try:
        return msgspec.convert(obj, ConfigNode)
    except msgspec.ValidationError as exc:
        message, param = describe_validation(exc)
        raise ConfigError(f"{source}: {message}", param=param) from None


class _Compiled(msgspec.Struct, kw_only=True, frozen=True):
    """A stored config: the parsed node, and its compiled tree unless the root needs the request's model."""

    node: ConfigNode
    root: Node | None
    adjustments: tuple[str, ...]


class RouteResolver:
    """Long-lived (built in the lifespan): named configs and aliases compiled once; resolves plans."""

    def __init__(
        self,
        settings: PortcullisSettings,
        adapters: Mapping[str, Any] | None,
        resolve_secret: Callable[[str | None], str | None],
    ) -> None:
        self._settings = settings
        self._directory = ProviderDirectory(settings.providers, adapters, resolve_secret)
        self._named = {cid: self._stored(obj, f"configs.{cid}") for cid, obj in settings.configs.items()}
        self._aliases = {name: self._stored(obj, f"aliases.{name}") for name, obj in settings.aliases.items()}
        for name, stored in self._aliases.items():
            self._require_models(stored, f"aliases.{name}")
        if settings.default_config is not None and settings.default_config not in self._named:
            raise ConfigError(f"default_config: no config named {settings.default_config!r} in configs")

    @property
    def directory(self) -> ProviderDirectory:
        """The registered providers."""
        return self._directory

    def resolve(
        self,
        *,
        model: str | None,
        header_value: str | bytes | None = None,
        portkey_header: bool = False,
        key_config_id: str | None = None,
    ) -> RoutePlan:
        """The plan for one request: header > key default config > model alias > default_config > implicit."""
        if header_value is not None and (header_value.strip() if isinstance(header_value, str) else header_value):
            return self._from_header(header_value, model=model, portkey=portkey_header)
        if key_config_id is not None:
            return self._from_stored(self._lookup(key_config_id, "key default config"), key_config_id, model, False)
        if model is not None and model in self._aliases:
            return self._from_stored(self._aliases[model], model, None, False)
        if self._settings.default_config is not None:
            cid = self._settings.default_config
            return self._from_stored(self._named[cid], cid, model, False)
        provider, upstream_model = self.implicit_target(model)
        compiler = TreeCompiler(self._settings.policy, self._directory, portkey_form=False)
        root = compiler.compile(ConfigNode(provider=provider))
        return RoutePlan(root=bind_model(root, upstream_model), config_id="implicit")

    def implicit_target(self, model: str | None) -> tuple[str, str | None]:
        """(provider, model to send) from the model name: listed model, `provider/model`, first provider."""
        names = self._directory.names()
        if not names:
            raise ConfigError("no providers are registered on this server", param="model")
        if model:
            owner = self._directory.owner_of(model)
            if owner is not None:
                return owner, model
            prefix, slash, rest = model.partition("/")
            if slash and rest:
                found = self._directory.find(prefix)
                if found is not None:
                    return found, rest
        return names[0], model

    def _from_header(self, value: str | bytes, *, model: str | None, portkey: bool) -> RoutePlan:
        text = value.strip() if isinstance(value, str) else value.strip().decode("utf-8", "replace")
        limit = self._settings.server.max_header_config_bytes
        if not text.startswith("{"):
            if len(text) > 256:
                raise ConfigError("invalid config: config id too long", param="x-portcullis-config")
            return self._from_stored(self._lookup(text, "config"), text, model, portkey)
        if not self._settings.policy.allow_inline_configs:
            raise ConfigError("inline configs are disabled on this server; use a named config id")
        node = decode_config(text, max_bytes=limit)
        return self._plan(node, "inline", model, portkey)

    def _lookup(self, config_id: str, what: str) -> _Compiled:
        stored = self._named.get(config_id)
        if stored is None:
            raise ConfigError(f"{what} {config_id!r} not found", param="x-portcullis-config")
        return stored

    def _stored(self, obj: Any, source: str) -> _Compiled:
        node = obj if isinstance(obj, ConfigNode) else convert_config(obj, source=source)
        implicit = None
        if node.provider is None and node.targets is None:
            implicit = self._directory.names()[0] if self._directory.names() else None
        compiler = TreeCompiler(self._settings.policy, self._directory, portkey_form=False)
        try:
            root = compiler.compile(node, implicit_provider=implicit)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc.message}", param=exc.param) from None
        return _Compiled(
            node=node,
            root=root if implicit is None else None,
            adjustments=tuple(dict.fromkeys(compiler.adjustments)),
        )

    def _require_models(self, stored: _Compiled, source: str) -> None:
        for leaf in RoutePlan(root=stored.root, config_id=source).leaves() if stored.root else []:
            if not leaf.target.model:
                where = (
                    f"{source}.{leaf.path}.override_params.model" if leaf.path else f"{source}.override_params.model"
                )
                raise ConfigError(f"{where}: an alias target must set the model it sends upstream", param=where)

    def _from_stored(self, stored: _Compiled, config_id: str, model: str | None, portkey: bool) -> RoutePlan:
        if stored.root is None:
            return self._plan(stored.node, config_id, model, portkey)
        return RoutePlan(
            root=bind_model(stored.root, model),
            config_id=config_id,
            portkey_form=portkey,
            adjustments=stored.adjustments,
            metadata=stored.node.metadata or {},
        )

    def _plan(self, node: ConfigNode, config_id: str, model: str | None, portkey: bool) -> RoutePlan:
        implicit, upstream_model = (None, model)
        if node.provider is None and node.targets is None:
            implicit, upstream_model = self.implicit_target(model)
        compiler = TreeCompiler(self._settings.policy, self._directory, portkey_form=portkey)
        root = compiler.compile(node, implicit_provider=implicit)
        return RoutePlan(
            root=bind_model(root, upstream_model),
            config_id=config_id,
            portkey_form=portkey,
            adjustments=tuple(dict.fromkeys(compiler.adjustments)),
            metadata=node.metadata or {},
        )


def bind_model(node: Node, model: str | None) -> Node:
    """Give every leaf without a configured model the request's model; a 400 when there is none.

    A `provider/model` request model loses its prefix on leaves of that provider (`oai/gpt-4o` → `gpt-4o`).
    """
    if isinstance(node, Leaf):
        if node.target.model:
            return node
        if not model:
            raise bad(node.path or "model", "no model: the request has none and the target sets none")
        prefix = node.target.name + "/"
        bound = model[len(prefix):] if model.startswith(prefix) and len(model) > len(prefix) else model
        return msgspec.structs.replace(node, target=msgspec.structs.replace(node.target, model=bound))
    children = tuple(bind_model(child, model) for child in node.children)
    if all(new is old for new, old in zip(children, node.children, strict=True)):
        return node
    return msgspec.structs.replace(node, children=children)


def validate_settings_configs(settings: PortcullisSettings, providers: Mapping[str, Any] | None) -> None:
    """Validate every named config and alias at start-up; ConfigError names the config and field."""
    RouteResolver(settings, providers, lambda reference: reference)


__all__ = ["Group", "RouteResolver", "bind_model", "decode_config", "validate_settings_configs"]
