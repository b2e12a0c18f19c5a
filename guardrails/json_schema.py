"""JSON Schema check (output): the answer must be JSON (bare or in a ``` fence) valid under Draft 2020-12."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail
from schemas.guardrails import Finding

MAX_ERRORS = 20
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The JSON Schema (Draft 2020-12) the answer must satisfy; `invert` passes when it does not."""

    schema: dict[str, Any]
    invert: bool = False


def _compile(params: Params, pii_engine: Any = None) -> Any:
    try:
        jsonschema.Draft202012Validator.check_schema(params.schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ValueError(f"schema: not a valid Draft 2020-12 schema at /{where} ({exc.validator})") from None
    return jsonschema.Draft202012Validator(params.schema)


def find_json(text: str) -> tuple[bool, Any]:
    """Parse the text as JSON, else the first ``` fence that parses, else the outermost {...} / [...]."""
    candidates = [text.strip()]
    candidates += [match.group(2).strip() for match in _FENCE.finditer(text)]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return True, json.loads(candidate)
        except ValueError:
            continue
    return False, None


def _validate(validator: Any, text: str, label: str) -> list[Finding]:
    found, document = find_json(text)
    if not found:
        return [Finding(entity="JSON_PARSE", path=label, detail="no JSON document found")]
    findings = []
    for error in validator.iter_errors(document):
        if len(findings) >= MAX_ERRORS:
            findings[-1].count += 1
            continue
        pointer = "/" + "/".join(str(part) for part in error.absolute_path)
        findings.append(Finding(entity="JSON_SCHEMA", path=label, detail=f"{error.validator} at {pointer}"))
    return findings


def check(data: CheckInput) -> CheckFacts:
    """Validate each message content / text segment (tool-call arguments are not answers)."""
    params: Params = data.params
    texts = [seg for seg in data.segments if seg.json_path is None and seg.path[-1] in ("content", "text")]
    if not texts:
        findings = [Finding(entity="JSON_PARSE", detail="no text to validate")]
    else:
        findings = [finding for seg in texts for finding in _validate(data.compiled, seg.text, seg.label())]
    if params.invert:
        return CheckFacts(
            passed=bool(findings),
            findings=[] if findings else [Finding(entity="JSON_SCHEMA", detail="valid")],
        )
    return CheckFacts(passed=not findings, findings=findings)


GUARDRAIL = Guardrail(
    id="json_schema",
    Params=Params,
    check=check,
    compile=_compile,
    stages=frozenset({"output"}),
    default_on_error="closed",
    offload_at_chars=20_000,
)
