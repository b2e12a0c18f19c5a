"""The valid_urls check: well-formed http(s) URLs pass, junk fails with positions, Portkey's validUrls maps to it."""

from __future__ import annotations

import pytest

from guardrails.runner import GuardrailRunner
from schemas.guardrails import CheckContext, GuardrailChain, GuardrailCheckConfig, parse_guardrail_chain


def _completion(text: str) -> dict:  # type: ignore[type-arg]
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


@pytest.mark.anyio
@pytest.mark.parametrize(("text", "passed"), [
    ("see https://docs.example.com/a?b=1 and http://10.0.0.1:8080/x.", True),
    ("no links at all", True),
    ("broken http://exa mple and https://-bad-.com/", False),
    ("ftp://files.example.com is not web", False),
    ("port https://example.com:99999/", False),
])
async def test_valid_urls_verdicts(runner: GuardrailRunner, text: str, passed: bool) -> None:
    chain = runner.compile(GuardrailChain(checks=[GuardrailCheckConfig(id="valid_urls", action="flag")]), "output")
    outcome = await runner.run("output", chain, _completion(text), CheckContext(stage="output"))
    [result] = outcome.results
    assert (result.verdict == "passed") is passed
    for finding in result.findings:
        assert finding.entity == "INVALID_URL" and finding.start is not None and finding.end is not None


def test_portkey_valid_urls_maps_to_our_check() -> None:
    chain = parse_guardrail_chain([{"default.validUrls": {"onlyDNS": True}, "deny": False}], stage="output")
    [check] = chain.checks
    assert check.id == "valid_urls" and check.params == {"only_dns": True, "invert": False} and check.action == "flag"
