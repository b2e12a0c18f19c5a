"""What a chain run produced (deny, rewritten body, per-check results) and its Portkey `hook_results` form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from guardrails.text import TextEdit
from schemas.chat import JsonObject
from schemas.guardrails import CheckResult, Stage


class ChainOutcome(msgspec.Struct, kw_only=True):
    """The combined result of one chain run on one stage."""

    stage: Stage
    denied: bool = False
    denied_by: list[str] = msgspec.field(default_factory=list)  # names of the checks whose failure denied
    body: JsonObject | None = None  # the redacted body, or None when nothing was rewritten
    log_body: JsonObject | None = None  # when denied: a copy with the findings redacted, for the request log
    results: list[CheckResult] = msgspec.field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Any check failed or errored closed (Portkey answers 246 for this when not denied)."""
        return any(not _portkey_check_verdict(result) for result in self.results)

    @property
    def redacted(self) -> bool:
        """The body was rewritten."""
        return self.body is not None

    def portkey_hooks(self) -> list[dict[str, Any]]:
        """This stage's checks grouped into Portkey hook objects (by hook_id; one hook for native chains)."""
        hooks: dict[str, list[CheckResult]] = {}
        for result in self.results:
            hooks.setdefault(result.hook_id or f"{self.stage}_guardrails", []).append(result)
        return [_portkey_hook(hook_id, results) for hook_id, results in hooks.items()]


def _portkey_check_verdict(result: CheckResult) -> bool:
    if result.verdict == "passed":
        return True
    if result.verdict == "error":
        return result.fail_mode == "open"
    return result.action_taken == "redact"  # Portkey: a check that redacted passes (transformed=true)


def _iso(unix_ns: int) -> str:
    return datetime.fromtimestamp(unix_ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def _portkey_hook(hook_id: str, results: list[CheckResult]) -> dict[str, Any]:
    checks = []
    for result in results:
        check: dict[str, Any] = {
            "id": result.name,
            "verdict": _portkey_check_verdict(result),
            "data": {"findings": msgspec.to_builtins(result.findings)},
            "execution_time": round(result.latency_ms),
            "transformed": result.action_taken == "redact",
            "created_at": _iso(result.started_unix_ns),
        }
        if result.error:
            check["error"] = {"message": result.error}
        checks.append(check)
    started = min(r.started_unix_ns for r in results)
    ended = max(r.ended_unix_ns for r in results)
    return {
        "id": hook_id,
        "type": "guardrail",
        "verdict": all(check["verdict"] for check in checks),
        "deny": any(result.action == "deny" for result in results),
        "async": False,
        "transformed": any(check["transformed"] for check in checks),
        "execution_time": round((ended - started) / 1e6),
        "created_at": _iso(started),
        "checks": checks,
    }


def hook_results(input_outcome: ChainOutcome | None, output_outcome: ChainOutcome | None) -> dict[str, Any]:
    """Portkey's `hook_results` body field: {"before_request_hooks": [...], "after_request_hooks": [...]}."""
    return {
        "before_request_hooks": input_outcome.portkey_hooks() if input_outcome else [],
        "after_request_hooks": output_outcome.portkey_hooks() if output_outcome else [],
    }


def merge_edits(edits_in_chain_order: list[list[TextEdit]]) -> list[TextEdit]:
    """Combine several checks' edits on one text: disjoint edits all apply (same as applying them one after
    the other); overlapping edits become one edit over their union, with the earliest check's replacement."""
    ranked = sorted(
        (
            (edit.start, edit.end, rank, edit.replacement)
            for rank, edits in enumerate(edits_in_chain_order)
            for edit in edits
        ),
    )
    merged: list[list[Any]] = []  # [start, end, best_rank, replacement]
    for start, end, rank, replacement in ranked:
        if merged and start < merged[-1][1]:
            current = merged[-1]
            current[1] = max(current[1], end)
            if rank < current[2]:
                current[2], current[3] = rank, replacement
        else:
            merged.append([start, end, rank, replacement])
    return [TextEdit(start=s, end=e, replacement=r) for s, e, _, r in merged]
