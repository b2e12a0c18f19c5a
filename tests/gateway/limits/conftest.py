"""Fixtures for the limits tests: a migrated Store on the session chDB path, one database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.store.client import Store, StoreConfig


@pytest.fixture
def limits_store(chdb_dsn: str, database_name: str) -> Iterator[Store]:
    opened = Store.connect(StoreConfig(dsn=chdb_dsn, database=database_name))
    opened.migrate()
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {database_name}")
