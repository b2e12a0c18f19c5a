"""Authenticates the caller: a virtual key becomes a Tenant (team, default config, limits, metadata)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec

from gateway.errors import AuthenticationError


class Tenant(msgspec.Struct, kw_only=True, frozen=True):
    """Who is calling, as fixed by their key: the request's metadata may add to it but never override team."""

    key_id: str = ""
    key_name: str = ""
    team: str = "default"
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    default_config: str | None = None
    allowed_models: tuple[str, ...] = ()
    allowed_configs: tuple[str, ...] = ()
    log_policy: str | None = None
    provider_key: str | None = None  # caller's own provider key, for providers in pass-through mode


ANONYMOUS = Tenant()


class KeyAuthority(Protocol):
    """Looks up virtual keys (implemented by the key store)."""

    def authenticate(self, presented: str) -> Tenant:
        """Return the tenant for a presented key or raise AuthenticationError."""
        ...


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The credential from `Authorization: Bearer …` or `x-api-key` (Anthropic SDK); None when absent."""
    value = headers.get("authorization")
    if value:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("malformed Authorization header; expected `Bearer <key>`")
        return token.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key else None


def authenticate(headers: Mapping[str, str], authority: KeyAuthority | None, *, require_keys: bool) -> Tenant:
    """Resolve the tenant; without a key authority (or without keys required) unknown callers are anonymous."""
    token = bearer_token(headers)
    if authority is not None and token and token.startswith("pc-"):
        return authority.authenticate(token)
    if require_keys:
        raise AuthenticationError("a valid Portcullis key is required (Authorization: Bearer pc-…)")
    return ANONYMOUS
