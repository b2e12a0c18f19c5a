"""Model allow-list check (input): the requested model must match one of the glob patterns."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from schemas.guardrails import Finding


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Allowed model names as shell-style globs (`gpt-4o*`); `invert` makes it a deny-list."""

    models: list[str]
    invert: bool = False


def _compile(params: Params, pii_engine: Any = None) -> None:
    if not params.models:
        raise ValueError("models: at least one model pattern is required")


def check(data: CheckInput) -> CheckFacts:
    """Compare the context's model with the patterns."""
    params: Params = data.params
    model = data.context.model or ""
    listed = any(fnmatchcase(model, pattern) for pattern in params.models)
    if listed != params.invert:
        return CheckFacts(passed=True)
    detail = "model not in allow-list" if not params.invert else "model in deny-list"
    return CheckFacts(passed=False, findings=[Finding(entity="MODEL", detail=f"{detail}: {model}")])


GUARDRAIL = Guardrail(
    id="model_allowlist",
    Params=Params,
    check=check,
    compile=_compile,
    stages=frozenset({"input"}),
    default_on_error="closed",
)
