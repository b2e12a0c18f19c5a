"""Migrations: apply in order, idempotent, concurrent-safe, cluster rendering; DSN parsing."""

from __future__ import annotations

import threading

import pytest

from gateway.store.client import Store, StoreConfig, parse_dsn
from gateway.store.migrations import MigrationSettings, apply_migrations, load_migrations

EXPECTED_TABLES = {"requests", "spans", "guardrail_results", "audit_log", "requests_daily", "requests_daily_mv",
                   "schema_migrations"}


def test_store_migrations_apply_once_and_are_idempotent(store: Store) -> None:
    versions = [migration.version for migration in load_migrations(store.migration_settings())]
    assert versions == sorted(versions) and versions[:5] == [1, 2, 3, 4, 5]
    assert store.migrate() == []  # the fixture already applied everything
    assert store.migrate() == []
    tables = {row[0] for row in store.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                            {"db": store.database})}
    assert tables >= EXPECTED_TABLES
    recorded = store.query(f"SELECT version FROM {store.database}.schema_migrations FINAL ORDER BY version")
    assert [row[0] for row in recorded] == versions


def test_store_migrations_concurrent_runs_are_safe(store_config: StoreConfig) -> None:
    opened = Store.connect(store_config)
    try:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                opened.migrate()
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert opened.migrate() == []
        distinct = opened.query(f"SELECT count(DISTINCT version) FROM {store_config.database}.schema_migrations")
        assert distinct[0][0] == len(load_migrations(opened.migration_settings()))
    finally:
        opened.command(f"DROP DATABASE IF EXISTS {store_config.database}")
        opened.close()


def test_store_migrations_templating_sets_ttl_and_dedup_window(store: Store) -> None:
    ddl = store.query("SELECT create_table_query FROM system.tables WHERE database = {db:String} "
                      "AND name = 'requests'", {"db": store.database})[0][0]
    assert "toIntervalDay(30)" in ddl and "toIntervalDay(400)" in ddl
    assert "non_replicated_deduplication_window = 1000" in ddl
    assert "ReplacingMergeTree" in ddl and "toYYYYMM(started_at)" in ddl


def test_store_migrations_cluster_rendering() -> None:
    settings = MigrationSettings(database="pc", cluster="main", body_ttl_days=7, row_ttl_days=90)
    statements = [statement for migration in load_migrations(settings) for statement in migration.statements]
    text = "\n".join(statements)
    assert "{" not in text.replace("{shard}", "").replace("{replica}", "")
    assert "CREATE TABLE IF NOT EXISTS pc.requests_local ON CLUSTER main" in text
    assert "ENGINE = ReplicatedReplacingMergeTree" in text
    assert "non_replicated_deduplication_window" not in text
    assert ("CREATE TABLE IF NOT EXISTS pc.requests ON CLUSTER main AS pc.requests_local "
            "ENGINE = Distributed(main, pc, requests_local, cityHash64(request_id))") in statements
    assert "TO pc.requests_daily_local" in text and "FROM pc.requests_local" in text
    for table in ("requests", "spans", "guardrail_results", "audit_log", "requests_daily"):
        assert any(s.startswith(f"CREATE TABLE IF NOT EXISTS pc.{table} ON CLUSTER main AS") for s in statements)


def test_store_migrations_reject_bad_identifiers() -> None:
    class Recorder:
        def command(self, sql: str) -> None:
            raise AssertionError("must not run")

    with pytest.raises(ValueError, match="database"):
        apply_migrations(Recorder(), MigrationSettings(database="x; DROP TABLE y"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cluster"):
        load_migrations(MigrationSettings(database="ok", cluster="a b"))


def test_store_dsn_parsing() -> None:
    assert parse_dsn("chdb:///var/lib/pc").chdb_path == "/var/lib/pc"
    assert parse_dsn("chdb://memory").chdb_path is None
    relative = parse_dsn("chdb://./.portcullis/clickhouse")
    assert relative.interface == "chdb" and relative.chdb_path is not None
    assert relative.chdb_path.endswith("/.portcullis/clickhouse") and relative.chdb_path.startswith("/")
    http = parse_dsn("https://user:pw@ch.example:8443/?secure=1")
    assert http.interface == "https" and http.url.startswith("https://")
    assert parse_dsn("http://127.0.0.1:8123").interface == "http"
    for bad in ("postgres://x", "http://", "clickhouse"):
        with pytest.raises(ValueError):
            parse_dsn(bad)


def test_store_ping_and_parameterised_query(store: Store) -> None:
    assert store.ping()
    assert store.query("SELECT {n:UInt32} + 1", {"n": 41}) == [(42,)]
