"""Collects every adapter by scanning the `gateway.providers` package for modules that export `PROVIDER`."""

from __future__ import annotations

import importlib
import pkgutil

import gateway.providers as package
from gateway.providers.base import Provider


def discover() -> dict[str, Provider]:
    """Import each module of the package once and return {adapter id: PROVIDER}; the id must equal the module name."""
    found: dict[str, Provider] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        provider = getattr(module, "PROVIDER", None)
        if provider is None:
            continue
        if provider.id != info.name:
            raise RuntimeError(f"provider module {info.name} exports id {provider.id!r}; they must match")
        found[provider.id] = provider
    return found
