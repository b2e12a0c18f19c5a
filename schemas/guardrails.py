"""Guardrail config types (native and Portkey shorthand) and the logged result of every check run."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Stage = Literal["input", "output"]
GuardrailAction = Literal["deny", "redact", "flag"]
FailMode = Literal["open", "closed"]
Verdict = Literal["passed", "failed", "error"]
ActionTaken = Literal["none", "deny", "redact", "flag"]
TextScope = Literal["all", "last_message"]
# buffer: hold the stream until the output chain passed; incremental: check a sliding window as text
# arrives and cut the stream on deny; post: check after the end, record only.
StreamOutputMode = Literal["buffer", "incremental", "post"]


class GuardrailCheckConfig(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One configured check: which guardrail, its params, and what a failure does."""

    id: str  # guardrail id == module name in guardrails/, e.g. "pii", "regex", "length"
    name: str | None = None  # display name; defaults to the id
    params: dict[str, Any] = msgspec.field(default_factory=dict)  # decoded with the check's Params
    action: GuardrailAction = "deny"
    on_error: FailMode | None = None  # None = the check's default fail mode
    timeout_ms: int = 1000
    scope: TextScope = "all"  # which text the check sees: every message, or the last message only
    hook_id: str | None = None  # groups checks into Portkey hooks for hook_results


