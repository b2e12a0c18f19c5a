"""Incremental output-stream checking: re-check a sliding window, hold back a tail, cut the stream on deny.

Text is released to the client only after a window containing it passed, and the last `holdback_chars`
are always held until more text (or the end) arrives, so an entity up to that length split across chunks
("alice@exa" + "mple.com") is seen whole before any part of it is sent. Only deny-action checks that are
meaningful on partial text (pii, regex must-not-match, contains none) run per window; the full chain runs
once in `finish()`. Redaction needs the `buffer` stream mode; here a redact-action hit is recorded only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from guardrails.outcome import ChainOutcome
from schemas.guardrails import CheckContext, CheckResult

if TYPE_CHECKING:
    from guardrails.runner import CompiledChain, GuardrailRunner


class StreamDecision(msgspec.Struct, kw_only=True):
    """What to do after a delta: forward `release` (may be empty), or stop with an error event if denied."""

    release: str = ""
    denied: bool = False
    denied_by: list[str] = msgspec.field(default_factory=list)
    results: list[CheckResult] = msgspec.field(default_factory=list)  # the failing window results, if any


class StreamFinish(msgspec.Struct, kw_only=True):
    """End of stream: the held-back tail to forward (empty when denied) and the full chain's outcome."""

    release: str
    outcome: ChainOutcome
    windows_checked: int = 0


def _shift(results: list[CheckResult], offset: int) -> list[CheckResult]:
    for result in results:
        for finding in result.findings:
            if finding.start is not None:
                finding.start += offset
            if finding.end is not None:
                finding.end += offset
            finding.path = "stream"
    return results


class OutputStreamChecker:
    """One stream's incremental checker; create per response with GuardrailRunner.stream_checker()."""

    def __init__(
        self,
        runner: GuardrailRunner,
        chain: CompiledChain,
        context: CheckContext,
        *,
        window_chars: int,
        holdback_chars: int,
        check_every_chars: int,
    ) -> None:
        if window_chars < 0 or holdback_chars < 0 or check_every_chars < 1:
            raise ValueError("window_chars and holdback_chars must be >= 0, check_every_chars >= 1")
        self._runner = runner
        self._chain = chain
        self._context = context
        self._window_checks = tuple(c for c in chain.incremental_checks if c.config.action == "deny")
        self._window_chars = window_chars
        self._holdback = holdback_chars if self._window_checks else 0
        self._check_every = check_every_chars if self._window_checks else 1
        self._text = ""
        self._released = 0  # chars already handed to the client
        self._checked = 0  # chars covered by the last passing window
        self._denial: ChainOutcome | None = None
        self.windows_checked = 0

    @property
    def text(self) -> str:
        """Everything received so far."""
        return self._text

    async def feed(self, delta: str) -> StreamDecision:
        """Add a text delta; returns the text now safe to forward, or a denial."""
        if self._denial is not None:
            return StreamDecision(denied=True, denied_by=self._denial.denied_by)
        self._text += delta
        if len(self._text) - self._checked >= self._check_every:
            denial = await self._check_window()
            if denial is not None:
                return denial
        return StreamDecision(release=self._release_up_to(self._checked - self._holdback))

    async def finish(self) -> StreamFinish:
        """End of stream: check the last window, then run the whole chain on the complete text."""
        if self._denial is None and self._checked < len(self._text):
            await self._check_window()
        if self._denial is not None:
            return StreamFinish(release="", outcome=self._denial, windows_checked=self.windows_checked)
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": self._text}}]}
        outcome = await self._runner.run(self._chain.stage, self._chain, body, self._context)
        release = "" if outcome.denied else self._release_up_to(len(self._text))
        return StreamFinish(release=release, outcome=outcome, windows_checked=self.windows_checked)

    def _release_up_to(self, end: int) -> str:
        if end <= self._released:
            return ""
        chunk = self._text[self._released : end]
        self._released = end
        return chunk

    async def _check_window(self) -> StreamDecision | None:
        end = len(self._text)
        if not self._window_checks:
            self._checked = end
            return None
        start = max(0, self._released - self._window_chars)
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": self._text[start:end]}}]}
        outcome = await self._runner.run_checks(self._chain.stage, self._window_checks, body, self._context)
        self.windows_checked += 1
        if outcome.denied:
            failing = _shift([r for r in outcome.results if r.action_taken == "deny"], start)
            self._denial = ChainOutcome(
                stage=outcome.stage, denied=True, denied_by=outcome.denied_by, results=failing
            )
            return StreamDecision(denied=True, denied_by=outcome.denied_by, results=failing)
        self._checked = end
        return None
