"""Compiles guardrail chains at config load and runs them concurrently with per-check timeouts and actions.

Public API (what the gateway calls):
    engine = PiiEngine(phone_regions=("US", "GB"), ner=False)        # once, at start-up (~1.3 s, blocking)
    runner = GuardrailRunner(pii_engine=engine, hash_secret=secret)  # once
    compiled = runner.compile(chain, "input")                        # at config load; GuardrailConfigError
    outcome = await runner.run("input", compiled, body, CheckContext(stage="input", model=..., metadata=...))
    outcome.denied / outcome.denied_by / outcome.body (redacted copy or None) / outcome.results
    checker = runner.stream_checker(compiled_output, context)        # incremental output streams
    runner.close(); engine.close()                                   # at shutdown
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from guardrails.base import CheckFacts, CheckInput, Guardrail, GuardrailConfigError
from guardrails.outcome import ChainOutcome, merge_edits
from guardrails.stream import OutputStreamChecker
from guardrails.text import TextEdit, TextSegment, apply_replacements, apply_text_edits, extract_segments
from schemas.chat import JsonObject
from schemas.guardrails import (
    ActionTaken,
    CheckContext,
    CheckResult,
    FailMode,
    GuardrailChain,
    GuardrailCheckConfig,
    Stage,
    Verdict,
)

MAX_ERROR_CHARS = 300


class CompiledCheck(msgspec.Struct, kw_only=True, frozen=True):
    """One check ready to run: its guardrail, decoded params and compiled state."""

    config: GuardrailCheckConfig
    guardrail: Guardrail
    params: Any
    compiled: Any
    name: str
    on_error: FailMode


class CompiledChain(msgspec.Struct, kw_only=True, frozen=True):
    """A validated chain for one stage; build once per config, reuse for every request."""

    stage: Stage
    checks: tuple[CompiledCheck, ...] = ()

    @property
    def incremental_checks(self) -> tuple[CompiledCheck, ...]:
        """Checks whose failure on a partial stream window is meaningful."""
        return tuple(c for c in self.checks if c.guardrail.incremental(c.params))


class _CheckRun(msgspec.Struct, kw_only=True):
    result: CheckResult
    facts: CheckFacts | None
    segments: list[TextSegment]


class GuardrailRunner:
    """Runs compiled chains; owns nothing global. CPU-heavy checks run in the PII engine's worker thread."""

    def __init__(
        self, *, hash_secret: bytes, pii_engine: Any = None, guardrails: Mapping[str, Guardrail] | None = None
    ) -> None:
        if guardrails is None:
            from guardrails.registry import load_guardrails

            guardrails = load_guardrails()
        self.guardrails = guardrails
        self.pii_engine = pii_engine
        self._hash_secret = hash_secret
        self._own_executor = (
            None
            if pii_engine is not None
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrails-worker")
        )
        self.executor: ThreadPoolExecutor = (
            pii_engine.executor if pii_engine is not None else self._own_executor
        )

    def close(self) -> None:
        """Stop the runner's own worker thread (only when no PII engine was passed in)."""
        if self._own_executor is not None:
            self._own_executor.shutdown(wait=True, cancel_futures=True)

    # --- config load ---------------------------------------------------------------------------

    def compile(self, chain: GuardrailChain, stage: Stage) -> CompiledChain:
        """Validate and compile a chain for a stage; GuardrailConfigError names the check and field."""
        compiled = []
        for index, config in enumerate(chain.checks):
            name = config.name or config.id
            where = f"{stage} guardrail check {index} ({name!r})"
            guardrail = self.guardrails.get(config.id)
            if guardrail is None:
                raise GuardrailConfigError(
                    f"{where}: unknown check id {config.id!r}; known: {sorted(self.guardrails)}"
                )
            if stage not in guardrail.stages:
                raise GuardrailConfigError(f"{where}: check {config.id!r} does not run on the {stage} stage")
            if config.action == "redact" and not guardrail.can_redact:
                raise GuardrailConfigError(f"{where}: action 'redact' is not supported by {config.id!r}")
            if not 1 <= config.timeout_ms <= 60_000:
                raise GuardrailConfigError(f"{where}: timeout_ms must be between 1 and 60000")
            if guardrail.needs_pii_engine and self.pii_engine is None:
                raise GuardrailConfigError(f"{where}: the gateway was started without the PII engine")
            try:
                params = msgspec.convert(config.params, guardrail.Params)
            except msgspec.ValidationError as exc:
                raise GuardrailConfigError(f"{where}: params: {exc}") from None
            try:
                state = guardrail.compile(params, self.pii_engine) if guardrail.compile else None
            except ValueError as exc:
                raise GuardrailConfigError(f"{where}: params.{exc}") from None
            compiled.append(
                CompiledCheck(
                    config=config,
                    guardrail=guardrail,
                    params=params,
                    compiled=state,
                    name=name,
                    on_error=config.on_error or guardrail.default_on_error,
                )
            )
        return CompiledChain(stage=stage, checks=tuple(compiled))

    # --- request time --------------------------------------------------------------------------

    async def run(
        self, stage: Stage, chain: CompiledChain, body: JsonObject, context: CheckContext
    ) -> ChainOutcome:
        """Run every check of the chain concurrently on the body and combine their actions."""
        if chain.stage != stage:
            raise ValueError(f"chain compiled for {chain.stage!r} run on {stage!r}")
        return await self.run_checks(stage, chain.checks, body, context)

    async def run_checks(
        self, stage: Stage, checks: tuple[CompiledCheck, ...], body: JsonObject, context: CheckContext
    ) -> ChainOutcome:
        """Run the given checks (a chain or a subset of one) and combine their actions."""
        if not checks:
            return ChainOutcome(stage=stage)
        by_scope: dict[str, list[TextSegment]] = {}
        for check in checks:
            if check.config.scope not in by_scope:
                by_scope[check.config.scope] = extract_segments(body, stage, check.config.scope)
        runs = await asyncio.gather(
            *(self._run_one(stage, check, by_scope[check.config.scope], context) for check in checks)
        )
        return _combine(stage, body, runs)

    def stream_checker(
        self,
        chain: CompiledChain,
        context: CheckContext,
        *,
        window_chars: int = 256,
        holdback_chars: int = 64,
        check_every_chars: int = 32,
    ) -> OutputStreamChecker:
        """An incremental checker for one output stream (see guardrails.stream.OutputStreamChecker)."""
        return OutputStreamChecker(
            self,
            chain,
            context,
            window_chars=window_chars,
            holdback_chars=holdback_chars,
            check_every_chars=check_every_chars,
        )

    async def _invoke(self, check: CompiledCheck, data: CheckInput) -> CheckFacts:
        function = check.guardrail.check
        if inspect.iscoroutinefunction(function):
            return await function(data)
        threshold = check.guardrail.offload_at_chars
        if threshold >= 0 and sum(len(s.text) for s in data.segments) >= threshold:
            return await asyncio.get_running_loop().run_in_executor(self.executor, function, data)
        facts = function(data)
        return await facts if inspect.isawaitable(facts) else facts

    async def _run_one(
        self, stage: Stage, check: CompiledCheck, segments: list[TextSegment], context: CheckContext
    ) -> _CheckRun:
        data = CheckInput(
            segments=segments,
            params=check.params,
            compiled=check.compiled,
            context=context,
            # deny also computes edits so the log can keep a redacted copy of what was blocked
            redact=check.config.action == "redact" or (check.config.action == "deny" and check.guardrail.can_redact),
            pii_engine=self.pii_engine,
            hash_secret=self._hash_secret,
        )
        started_ns, started = time.time_ns(), time.perf_counter()
        facts: CheckFacts | None = None
        error: str | None = None
        try:
            facts = await asyncio.wait_for(self._invoke(check, data), timeout=check.config.timeout_ms / 1000)
        except TimeoutError:
            error = f"timed out after {check.config.timeout_ms} ms"
        except Exception as exc:  # a failing check is a verdict, not a crash
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        latency_ms = (time.perf_counter() - started) * 1000
        verdict: Verdict
        action_taken: ActionTaken
        if facts is None:
            verdict = "error"
            failed_closed = check.on_error == "closed"
            # A redactor that could not run cannot guarantee the rewrite: failing closed means deny.
            action_taken = (
                ("deny" if check.config.action == "redact" else check.config.action)
                if failed_closed
                else "none"
            )
        elif facts.passed:
            verdict, action_taken = "passed", "none"
        else:
            verdict = "failed"
            action_taken = check.config.action
            if action_taken == "redact" and not facts.edits:
                action_taken = "deny"  # failed with nothing to rewrite: cannot make the text pass
        result = CheckResult(
            check_id=check.guardrail.id,
            name=check.name,
            stage=stage,
            verdict=verdict,
            action=check.config.action,
            action_taken=action_taken,
            findings=facts.findings if facts else [],
            latency_ms=round(latency_ms, 3),
            started_unix_ns=started_ns,
            ended_unix_ns=started_ns + int(latency_ms * 1e6),
            error=error,
            fail_mode=check.on_error,
            hook_id=check.config.hook_id,
        )
        return _CheckRun(result=result, facts=facts, segments=segments)


