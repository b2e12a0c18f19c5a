"""Loads portcullis.yaml into strict settings and resolves `env:VAR` secret references."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
import yaml

from schemas.settings import PortcullisSettings


class SettingsError(Exception):
    """The config file cannot be used; the message names the file, the field and the problem."""


class _PlainLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: `api_version: 2024-10-21` stays the string it looks like."""


_PlainLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str | bytes) -> object:
    """YAML as the server reads it (dates stay strings); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader subclass: no arbitrary objects


def parse_settings(text: str | bytes, *, source: str = "<config>") -> PortcullisSettings:
    """Decode YAML text into PortcullisSettings, failing with a message that names the field."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{source}: not valid YAML: {exc}") from None
    try:
        return msgspec.convert(data if data is not None else {}, PortcullisSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{source}: {_describe(exc)}") from None


def load_settings(path: str | Path) -> PortcullisSettings:
    """Read and decode a config file."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{file}: cannot read config file: {exc.strerror}") from None
    return parse_settings(text, source=str(file))


def _describe(exc: msgspec.ValidationError) -> str:
    """msgspec says `Object contains unknown field `x` - at `$.server``; make it read `$.server.x`-first."""
    message = str(exc)
    if " - at `" in message:
        problem, _, where = message.partition(" - at `")
        return f"field {where.rstrip('`')}: {problem}"
    return message


class SecretResolver:
    """Turns `env:VAR` references into values from a given environment; literal values pass through."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def __call__(self, reference: str | None) -> str | None:
        """Resolve one reference; an `env:` name that is unset resolves to None."""
        if reference is None:
            return None
        if reference.startswith("env:"):
            return self._environ.get(reference[4:]) or None
        return reference

    def require(self, reference: str | None, *, field: str) -> str | None:
        """Resolve, failing loudly when an `env:` reference names an unset variable."""
        value = self(reference)
        if reference is not None and reference.startswith("env:") and value is None:
            raise SettingsError(f"field {field}: environment variable {reference[4:]} is not set")
        return value


def check_provider_secrets(settings: PortcullisSettings, resolve: SecretResolver) -> None:
    """Fail at start when a provider's `env:` credential is missing (unless it forwards callers' keys)."""
    for name, provider in settings.providers.items():
        if not provider.passthrough_auth:
            resolve.require(provider.api_key, field=f"$.providers.{name}.api_key")
        for header, value in provider.headers.items():
            resolve.require(value, field=f"$.providers.{name}.headers.{header}")
