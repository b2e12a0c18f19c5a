"""PII check with presidio (patterns, optional NER): detect, redact (replace/mask/HMAC hash) or block.

Portkey's PII modes map onto the chain action: detect = "flag", redact = "redact", block = "deny".
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Literal

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from guardrails.text import TextEdit
from schemas.guardrails import Finding

DEFAULT_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "CRYPTO",
)
MAX_FINDINGS = 200


class CustomPattern(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An operator-defined entity: an RE2 pattern, its base score, and context words that boost it (+0.35)."""

    entity: str
    pattern: str
    score: float = 0.6
    context: list[str] = msgspec.field(default_factory=list)


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Which entities to look for, how sure a hit must be, and how a redaction looks."""

    entities: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ENTITIES))
    score_threshold: float = 0.4  # presidio's phone score is 0.4; noise (bank/licence) is < 0.1
    allow_list: list[str] = msgspec.field(default_factory=list)  # exact strings never reported
    custom_patterns: list[CustomPattern] = msgspec.field(default_factory=list)
    operator: Literal["replace", "mask", "hash"] = "replace"  # used when the action is "redact"
    mask_char: str = "*"
    mask_keep_last: int = 0  # mask: characters left visible at the end (4 gives ************1111)


class CompiledPii(msgspec.Struct, kw_only=True, frozen=True):
    """Entities to request from the analyzer plus the RE2 recognizers built from custom patterns."""

    entities: tuple[str, ...]
    recognizers: tuple[Any, ...]


def _compile(params: Params, pii_engine: Any = None) -> CompiledPii:
    from guardrails.pii_engine import NER_ENTITIES, PATTERN_ENTITIES, Re2PatternRecognizer, compile_re2
    from guardrails.regex import MAX_PATTERN_LENGTH

    if not 0.0 <= params.score_threshold <= 1.0:
        raise ValueError("score_threshold: must be between 0 and 1")
    if len(params.mask_char) != 1 or params.mask_keep_last < 0:
        raise ValueError("mask_char: must be one character; mask_keep_last: must not be negative")
    supported = pii_engine.supported_entities if pii_engine is not None else PATTERN_ENTITIES
    recognizers = []
    for index, custom in enumerate(params.custom_patterns):
        where = f"custom_patterns[{index}]"
        if not custom.entity or not custom.entity.replace("_", "").isalnum():
            raise ValueError(f"{where}.entity: use letters, digits and underscores")
        if len(custom.pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(f"{where}.pattern: longer than {MAX_PATTERN_LENGTH} characters")
        if not 0.0 < custom.score <= 1.0:
            raise ValueError(f"{where}.score: must be in (0, 1]")
        try:
            compiled = compile_re2(custom.pattern)
        except ValueError as exc:
            raise ValueError(f"{where}.pattern: {exc}") from None
        recognizers.append(
            Re2PatternRecognizer(
                entity=custom.entity,
                name=f"custom_{index}_{custom.entity}",
                pattern=custom.pattern,
                compiled=compiled,
                score=custom.score,
                context=custom.context,
            )
        )
    custom_entities = {custom.entity for custom in params.custom_patterns}
    for entity in params.entities:
        if entity not in supported and entity not in custom_entities:
            hint = " (needs the optional NER model)" if entity in NER_ENTITIES else ""
            raise ValueError(f"entities: {entity!r} is not supported{hint}; supported: {sorted(supported)}")
    entities = tuple(dict.fromkeys([*params.entities, *sorted(custom_entities)]))
    return CompiledPii(entities=entities, recognizers=tuple(recognizers))


def _resolve_overlaps(results: list[Any]) -> list[Any]:
    """Keep the longest (then highest-scoring) hit where hits overlap; e.g. the URL inside an email goes."""
    kept: list[Any] = []
    for result in sorted(results, key=lambda r: (r.start, -(r.end - r.start), -r.score)):
        if kept and result.start < kept[-1].end:
            if result.end > kept[-1].end:  # partial overlap: widen the kept span so nothing leaks
                kept[-1].end = result.end
            continue
        kept.append(result)
    return kept


def _replacement(params: Params, entity: str, original: str, secret: bytes) -> str:
    if params.operator == "mask":
        keep = min(params.mask_keep_last, len(original))
        return params.mask_char * (len(original) - keep) + original[len(original) - keep :]
    if params.operator == "hash":
        if not secret:
            raise ValueError("operator 'hash' needs the server hash secret")
        digest = hmac.new(secret, f"{entity}\x00{original}".encode(), hashlib.sha256).hexdigest()
        return f"<{entity}:{digest[:16]}>"
    return f"<{entity}>"


def check(data: CheckInput) -> CheckFacts:
    """Analyze every segment (blocking: the runner calls this in the engine's worker thread)."""
    params: Params = data.params
    compiled: CompiledPii = data.compiled
    engine = data.pii_engine
    if engine is None:
        raise RuntimeError("the pii check needs a PiiEngine")
    findings: list[Finding] = []
    edits: dict[int, list[TextEdit]] = {}
    for seg_index, segment in enumerate(data.segments):
        results = engine.analyze(
            segment.text,
            entities=compiled.entities,
            score_threshold=params.score_threshold,
            allow_list=params.allow_list,
            ad_hoc=compiled.recognizers,
        )
        results = _resolve_overlaps(results)
        if not results:
            continue
        label = segment.label()
        for result in results:
            if len(findings) < MAX_FINDINGS:
                findings.append(
                    Finding(
                        entity=result.entity_type,
                        path=label,
                        start=result.start,
                        end=result.end,
                        score=round(float(result.score), 3),
                    )
                )
            else:
                findings[-1].count += 1
        if data.redact:
            edits[seg_index] = [
                TextEdit(
                    start=r.start,
                    end=r.end,
                    replacement=_replacement(
                        params, r.entity_type, segment.text[r.start : r.end], data.hash_secret
                    ),
                )
                for r in results
            ]
    return CheckFacts(passed=not findings, findings=findings, edits=edits)


GUARDRAIL = Guardrail(
    id="pii",
    Params=Params,
    check=check,
    compile=_compile,
    can_redact=True,
    needs_pii_engine=True,
    default_on_error="closed",
    offload_at_chars=0,
    incremental=lambda params: True,
)
