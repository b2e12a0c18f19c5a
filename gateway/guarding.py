"""Connects guardrail chains to requests: builds chains from server defaults and configs, runs and records them."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import msgspec
from litestar import Response

from gateway.context import RequestContext
from gateway.errors import ConfigError, GatewayError, GuardrailDenied
from gateway.services import Services
from guardrails.base import GuardrailConfigError
from guardrails.outcome import ChainOutcome, hook_results
from guardrails.pii_engine import PiiEngine
from guardrails.runner import CompiledChain, GuardrailRunner
from schemas.chat import JsonObject
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailShorthandError, Stage, parse_guardrail_chain
from schemas.log import GuardrailRow
from schemas.settings import GuardrailSettings

_CACHE_LIMIT = 512
_encoder = msgspec.json.Encoder()
_OUTCOME_RANK = {"none": 0, "passed": 1, "flagged": 2, "redacted": 3, "error": 4, "denied": 5}


class GuardrailService:
    """Owns the PII engine and the runner; compiles each distinct chain once (bounded cache)."""

    def __init__(self, settings: GuardrailSettings, *, hash_secret: bytes) -> None:
        self.settings = settings
        self.engine = PiiEngine(phone_regions=tuple(settings.phone_regions), ner=settings.ner)
        self.runner = GuardrailRunner(pii_engine=self.engine, hash_secret=hash_secret)
        self._compiled: OrderedDict[bytes, CompiledChain | None] = OrderedDict()
        for team in (None, *settings.teams):
            for stage in ("input", "output"):
                self.chain(stage, team, ())  # fail at start-up on a bad server default

    def close(self) -> None:
        """Stop the worker thread."""
        self.runner.close()
        self.engine.close()

    def _sources(self, stage: Stage, team: str | None, items: tuple[Any, ...]) -> list[tuple[str, list[Any]]]:
        settings = self.settings
        sources = [(f"guardrails.{stage}", list(getattr(settings, stage)))]
        team_defaults = settings.teams.get(team) if team else None
        if team_defaults is not None:
            sources.append((f"guardrails.teams.{team}.{stage}", list(getattr(team_defaults, stage))))
        sources.append((f"{stage}_guardrails", list(items)))
        return [(where, value) for where, value in sources if value]

    def chain(self, stage: Stage, team: str | None, items: tuple[Any, ...]) -> CompiledChain | None:
        """The compiled chain for a stage: server default + team default + the config's own checks."""
        key = _encoder.encode([stage, team if team in self.settings.teams else None, items])
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        checks = []
        for where, value in self._sources(stage, team, items):
            try:
                checks.extend(parse_guardrail_chain(value, stage=stage).checks)
            except (GuardrailShorthandError, msgspec.ValidationError, TypeError) as exc:
                raise ConfigError(f"{where}: {exc}", param=where) from None
        compiled = None
        if checks:
            try:
                compiled = self.runner.compile(GuardrailChain(checks=checks), stage)
            except GuardrailConfigError as exc:
                raise ConfigError(f"{stage}_guardrails: {exc}", param=f"{stage}_guardrails") from None
        self._compiled[key] = compiled
        if len(self._compiled) > _CACHE_LIMIT:
            self._compiled.popitem(last=False)
        return compiled


def plan_input_items(plan: Any) -> tuple[Any, ...]:
    """Input checks of the plan: every distinct chain of its targets (a request is checked once, before routing)."""
    seen: list[Any] = []
    for leaf in plan.leaves():
        for item in leaf.input_guardrails:
            if item not in seen:
                seen.append(item)
    return tuple(seen)


def record_outcome(services: Services, ctx: RequestContext, outcome: ChainOutcome) -> None:
    """Rows, spans and metrics for every check; the request's guardrail summary."""
    telemetry = services.telemetry
    label = "passed"
    for result in outcome.results:
        ctx.guardrail_rows.append(_row(ctx, result))
        if telemetry is not None:
            telemetry.record_guardrail(ctx, result)
        if result.verdict != "passed":
            ctx.guardrail_failed.append(result.check_id)
        taken = {"deny": "denied", "redact": "redacted", "flag": "flagged"}.get(result.action_taken)
        if taken is None and result.verdict == "error":
            taken = "error"
        if taken and _OUTCOME_RANK[taken] > _OUTCOME_RANK[label]:
            label = taken
    if outcome.denied:
        label = "denied"
    if _OUTCOME_RANK[label] > _OUTCOME_RANK[ctx.guardrail_outcome]:
        ctx.guardrail_outcome = label


