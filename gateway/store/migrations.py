"""Render the numbered ClickHouse migrations in schemas/clickhouse and apply them once, in order, idempotently."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Protocol

import msgspec

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_DISTRIBUTED = re.compile(r"^--\s*distributed:\s*(\w+)\s+sharding=(\S+)\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{(database|local|on_cluster|body_ttl_days|row_ttl_days|dedup_window|merge_tree"
                          r"|replacing_merge_tree|summing_merge_tree)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MigrationSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Values substituted into the migration templates."""

    database: str = "portcullis"
    cluster: str | None = None
    body_ttl_days: int = 30
    row_ttl_days: int = 400
    dedup_window: int = 1000


class Migration(msgspec.Struct, kw_only=True, frozen=True):
    """One numbered migration file rendered into executable statements."""

    version: int
    name: str
    checksum: str
    statements: tuple[str, ...]


class CommandRunner(Protocol):
    """The part of the store the migrator needs (kept narrow so the migrator is easy to reason about)."""

    def command(self, sql: str) -> None: ...

    def query(self, sql: str, parameters: dict[str, object] | None = None) -> list[tuple[object, ...]]: ...

    def insert(self, table: str, rows: list[list[object]], column_names: list[str],
               dedup_token: str | None = None) -> None: ...


def _check_identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"invalid {what} name: {value!r}")
    return value


def _substitutions(settings: MigrationSettings) -> dict[str, str]:
    database = _check_identifier(settings.database, "database")
    if settings.cluster is None:
        return {
            "database": database, "local": "", "on_cluster": "",
            "merge_tree": "MergeTree", "replacing_merge_tree": "ReplacingMergeTree",
            "summing_merge_tree": "SummingMergeTree",
            "body_ttl_days": str(int(settings.body_ttl_days)), "row_ttl_days": str(int(settings.row_ttl_days)),
            "dedup_window": str(int(settings.dedup_window)),
        }
    cluster = _check_identifier(settings.cluster, "cluster")
    return {
        "database": database, "local": "_local", "on_cluster": f"ON CLUSTER {cluster}",
        # Argument-less Replicated engines use the server's default_replica_path / default_replica_name.
        "merge_tree": "ReplicatedMergeTree", "replacing_merge_tree": "ReplicatedReplacingMergeTree",
        "summing_merge_tree": "ReplicatedSummingMergeTree",
        "body_ttl_days": str(int(settings.body_ttl_days)), "row_ttl_days": str(int(settings.row_ttl_days)),
        "dedup_window": str(int(settings.dedup_window)),
    }


def render(text: str, settings: MigrationSettings) -> tuple[str, ...]:
    """Turn one migration file into statements; on a cluster also add a Distributed table per local table."""
    values = _substitutions(settings)
    body = _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)
    body = body.replace("non_replicated_deduplication_window", "replicated_deduplication_window") \
        if settings.cluster else body
    lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
    statements = [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
    if settings.cluster:
        database, cluster = values["database"], values["on_cluster"]
        for table, sharding in _DISTRIBUTED.findall(text):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {database}.{table} {cluster} AS {database}.{table}_local "
                f"ENGINE = Distributed({settings.cluster}, {database}, {table}_local, {sharding})"
            )
    return tuple(statements)


def load_migrations(settings: MigrationSettings) -> list[Migration]:
    """All migrations shipped in schemas/clickhouse, ordered by version number."""
    folder = resources.files("schemas").joinpath("clickhouse")
    migrations: list[Migration] = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None:
            continue
        text = entry.read_text(encoding="utf-8")
        migrations.append(Migration(
            version=int(match.group(1)), name=match.group(2),
            checksum=hashlib.sha256(text.encode()).hexdigest(), statements=render(text, settings),
        ))
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration version in {versions}")
    return migrations


def _tracking_table_sql(settings: MigrationSettings) -> str:
    database = _check_identifier(settings.database, "database")
    on_cluster = f"ON CLUSTER {_check_identifier(settings.cluster, 'cluster')}" if settings.cluster else ""
    engine = "ReplicatedReplacingMergeTree(applied_at)" if settings.cluster else "ReplacingMergeTree(applied_at)"
    return (
        f"CREATE TABLE IF NOT EXISTS {database}.{MIGRATIONS_TABLE} {on_cluster} "
        "(version UInt32, name String, checksum String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
        f"ENGINE = {engine} ORDER BY version"
    )


def applied_versions(runner: CommandRunner, settings: MigrationSettings) -> set[int]:
    """Versions recorded in schema_migrations."""
    rows = runner.query(f"SELECT DISTINCT version FROM {settings.database}.{MIGRATIONS_TABLE}")
    return {int(str(row[0])) for row in rows}


def apply_migrations(runner: CommandRunner, settings: MigrationSettings) -> list[int]:
    """Apply every not-yet-recorded migration in order; returns the versions applied now.

    Safe when two replicas run it at once: every statement is CREATE ... IF NOT EXISTS (a repeat is a no-op)
    and the record is written after the statements (record-then-skip); a duplicate record collapses in the
    ReplacingMergeTree and is read with DISTINCT.
    """
    database = _check_identifier(settings.database, "database")
    on_cluster = f" ON CLUSTER {settings.cluster}" if settings.cluster else ""
    runner.command(f"CREATE DATABASE IF NOT EXISTS {database}{on_cluster}")
    runner.command(_tracking_table_sql(settings))
    done = applied_versions(runner, settings)
    applied_now: list[int] = []
    for migration in load_migrations(settings):
        if migration.version in done:
            continue
        for statement in migration.statements:
            runner.command(statement)
        runner.insert(MIGRATIONS_TABLE, [[migration.version, migration.name, migration.checksum]],
                      ["version", "name", "checksum"])
        applied_now.append(migration.version)
    return applied_now
