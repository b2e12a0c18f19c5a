"""Session-wide fixtures: one embedded ClickHouse (chDB) path per pytest process, a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# presidio's email recognizer would otherwise try to download the public suffix list.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The one chDB path this pytest process may open (chDB allows one path per process)."""
    path: Path = tmp_path_factory.mktemp("clickhouse")
    yield f"chdb://{path}"


@pytest.fixture
def database_name() -> str:
    """A unique ClickHouse database name so tests sharing the chDB path never see each other's rows."""
    return f"pc_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def simulator() -> Iterator[object]:
    """One upstream simulator (OpenAI/Anthropic/Gemini wire formats) on 127.0.0.1 for the whole session."""
    from gateway.simulator.config import SimulatorConfig
    from gateway.simulator.runner import run_in_thread

    with run_in_thread(SimulatorConfig()) as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked `anyio`) run on asyncio."""
    return "asyncio"
