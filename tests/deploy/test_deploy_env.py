"""Every environment variable the deploy files give the gateway is read by our code (or the interpreter)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from deploy_manifests import (
    COMPOSE_FILE,
    CONTAINER_CONFIG_PATH,
    compose_environment,
    dockerfile_environment,
    gateway_services,
    interpolate,
    k8s_config_text,
    k8s_object,
    k8s_secret_keys,
    pod_containers,
)

from gateway.lifespan import preflight, server_secret
from gateway.settings import SecretResolver, SettingsError, load_settings, parse_settings
from gateway.telemetry.tracing import build_resource, otlp_target
from schemas.settings import PortcullisSettings, TelemetrySettings

# CPython reads these itself (documented in `python --help-env`); PATH finds the venv's `portcullis`.
INTERPRETER_VARIABLES = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}
# Variables a dependency reads, by the package that reads them.
DEPENDENCY_VARIABLES = {"TLDEXTRACT_CACHE": "tldextract"}
HOST_VALUES = {"PORTCULLIS_SECRET": "s" * 64, "PORTCULLIS_ADMIN_TOKEN": "t" * 40}
_K8S_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _env_references(settings: PortcullisSettings) -> dict[str, str]:
    """`env:NAME` references in a config, by the field that holds them."""
    found: dict[str, str] = {}
    if settings.secret:
        found["$.secret"] = settings.secret
    if settings.admin_token:
        found["$.admin_token"] = settings.admin_token
    for name, provider in settings.providers.items():
        if provider.api_key:
            found[f"$.providers.{name}.api_key"] = provider.api_key
        for header, value in provider.headers.items():
            found[f"$.providers.{name}.headers.{header}"] = value
    return {field: value[4:] for field, value in found.items() if value.startswith("env:")}


def _compose_config() -> PortcullisSettings:
    [source] = {volume.split(":")[0] for service in gateway_services().values() for volume in service["volumes"]
                if volume.split(":")[1] == CONTAINER_CONFIG_PATH}
    return load_settings(COMPOSE_FILE.parent / source)


def _compose_gateway_environments() -> dict[str, dict[str, str]]:
    return {name: {key: interpolate(value, HOST_VALUES) for key, value in compose_environment(service).items()}
            for name, service in gateway_services().items()}


def _k8s_gateway_environment() -> dict[str, str]:
    """The Deployment container's environment as the kubelet builds it (downward API values made up)."""
    [container] = pod_containers("Deployment")
    secret = k8s_object("Secret")["stringData"]
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["secretRef"]["name"] == k8s_object("Secret")["metadata"]["name"]
        environ.update(secret)
    for item in container.get("env", []):
        if "value" in item:
            environ[item["name"]] = _K8S_REFERENCE.sub(lambda match: environ.get(match.group(1), ""), item["value"])
        else:
            environ[item["name"]] = f"downward-{item['name'].lower()}"
    return environ


def _k8s_helper_variables() -> set[str]:
    """Variables only used to build other variables with $(NAME) (Kubernetes dependent variables)."""
    [container] = pod_containers("Deployment")
    referenced = {name for item in container.get("env", []) for name in _K8S_REFERENCE.findall(item.get("value", ""))}
    return {item["name"] for item in container.get("env", []) if "valueFrom" in item and item["name"] in referenced}


def _assert_otel_variables_honoured(environ: dict[str, str]) -> set[str]:
    """Check each OTEL_* variable's effect on what the gateway's telemetry builds; returns the names checked."""
    settings = TelemetrySettings()
    checked: set[str] = set()
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in environ:
        base = environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/")
        for signal in ("traces", "metrics"):
            target = otlp_target(signal, settings, environ)
            assert target is not None and target.endpoint == f"{base}/v1/{signal}"
        checked.add("OTEL_EXPORTER_OTLP_ENDPOINT")
    resource = build_resource(settings, environ).attributes
    if "OTEL_SERVICE_NAME" in environ:
        assert resource["service.name"] == environ["OTEL_SERVICE_NAME"]
        checked.add("OTEL_SERVICE_NAME")
    if "OTEL_RESOURCE_ATTRIBUTES" in environ:
        for pair in environ["OTEL_RESOURCE_ATTRIBUTES"].split(","):
            key, _, value = pair.partition("=")
            assert resource[key] == value, key
        checked.add("OTEL_RESOURCE_ATTRIBUTES")
    return checked


