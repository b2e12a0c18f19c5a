"""Fixtures for the store tests: a migrated Store on the session chDB path, one database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store.client import Store, StoreConfig


@pytest.fixture
def store_config(chdb_dsn: str, database_name: str, tmp_path: Path) -> StoreConfig:
    return StoreConfig(dsn=chdb_dsn, database=database_name, spool_dir=str(tmp_path / "spool"),
                       flush_interval_ms=50, fsync_window_ms=2, batch_rows=500)


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[Store]:
    opened = Store.connect(store_config)
    opened.migrate()
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {store_config.database}")
    opened.close()
