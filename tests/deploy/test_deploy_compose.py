"""deploy/compose.yaml: valid against the Compose Specification schema, and wired the way the docs say."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from deploy_manifests import (
    COMPOSE_FILE,
    CONTAINER_CONFIG_PATH,
    DEPLOY,
    REPO,
    compose_services,
    container_command,
    gateway_services,
    read_yaml,
)

from gateway.providers.registry import discover
from gateway.routing.schema_file import check_config_file
from gateway.settings import load_settings

SCHEMA_FILE = Path(__file__).parent / "schemas" / "compose-spec.json"
CLICKHOUSE_TTL_FILE = DEPLOY / "clickhouse" / "system-log-ttl.xml"
# System logs the ClickHouse server keeps by default and that grow without bound unless given a TTL.
LOGS_NEEDING_TTL = {"query_log", "trace_log", "metric_log", "asynchronous_metric_log", "part_log", "text_log",
                    "processors_profile_log", "query_thread_log", "query_views_log", "asynchronous_insert_log",
                    "opentelemetry_span_log"}
# Logs that are off by default: a section for them in config.d would switch them on.
LOGS_OFF_BY_DEFAULT = {"session_log", "zookeeper_log", "filesystem_cache_log", "filesystem_read_prefetches_log"}


def _bind_mounts(service: dict[str, object]) -> list[tuple[Path, str]]:
    mounts: list[tuple[Path, str]] = []
    for volume in service.get("volumes", []) or []:  # type: ignore[union-attr]
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            mounts.append(((COMPOSE_FILE.parent / source).resolve(), target))
    return mounts


def test_compose_file_matches_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator.check_schema(schema)
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in validator.iter_errors(read_yaml(COMPOSE_FILE))]
    assert errors == []


def test_the_schema_check_rejects_a_misspelt_service_key() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    document = read_yaml(COMPOSE_FILE)
    document["services"]["gateway-1"]["restrat"] = "always"
    assert not jsonschema.Draft201909Validator(schema).is_valid(document)


def test_two_gateways_run_the_dockerfile_command_with_their_own_spool_volume() -> None:
    gateways = gateway_services()
    assert len(gateways) >= 2
    spools = set()
    for name, service in gateways.items():
        assert service["command"] == container_command(), name
        volumes = [str(volume) for volume in service["volumes"]]
        spool = [volume.split(":")[0] for volume in volumes if volume.split(":")[1] == "/var/lib/portcullis/spool"]
        assert len(spool) == 1 and not spool[0].startswith("."), f"{name}: needs a named spool volume"
        spools.add(spool[0])
        assert service["read_only"] is True
    assert len(spools) == len(gateways), "two running gateways must never share a spool directory"
    assert spools <= set(read_yaml(COMPOSE_FILE)["volumes"])


def test_gateways_start_after_a_one_shot_migration_that_succeeded() -> None:
    services = compose_services()
    migrate = services["migrate"]
    assert migrate["command"][:2] == ["portcullis", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    for name, service in gateway_services().items():
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_every_bind_mounted_file_exists_and_the_config_is_valid() -> None:
    for name, service in compose_services().items():
        for source, target in _bind_mounts(service):
            assert source.is_file(), f"{name}: {source} missing"
            if target == CONTAINER_CONFIG_PATH:
                load_settings(source)  # strict decode: unknown fields fail
                assert check_config_file(source, discover()) == []


def test_the_gateways_use_the_clickhouse_service_and_the_collector() -> None:
    services = compose_services()
    config_sources = {source for service in gateway_services().values() for source, target in
                      _bind_mounts(service) if target == CONTAINER_CONFIG_PATH}
    assert len(config_sources) == 1
    settings = load_settings(config_sources.pop())
    assert settings.store.dsn.startswith("http://") and "@clickhouse:8123" in settings.store.dsn
    user = services["clickhouse"]["environment"]["CLICKHOUSE_USER"]
    password = services["clickhouse"]["environment"]["CLICKHOUSE_PASSWORD"]
    assert settings.store.dsn == f"http://{user}:{password}@clickhouse:8123"
    assert settings.store.spool_dir == "/var/lib/portcullis/spool"
    assert settings.server.host == "0.0.0.0"
    for service in gateway_services().values():
        assert service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert "otel-collector" in services and "jaeger" in services


def test_only_loopback_ports_are_published() -> None:
    for name, service in compose_services().items():
        for port in service.get("ports", []) or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_clickhouse_system_logs_get_a_ttl_and_no_log_is_switched_on() -> None:
    root = ET.parse(CLICKHOUSE_TTL_FILE).getroot()
    assert root.tag == "clickhouse"
    with_ttl = set()
    for section in root:
        ttl = section.find("ttl")
        engine = section.find("engine")
        if ttl is not None:
            assert engine is None, f"{section.tag}: <engine> and <ttl> cannot both be set"
            assert re.fullmatch(r"event_date \+ INTERVAL \d+ DAY DELETE", (ttl.text or "").strip()), section.tag
            with_ttl.add(section.tag)
        elif engine is not None and " TTL " in " ".join((engine.text or "").split()):
            with_ttl.add(section.tag)
    assert with_ttl >= LOGS_NEEDING_TTL
    assert not LOGS_OFF_BY_DEFAULT & {section.tag for section in root}
    mounted = {target for source, target in _bind_mounts(compose_services()["clickhouse"])
               if source == CLICKHOUSE_TTL_FILE.resolve()}
    assert mounted and all(target.startswith("/etc/clickhouse-server/config.d/") for target in mounted)


def test_nginx_balances_over_every_gateway_service() -> None:
    proxy = compose_services()["proxy"]
    conf = next(source for source, _ in _bind_mounts(proxy)).read_text(encoding="utf-8")
    upstream = set(re.findall(r"^\s*server\s+([\w-]+):8787\b", conf, re.MULTILINE))
    assert upstream == set(gateway_services())
    assert "proxy_buffering off;" in conf  # SSE streams must not be held back
    for name in gateway_services():
        assert proxy["depends_on"][name]["condition"] == "service_healthy"


@pytest.mark.parametrize("example", ["portcullis.example.yaml", "portcullis.compose.yaml"])
def test_shipped_configs_pass_config_check(example: str) -> None:
    path = REPO / "deploy" / example
    assert check_config_file(path, discover()) == []
    load_settings(path)
