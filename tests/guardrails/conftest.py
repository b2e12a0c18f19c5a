"""Shared fixtures for the guardrail tests: one real PII engine and runner per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guardrails.pii_engine import PiiEngine
from guardrails.runner import GuardrailRunner

HASH_SECRET = b"test-secret-0123456789abcdef"


@pytest.fixture(scope="session")
def pii_engine() -> Iterator[PiiEngine]:
    engine = PiiEngine(phone_regions=("US", "GB", "DE", "FR"))
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def runner(pii_engine: PiiEngine) -> GuardrailRunner:
    return GuardrailRunner(pii_engine=pii_engine, hash_secret=HASH_SECRET)
