"""Length check: characters, words, sentences and approximate tokens (chars/4), each with min/max."""

from __future__ import annotations

import math
import re
from typing import Any

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from guardrails.text import joined_text
from schemas.guardrails import Finding

_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Bounds on the checked text; unset bounds are unchecked; `invert` passes only when out of bounds."""

    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None
    min_sentences: int | None = None
    max_sentences: int | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    invert: bool = False


def _count_sentences(text: str) -> int:
    stripped = text.strip()
    if not stripped:
        return 0
    ends = len(_SENTENCE_END.findall(stripped))
    return ends + (0 if stripped[-1] in ".!?" else 1)


def measure(text: str) -> dict[str, int]:
    """The four measures of a text."""
    return {
        "chars": len(text),
        "words": len(text.split()),
        "sentences": _count_sentences(text),
        "tokens": math.ceil(len(text) / 4),
    }


def _compile(params: Params, pii_engine: Any = None) -> None:
    for unit in ("chars", "words", "sentences", "tokens"):
        low, high = getattr(params, f"min_{unit}"), getattr(params, f"max_{unit}")
        if (low is not None and low < 0) or (high is not None and high < 0):
            raise ValueError(f"min_{unit}/max_{unit}: must not be negative")
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_{unit}: greater than max_{unit}")


def check(data: CheckInput) -> CheckFacts:
    """Measure the joined text and compare with every configured bound."""
    params: Params = data.params
    measures = measure(joined_text(data.segments))
    findings = []
    for unit, value in measures.items():
        low, high = getattr(params, f"min_{unit}"), getattr(params, f"max_{unit}")
        if low is not None and value < low:
            findings.append(Finding(entity="LENGTH", detail=f"{unit}={value} < min {low}"))
        if high is not None and value > high:
            findings.append(Finding(entity="LENGTH", detail=f"{unit}={value} > max {high}"))
    in_bounds = not findings
    if params.invert:
        return CheckFacts(
            passed=not in_bounds,
            findings=[] if not in_bounds else [Finding(entity="LENGTH", detail="within bounds")],
        )
    return CheckFacts(passed=in_bounds, findings=findings)


GUARDRAIL = Guardrail(
    id="length",
    Params=Params,
    check=check,
    compile=_compile,
    default_on_error="open",
    offload_at_chars=200_000,
)
