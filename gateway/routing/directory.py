"""The registered providers as routing sees them: lookup (incl. Portkey ids) and target templates."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.errors import ConfigError
from gateway.providers.base import ProviderTarget
from schemas.settings import ProviderSettings

# Portkey provider ids whose adapter module name is not simply the id with "-" replaced by "_".
PORTKEY_ADAPTER_IDS: dict[str, str] = {
    "google": "gemini",
    "mistral-ai": "mistral",
    "together-ai": "together",
    "fireworks-ai": "fireworks",
    "x-ai": "xai",
    "perplexity-ai": "perplexity",
}

SecretResolver = Callable[[str | None], str | None]


class ProviderDirectory:
    """Finds registered providers by name or adapter; builds their ProviderTarget templates once."""

    def __init__(
        self,
        providers: Mapping[str, ProviderSettings],
        adapters: Mapping[str, Any] | None,
        resolve_secret: SecretResolver,
    ) -> None:
        self._settings = dict(providers)
        self._templates: dict[str, ProviderTarget] = {}
        for name, entry in self._settings.items():
            base_url = entry.base_url
            if adapters is not None:
                adapter = adapters.get(entry.adapter)
                if adapter is None:
                    raise ConfigError(
                        f"providers.{name}.adapter: unknown adapter {entry.adapter!r} "
                        f"(available: {', '.join(sorted(adapters))})",
                        param=f"providers.{name}.adapter",
                    )
                base_url = base_url or adapter.default_base_url
            self._templates[name] = ProviderTarget(
                name=name,
                adapter=entry.adapter,
                base_url=(base_url or "").rstrip("/"),
                model="",
                api_key=None if entry.passthrough_auth else resolve_secret(entry.api_key),
                api_version=entry.api_version,
                default_max_tokens=entry.default_max_tokens,
                extra_headers=tuple((k, resolve_secret(v) or "") for k, v in entry.headers.items()),
            )

    def names(self) -> list[str]:
        """Registered provider names in file order."""
        return list(self._settings)

    def find(self, reference: str) -> str | None:
        """The registered name for a reference: a registered name, else the first with that adapter."""
        ref = reference[1:] if reference.startswith("@") else reference
        if ref in self._settings:
            return ref
        adapter = PORTKEY_ADAPTER_IDS.get(ref.lower(), ref.lower().replace("-", "_"))
        for name, entry in self._settings.items():
            if entry.adapter == adapter:
                return name
        return None

    def require(self, reference: str, where: str) -> str:
        """Like find, but a 400 naming the field when nothing matches."""
        name = self.find(reference)
        if name is None:
            known = ", ".join(self._settings) or "none"
            raise ConfigError(
                f"invalid config: {where}: unknown provider {reference!r} (registered: {known})",
                param=where,
            )
        return name

    def settings(self, name: str) -> ProviderSettings:
        """The operator's settings of a registered provider."""
        return self._settings[name]

    def template(self, name: str) -> ProviderTarget:
        """The ProviderTarget of a registered provider with an empty model."""
        return self._templates[name]

    def owner_of(self, model: str) -> str | None:
        """The first registered provider that lists this model."""
        for name, entry in self._settings.items():
            if model in entry.models:
                return name
        return None
