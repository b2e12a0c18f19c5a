"""Incremental output-stream checking: split PII is caught before any part of it is released."""

from __future__ import annotations

import asyncio

from guardrails.runner import GuardrailRunner
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailCheckConfig

CTX = CheckContext(stage="output", model="m")


def _feed_all(runner: GuardrailRunner, chain: GuardrailChain, deltas: list[str], **kw: int):
    async def go():
        checker = runner.stream_checker(runner.compile(chain, "output"), CTX, **kw)
        released, decisions = [], []
        for delta in deltas:
            decision = await checker.feed(delta)
            decisions.append(decision)
            released.append(decision.release)
            if decision.denied:
                return "".join(released), decisions, None
        finish = await checker.finish()
        released.append(finish.release)
        return "".join(released), decisions, finish

    return asyncio.run(go())


PII_DENY = GuardrailChain(checks=[GuardrailCheckConfig(id="pii", action="deny")])


def test_guardrails_stream_email_split_across_chunks(runner: GuardrailRunner) -> None:
    deltas = ["Sure, you can write to ", "alice@exa", "mple.com", " any time you like. " * 3]
    released, decisions, finish = _feed_all(runner, PII_DENY, deltas, check_every_chars=1)
    assert finish is None and any(d.denied for d in decisions)
    assert "alice" not in released and "@exa" not in released
    denial = next(d for d in decisions if d.denied)
    assert denial.denied_by == ["pii"] and denial.results[0].findings[0].entity == "EMAIL_ADDRESS"
    assert denial.results[0].findings[0].start == len(deltas[0])  # position in the whole stream


def test_guardrails_stream_card_split_in_tiny_deltas(runner: GuardrailRunner) -> None:
    text = "My card number is 4111 1111 1111 1111, keep it safe. " + "More filler text here. " * 5
    deltas = [text[i : i + 3] for i in range(0, len(text), 3)]
    released, decisions, _ = _feed_all(runner, PII_DENY, deltas)
    assert any(d.denied for d in decisions)
    assert "4111" not in released


def test_guardrails_stream_clean_text_passes_whole(runner: GuardrailRunner) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    deltas = [text[i : i + 7] for i in range(0, len(text), 7)]
    chain = GuardrailChain(
        checks=[
            GuardrailCheckConfig(id="pii", action="deny"),
            GuardrailCheckConfig(id="length", action="flag", params={"max_words": 50}),
        ]
    )
    released, decisions, finish = _feed_all(runner, chain, deltas)
    assert released == text and not any(d.denied for d in decisions)
    assert finish is not None and not finish.outcome.denied
    assert finish.windows_checked < len(deltas)  # throttled by check_every_chars
    assert {r.check_id: r.verdict for r in finish.outcome.results} == {"pii": "passed", "length": "failed"}


def test_guardrails_stream_finish_runs_whole_chain(runner: GuardrailRunner) -> None:
    chain = GuardrailChain(
        checks=[GuardrailCheckConfig(id="length", action="deny", params={"min_words": 50})]
    )
    released, _, finish = _feed_all(runner, chain, ["short ", "answer"])
    assert released == "short answer"  # nothing incremental to wait for: released as it came
    assert finish is not None and finish.outcome.denied and finish.release == ""
