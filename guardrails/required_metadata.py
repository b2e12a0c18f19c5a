"""Required metadata check (input): the caller's metadata must carry the listed keys (all/any/none)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from schemas.guardrails import Finding


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Metadata keys and whether all, any or none of them must be present."""

    keys: list[str]
    operator: Literal["all", "any", "none"] = "all"


def _compile(params: Params, pii_engine: Any = None) -> None:
    if not params.keys:
        raise ValueError("keys: at least one key is required")


def check(data: CheckInput) -> CheckFacts:
    """Look the keys up in the context's metadata (findings name keys, never values)."""
    params: Params = data.params
    present = [key for key in params.keys if key in data.context.metadata]
    missing = [key for key in params.keys if key not in data.context.metadata]
    if params.operator == "all":
        passed, reported, what = not missing, missing, "missing"
    elif params.operator == "any":
        passed, reported, what = bool(present), missing, "missing"
    else:
        passed, reported, what = not present, present, "present"
    if passed:
        return CheckFacts(passed=True)
    return CheckFacts(
        passed=False, findings=[Finding(entity="METADATA", detail=f"key {key!r} {what}") for key in reported]
    )


GUARDRAIL = Guardrail(
    id="required_metadata",
    Params=Params,
    check=check,
    compile=_compile,
    stages=frozenset({"input"}),
    default_on_error="closed",
)
