"""The generated JSON Schema of the routing config, and `portcullis config check FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import yaml

from gateway.errors import ConfigError
from gateway.providers.base import ProviderTarget
from gateway.routing.compile import TreeCompiler
from gateway.routing.resolve import convert_config, decode_config, validate_settings_configs
from gateway.settings import load_yaml
from schemas.config import ConfigNode
from schemas.settings import PolicySettings, PortcullisSettings, ProviderSettings

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "json" / "config.schema.json"
_SETTINGS_KEYS = frozenset(PortcullisSettings.__struct_fields__)


def generate_config_schema() -> bytes:
    """The JSON Schema (2020-12) of a routing config, generated from schemas.config, as stable pretty JSON."""
    schema = msgspec.json.schema(ConfigNode)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Portcullis routing config",
        **schema,
    }
    return (json.dumps(schema, indent=2, sort_keys=True) + "\n").encode()


def write_config_schema(path: Path = SCHEMA_PATH) -> None:
    """Regenerate schemas/json/config.schema.json (`python -m gateway.routing.schema_file`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(generate_config_schema())


class _AnyProvider:
    """Provider lookup for checking a lone config file: every provider name is accepted."""

    def require(self, reference: str, where: str) -> str:
        return reference

    def settings(self, name: str) -> ProviderSettings:
        return ProviderSettings(adapter=name)

    def template(self, name: str) -> ProviderTarget:
        return ProviderTarget(name=name, adapter=name, base_url="", model="")


def check_config_file(path: str | Path, adapters: Any = None) -> list[str]:
    """Problems found in a routing config file (JSON/YAML) or a whole server file; [] when it is valid.

    A server file (it has `providers`, `configs`, ...) has every named config and alias checked against its
    providers; a lone routing config is checked structurally (provider names are not known here).
    """
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        return [f"{file}: cannot read: {exc.strerror}"]
    try:
        data = msgspec.json.decode(text) if file.suffix == ".json" else load_yaml(text)
    except (msgspec.DecodeError, yaml.YAMLError) as exc:
        return [f"{file}: cannot parse: {exc}"]
    if isinstance(data, dict) and data and set(data) <= _SETTINGS_KEYS:
        return _check_settings(file, data, adapters)
    try:
        node = decode_config(text, max_bytes=len(text)) if file.suffix == ".json" else convert_config(data, source="")
        TreeCompiler(PolicySettings(), _AnyProvider(), portkey_form=False).compile(node, implicit_provider="any")
    except ConfigError as exc:
        return [f"{file}: {exc.message.removeprefix(': ')}"]
    return []


def _check_settings(file: Path, data: dict[str, Any], adapters: Any) -> list[str]:
    try:
        settings = msgspec.convert(data, PortcullisSettings)
    except msgspec.ValidationError as exc:
        return [f"{file}: {exc}"]
    if adapters is None:
        from gateway.providers.registry import discover

        adapters = discover()
    try:
        validate_settings_configs(settings, adapters)
    except ConfigError as exc:
        return [f"{file}: {exc.message}"]
    return []


if __name__ == "__main__":
    write_config_schema()
