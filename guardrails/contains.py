"""Contains check: words or phrases that must appear (any/all) or must not appear (none)."""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from guardrails.text import joined_text
from schemas.guardrails import Finding


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Words/phrases and how their presence decides the verdict (findings name word indexes, not words)."""

    words: list[str]
    operator: Literal["any", "all", "none"] = "any"
    case_sensitive: bool = False
    whole_word: bool = False


def _compile(params: Params, pii_engine: Any = None) -> list[Any]:
    if not params.words or any(not word for word in params.words):
        raise ValueError("words: at least one non-empty word is required")
    flags = 0 if params.case_sensitive else re.IGNORECASE
    # re.escape makes every pattern a literal (with optional \b anchors): no backtracking risk.
    return [
        re.compile((r"\b" + re.escape(word) + r"\b") if params.whole_word else re.escape(word), flags)
        for word in params.words
    ]


def check(data: CheckInput) -> CheckFacts:
    """Count each word in the joined text and apply the operator."""
    params: Params = data.params
    text = joined_text(data.segments)
    counts = [len(pattern.findall(text)) for pattern in data.compiled]
    present = [count > 0 for count in counts]
    if params.operator == "none":
        findings = [
            Finding(entity="CONTAINS", detail=f"words[{i}] present", count=c)
            for i, c in enumerate(counts)
            if c
        ]
        return CheckFacts(passed=not findings, findings=findings)
    if params.operator == "all":
        findings = [
            Finding(entity="CONTAINS", detail=f"words[{i}] missing") for i, p in enumerate(present) if not p
        ]
        return CheckFacts(passed=not findings, findings=findings)
    if any(present):
        return CheckFacts(passed=True)
    return CheckFacts(passed=False, findings=[Finding(entity="CONTAINS", detail="none of the words present")])


GUARDRAIL = Guardrail(
    id="contains",
    Params=Params,
    check=check,
    compile=_compile,
    default_on_error="open",
    incremental=lambda params: params.operator == "none",
)