class GuardrailChain(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """An ordered list of checks run concurrently on one stage; order decides redaction precedence."""

    checks: list[GuardrailCheckConfig] = msgspec.field(default_factory=list)


class Finding(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a check found, without the matched text: entity type, where, how sure, how many."""

    entity: str
    path: str | None = None  # e.g. "messages[2].content[1].text" or "...arguments$.card"
    start: int | None = None
    end: int | None = None
    score: float | None = None
    count: int = 1
    detail: str | None = None  # non-secret explanation (schema error path, measured length, ...)


class CheckResult(msgspec.Struct, kw_only=True):
    """One check run, as logged to ClickHouse and spans; never carries matched text."""

    check_id: str
    name: str
    stage: Stage
    verdict: Verdict
    action: GuardrailAction  # configured action
    action_taken: ActionTaken  # what the failure caused ("none" when passed or failed open)
    findings: list[Finding] = msgspec.field(default_factory=list)
    latency_ms: float = 0.0
    started_unix_ns: int = 0
    ended_unix_ns: int = 0
    error: str | None = None
    fail_mode: FailMode = "closed"
    hook_id: str | None = None


# --- Portkey shorthand -------------------------------------------------------------------------

_PORTKEY_HOOK_OPTIONS = frozenset(
    {"deny", "on_fail", "on_success", "async", "id", "type", "sequential", "guardrail_version_id", "name"}
)


class GuardrailShorthandError(ValueError):
    """A Portkey-style guardrail list could not be mapped to our checks."""


def _portkey_regex_match(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "regex", {"patterns": [p["rule"]], "mode": "must_not_match" if p.get("not") else "must_match"}


def _portkey_regex_replace(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "regex", {
        "patterns": [p["rule"]],
        "mode": "redact",
        "replacement": p.get("redactText", "[REDACTED]"),
    }


def _portkey_count(unit: str, lo: str, hi: str, big: int) -> Any:
    def convert(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {f"min_{unit}": int(p.get(lo, 0)), "invert": bool(p.get("not", False))}
        if int(p.get(hi, big)) < big:
            params[f"max_{unit}"] = int(p[hi])
        return "length", params

    return convert


def _portkey_contains(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "contains", {
        "words": list(p["words"]),
        "operator": p.get("operator", "any"),
        "case_sensitive": True,
    }


def _portkey_model_whitelist(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "model_allowlist", {"models": list(p["models"]), "invert": bool(p.get("not", False))}


def _portkey_required_metadata(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "required_metadata", {"keys": list(p["metadataKeys"]), "operator": p.get("operator", "all")}


def _portkey_json_schema(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "json_schema", {"schema": p["schema"], "invert": bool(p.get("not", False))}


def _portkey_valid_urls(p: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "valid_urls", {"only_dns": bool(p.get("onlyDNS", False)), "invert": bool(p.get("not", False))}


_PORTKEY_CHECKS: dict[str, Any] = {
    "regexMatch": _portkey_regex_match,
    "regexReplace": _portkey_regex_replace,
    "wordCount": _portkey_count("words", "minWords", "maxWords", 99999),
    "sentenceCount": _portkey_count("sentences", "minSentences", "maxSentences", 99999),
    "characterCount": _portkey_count("chars", "minCharacters", "maxCharacters", 9999999),
    "contains": _portkey_contains,
    "modelWhitelist": _portkey_model_whitelist,
    "requiredMetadataKeys": _portkey_required_metadata,
    "jsonSchema": _portkey_json_schema,
    "validUrls": _portkey_valid_urls,
}


def _convert_portkey_check(
    name: str, params: Any, hook: dict[str, Any], hook_id: str
) -> GuardrailCheckConfig:
    if not isinstance(params, dict):
        raise GuardrailShorthandError(f"check {name!r}: parameters must be an object")
    params = dict(params)
    fail_on_error = bool(params.pop("failOnError", False))
    plugin, _, fn = name.rpartition(".")
    plugin = plugin or "default"
    if plugin == "portcullis":  # our native checks reachable from the shorthand: {"portcullis.pii": {...}}
        check_id, native = fn, params
    elif plugin == "default" and fn in _PORTKEY_CHECKS:
        try:
            check_id, native = _PORTKEY_CHECKS[fn](params)
        except KeyError as exc:
            raise GuardrailShorthandError(f"check {name!r}: missing parameter {exc.args[0]!r}") from None
    else:
        known = ", ".join(sorted(f"default.{k}" for k in _PORTKEY_CHECKS))
        raise GuardrailShorthandError(
            f"unsupported Portkey check {name!r}; supported: {known}, or portcullis.<check id>"
        )
    deny = bool(hook.get("deny", False))
    if hook.get("async"):  # async hooks are log-only in Portkey's hosted product
        action = "flag"
    elif fn == "regexReplace" and plugin == "default":
        action = "deny" if deny and params.get("failOnDetection") else "redact"
    elif plugin == "portcullis" and params.get("redact"):
        native = {k: v for k, v in params.items() if k != "redact"}
        action = "redact"
    else:
        action = "deny" if deny else "flag"
    return GuardrailCheckConfig(
        id=check_id,
        name=name,
        params=native,
        action=action,
        on_error="closed" if fail_on_error else "open",  # Portkey: an erroring check passes
        scope="last_message",  # Portkey checks the last message only
        hook_id=hook_id,
    )


def parse_portkey_guardrails(items: list[Any], *, stage: Stage) -> GuardrailChain:
    """Map Portkey's `input_guardrails`/`output_guardrails` list to a chain (GuardrailShorthandError)."""
    if not isinstance(items, list):
        raise GuardrailShorthandError(f"{stage}_guardrails must be a list of hooks")
    checks: list[GuardrailCheckConfig] = []
    for index, hook in enumerate(items):
        if not isinstance(hook, dict):
            raise GuardrailShorthandError(f"{stage}_guardrails[{index}] must be an object")
        hook_id = str(hook.get("id") or f"{stage}_guardrail_{index}")
        for key, value in hook.items():
            if key not in _PORTKEY_HOOK_OPTIONS:
                checks.append(_convert_portkey_check(key, value, hook, hook_id))
    return GuardrailChain(checks=checks)


_NATIVE_CHECK_FIELDS = frozenset(GuardrailCheckConfig.__struct_fields__)


def _is_native_check(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item and set(item) <= _NATIVE_CHECK_FIELDS


def parse_guardrail_chain(value: Any, *, stage: Stage) -> GuardrailChain:
    """Accept our native form ({"checks": [...]} or a list of check objects) or Portkey's shorthand list."""
    if isinstance(value, GuardrailChain):
        return value
    if isinstance(value, dict):
        return msgspec.convert(value, GuardrailChain)
    if isinstance(value, list) and value and all(_is_native_check(item) for item in value):
        return msgspec.convert({"checks": value}, GuardrailChain)
    return parse_portkey_guardrails(value, stage=stage)


class CheckContext(msgspec.Struct, kw_only=True, frozen=True):
    """What a check may know beyond the text: the stage, the requested model and the caller's metadata."""

    stage: Stage
    model: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