def _row(ctx: RequestContext, result: Any) -> GuardrailRow:
    from datetime import UTC, datetime

    findings = [{"type": f.entity, "start": f.start, "end": f.end, "score": f.score, "path": f.path,
                 "count": f.count} for f in result.findings]
    return GuardrailRow(
        request_id=ctx.request_id,
        trace_id=ctx.trace_id,
        started_at=datetime.fromtimestamp(result.started_unix_ns / 1e9, tz=UTC),
        stage=result.stage,
        check_id=result.check_id,
        check_name=result.name,
        verdict=result.verdict,
        action=result.action_taken,
        entity_types=sorted({f.entity for f in result.findings}),
        finding_count=sum(f.count for f in result.findings),
        findings_json=json.dumps(findings, separators=(",", ":")),
        latency_ms=result.latency_ms,
        error_message=(result.error or "")[:300],
        team=ctx.team,
        feature=ctx.metadata.get("feature", ""),
        key_id=ctx.key_id,
    )


def check_context(ctx: RequestContext, stage: Stage) -> CheckContext:
    """What checks may know of the request: stage, requested model, caller metadata (same for every path)."""
    return CheckContext(stage=stage, model=ctx.model_requested, metadata=ctx.metadata)


async def input_request(services: Services, ctx: RequestContext, plan: Any, body: JsonObject) -> JsonObject:
    """Run the input chain; deny raises GuardrailDenied (provider never called), redact returns the new body."""
    service: GuardrailService | None = services.guardrails
    if service is None:
        return body
    chain = service.chain("input", ctx.team, plan_input_items(plan))
    if chain is None:
        return body
    outcome = await service.runner.run("input", chain, body, check_context(ctx, "input"))
    ctx.input_outcome = outcome
    record_outcome(services, ctx, outcome)
    if outcome.denied:
        if outcome.log_body is not None:  # the log shows what was blocked, never the secret that blocked it
            ctx.request_body = _encoder.encode(outcome.log_body)
        names = ", ".join(outcome.denied_by)
        raise GuardrailDenied(f"the request was blocked by input guardrails: {names}", failed_checks=outcome.denied_by)
    if outcome.body is None:
        return body
    ctx.request_body = _encoder.encode(outcome.body)  # the log keeps what the provider got, never the original
    return outcome.body


def output_chain(services: Services, ctx: RequestContext, leaf: Any) -> CompiledChain | None:
    """The output chain for the target that served."""
    service: GuardrailService | None = services.guardrails
    if service is None:
        return None
    return service.chain("output", ctx.team, tuple(leaf.output_guardrails) if leaf is not None else ())


def withhold(body: JsonObject) -> JsonObject:
    """Replace every choice's content with nothing and mark it `content_filter` (Azure's convention)."""
    out = dict(body)
    choices = []
    for choice in body.get("choices") or []:
        choice = dict(choice)
        choice["message"] = {"role": "assistant", "content": None}
        choice["finish_reason"] = "content_filter"
        choices.append(choice)
    out["choices"] = choices
    return out


async def output_completion(services: Services, ctx: RequestContext, leaf: Any, content: bytes) -> bytes:
    """Run the output chain on a completion; deny withholds the content (or errors, per settings)."""
    chain = output_chain(services, ctx, leaf)
    if chain is None and not ctx.portkey_mode:
        return content
    body = msgspec.json.decode(content)
    outcome = None
    if chain is not None:
        service: GuardrailService = services.guardrails
        outcome = await service.runner.run("output", chain, body, check_context(ctx, "output"))
        ctx.output_outcome = outcome
        record_outcome(services, ctx, outcome)
        if outcome.denied:
            if service.settings.output_deny == "error":
                raise GuardrailDenied(
                    f"the answer was withheld by output guardrails: {', '.join(outcome.denied_by)}",
                    failed_checks=outcome.denied_by,
                )
            body = withhold(body)
            ctx.finish_reason = "content_filter"
        elif outcome.body is not None:
            body = outcome.body
    if ctx.portkey_mode:
        input_outcome = ctx.input_outcome
        if input_outcome is not None or outcome is not None:
            body["hook_results"] = hook_results(input_outcome, outcome)
            failed = any(o is not None and o.failed for o in (input_outcome, outcome))
            if failed:
                ctx.http_status = 246
    elif chain is None:
        return content
    return _encoder.encode(body)


def portkey_denial(ctx: RequestContext, exc: GatewayError) -> Response[bytes] | None:
    """Portkey-config callers get Portkey's 446 + hook_results for guardrail denials."""
    if not ctx.portkey_mode or not isinstance(exc, GuardrailDenied):
        return None
    body = {
        "error": {"message": exc.message, "type": "hooks_failed", "param": None, "code": "content_filter"},
        "hook_results": hook_results(ctx.input_outcome, ctx.output_outcome),
    }
    return Response(_encoder.encode(body), status_code=446, media_type="application/json")
