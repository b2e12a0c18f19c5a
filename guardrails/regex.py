"""Regex check with RE2 (linear time): text must match, must not match, or matches are redacted."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import re2

from guardrails.base import CheckFacts, CheckInput, Guardrail
from guardrails.text import TextEdit
from schemas.guardrails import Finding

MAX_PATTERN_LENGTH = 512
MAX_PATTERNS = 64
MAX_FINDINGS = 100  # per check run; further matches only raise the last finding's count


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """RE2 patterns and what a match means."""

    patterns: list[str]
    # must_not_match: a match fails the check; must_match: no match anywhere fails it;
    # redact: like must_not_match, and with action "redact" every match is replaced by `replacement`.
    mode: Literal["must_not_match", "must_match", "redact"] = "must_not_match"
    replacement: str = "[REDACTED]"
    case_sensitive: bool = True


def compile_patterns(
    patterns: list[str], *, case_sensitive: bool = True, field: str = "patterns"
) -> list[Any]:
    """Compile user patterns with RE2; raise ValueError naming the offending pattern."""
    if not patterns:
        raise ValueError(f"{field}: at least one pattern is required")
    if len(patterns) > MAX_PATTERNS:
        raise ValueError(f"{field}: at most {MAX_PATTERNS} patterns are allowed")
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    compiled = []
    for index, pattern in enumerate(patterns):
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(f"{field}[{index}]: pattern longer than {MAX_PATTERN_LENGTH} characters")
        try:
            compiled.append(re2.compile(pattern, options))
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise ValueError(
                f"{field}[{index}]: pattern {pattern!r} is not supported by RE2 ({reason}); "
                "backreferences and lookaround are not allowed"
            ) from None
    return compiled


def _compile(params: Params, pii_engine: Any = None) -> list[Any]:
    return compile_patterns(params.patterns, case_sensitive=params.case_sensitive)


def scan(compiled: list[Any], text: str) -> list[tuple[int, int, int]]:
    """All non-empty matches as (pattern index, start, end)."""
    hits = []
    for index, pattern in enumerate(compiled):
        for match in pattern.finditer(text):
            start, end = match.span()
            if end > start:
                hits.append((index, start, end))
    return hits


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of overlapping spans, sorted by start."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def check(data: CheckInput) -> CheckFacts:
    """Run the patterns over every segment."""
    params: Params = data.params
    findings: list[Finding] = []
    edits: dict[int, list[TextEdit]] = {}
    matched = False
    for seg_index, segment in enumerate(data.segments):
        hits = scan(data.compiled, segment.text)
        if not hits:
            continue
        matched = True
        if params.mode == "must_match":
            continue
        for pattern_index, start, end in hits:
            if len(findings) < MAX_FINDINGS:
                findings.append(
                    Finding(
                        entity="REGEX_MATCH",
                        path=segment.label(),
                        start=start,
                        end=end,
                        detail=f"pattern[{pattern_index}]",
                    )
                )
            else:
                findings[-1].count += 1
        if data.redact:
            spans = merge_spans([(start, end) for _, start, end in hits])
            edits[seg_index] = [TextEdit(start=s, end=e, replacement=params.replacement) for s, e in spans]
    if params.mode == "must_match":
        if matched:
            return CheckFacts(passed=True)
        return CheckFacts(
            passed=False, findings=[Finding(entity="REGEX_NO_MATCH", detail="no pattern matched")]
        )
    return CheckFacts(passed=not matched, findings=findings, edits=edits)


GUARDRAIL = Guardrail(
    id="regex",
    Params=Params,
    check=check,
    compile=_compile,
    can_redact=True,
    default_on_error="closed",
    offload_at_chars=20_000,
    incremental=lambda params: params.mode != "must_match",
)