def _combine(stage: Stage, body: JsonObject, runs: list[_CheckRun]) -> ChainOutcome:
    results = [run.result for run in runs]
    denied_by = [run.result.name for run in runs if run.result.action_taken == "deny"]
    rewritten = _apply_edits(body, runs, ("deny", "redact") if denied_by else ("redact",))
    if denied_by:
        return ChainOutcome(stage=stage, denied=True, denied_by=denied_by, results=results, log_body=rewritten)
    return ChainOutcome(stage=stage, body=rewritten, results=results)


def _apply_edits(body: JsonObject, runs: list[_CheckRun], actions: tuple[str, ...]) -> JsonObject | None:
    """The body with the edits of every run whose action was taken, applied once per segment (chain order =
    precedence); None when nothing changes."""
    per_segment: dict[tuple[Any, ...], tuple[TextSegment, list[list[TextEdit]]]] = {}
    for run in runs:
        if run.result.action_taken not in actions or run.facts is None:
            continue
        for seg_index, edits in sorted(run.facts.edits.items()):
            segment = run.segments[seg_index]
            key = (segment.path, segment.json_path)
            per_segment.setdefault(key, (segment, []))[1].append(edits)
    if not per_segment:
        return None
    replacements = [
        (segment, apply_text_edits(segment.text, merge_edits(edit_lists)))
        for segment, edit_lists in per_segment.values()
    ]
    return apply_replacements(body, replacements)