def _assert_every_variable_is_read(environ: dict[str, str], settings: PortcullisSettings,
                                   helpers: frozenset[str] = frozenset()) -> None:
    otel = _assert_otel_variables_honoured(environ)
    referenced = set(_env_references(settings).values())
    unread = set(environ) - otel - referenced - set(helpers)
    assert not unread, f"set by the deploy files but read by nothing: {sorted(unread)}"


def test_compose_gateway_variables_are_all_read() -> None:
    settings = _compose_config()
    for name, environ in _compose_gateway_environments().items():
        assert environ, name
        _assert_every_variable_is_read(environ, settings)


def test_kubernetes_gateway_variables_are_all_read() -> None:
    settings = parse_settings(k8s_config_text(), source="configmap")
    _assert_every_variable_is_read(_k8s_gateway_environment(), settings, frozenset(_k8s_helper_variables()))


def test_every_env_reference_in_the_configs_is_provided_and_resolves() -> None:
    cases = [(_compose_config(), environ) for environ in _compose_gateway_environments().values()]
    cases.append((parse_settings(k8s_config_text(), source="configmap"), _k8s_gateway_environment()))
    for settings, environ in cases:
        references = _env_references(settings)
        assert references, "secrets should be env: references"
        resolve = SecretResolver(environ)
        for field, variable in references.items():
            assert variable in environ, f"{field} reads {variable}, which the deploy files do not set"
            assert resolve(f"env:{variable}") == (environ[variable] or None), field
        preflight(settings, environ)  # the start-up checks pass with exactly this environment
        assert server_secret(settings, resolve) == environ["PORTCULLIS_SECRET"].encode()


def test_the_server_secret_is_required_when_referenced() -> None:
    settings = _compose_config()
    environ = dict(_compose_gateway_environments()["gateway-1"])
    del environ["PORTCULLIS_SECRET"]
    with pytest.raises(SettingsError, match="PORTCULLIS_SECRET"):
        server_secret(settings, SecretResolver(environ))


def test_compose_requires_the_secret_from_the_host() -> None:
    for name, service in gateway_services().items():
        value = compose_environment(service)["PORTCULLIS_SECRET"]
        with pytest.raises(KeyError, match="PORTCULLIS_SECRET"):
            interpolate(value, {})
        assert interpolate(value, HOST_VALUES) == HOST_VALUES["PORTCULLIS_SECRET"], name


def test_k8s_secret_keys_are_exactly_the_config_references() -> None:
    settings = parse_settings(k8s_config_text(), source="configmap")
    assert k8s_secret_keys() == set(_env_references(settings).values())
    for value in k8s_object("Secret")["stringData"].values():
        assert value.startswith("REPLACE"), "the Secret ships placeholders only"


def test_dockerfile_environment_is_read_by_the_interpreter_or_a_dependency() -> None:
    environment = dockerfile_environment()
    for name in set(environment) - INTERPRETER_VARIABLES:
        module = importlib.import_module(DEPENDENCY_VARIABLES[name])
        sources = "".join(path.read_text(encoding="utf-8") for path in Path(module.__file__ or "").parent.glob("*.py"))
        assert f'"{name}"' in sources, f"{name} is not read by {module.__name__}"
    assert environment["PATH"].startswith("/opt/portcullis/bin:")
    assert environment["TLDEXTRACT_CACHE"].startswith("/tmp/")  # /tmp is writable under a read-only root

