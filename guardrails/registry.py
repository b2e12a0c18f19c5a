"""Finds every check by scanning the guardrails package for modules that export `GUARDRAIL`."""

from __future__ import annotations

import importlib
import pkgutil
from types import MappingProxyType
from typing import Any

from guardrails.base import Guardrail


def load_guardrails() -> MappingProxyType[str, Guardrail]:
    """Import every module of the package and collect its GUARDRAIL, keyed by id (== module name)."""
    import guardrails

    found: dict[str, Guardrail] = {}
    for module_info in pkgutil.iter_modules(guardrails.__path__):
        module = importlib.import_module(f"guardrails.{module_info.name}")
        guardrail = getattr(module, "GUARDRAIL", None)
        if isinstance(guardrail, Guardrail):
            if guardrail.id != module_info.name:
                raise RuntimeError(
                    f"guardrails/{module_info.name}.py exports GUARDRAIL with id {guardrail.id!r}"
                )
            found[guardrail.id] = guardrail
    return MappingProxyType(found)


def params_schemas(guardrails: MappingProxyType[str, Guardrail]) -> dict[str, Any]:
    """JSON Schema of every check's Params, keyed by check id (for docs and config validation)."""
    return {check_id: guardrail.params_schema() for check_id, guardrail in sorted(guardrails.items())}
