"""Readers for the files under deploy/ (Dockerfile instructions, compose services, Kubernetes documents)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import msgspec
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
CONTAINER_CONFIG_PATH = "/etc/portcullis/portcullis.yaml"
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")


class DockerInstruction(msgspec.Struct, kw_only=True, frozen=True):
    """One instruction of a Dockerfile stage, continuation lines joined."""

    keyword: str
    arguments: str


def read_yaml(path: Path) -> Any:
    """One YAML document."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def read_yaml_documents(path: Path) -> list[Any]:
    """Every YAML document of a file (Kubernetes manifests may hold several)."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[DockerInstruction]:
    """Instructions of the last stage (the image that runs), comments dropped and continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[DockerInstruction]] = []
    for text in logical:
        keyword, _, arguments = text.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(DockerInstruction(keyword=keyword.upper(), arguments=arguments.strip()))
    return stages[-1]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) argument list; the shell form is refused (signals must reach the process)."""
    value = json.loads(arguments)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"not an exec-form array: {arguments}")
    return value


def container_command(path: Path = DOCKERFILE) -> list[str]:
    """ENTRYPOINT + CMD of the final stage, as Docker would run them with no arguments given."""
    entrypoint: list[str] = []
    command: list[str] = []
    for instruction in dockerfile_instructions(path):
        if instruction.keyword == "ENTRYPOINT":
            entrypoint = exec_form(instruction.arguments)
        elif instruction.keyword == "CMD":
            command = exec_form(instruction.arguments)
    return entrypoint + command


def healthcheck_command(path: Path = DOCKERFILE) -> list[str]:
    """The HEALTHCHECK's CMD array (options before CMD skipped)."""
    for instruction in dockerfile_instructions(path):
        if instruction.keyword == "HEALTHCHECK":
            _, _, array = instruction.arguments.partition("CMD ")
            return exec_form(array)
    raise LookupError("no HEALTHCHECK")


def dockerfile_environment(path: Path = DOCKERFILE) -> dict[str, str]:
    """ENV variables of the final stage (key=value form)."""
    found: dict[str, str] = {}
    for instruction in dockerfile_instructions(path):
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                found[name] = value
    return found


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR:?error} substitution (enough for our compose file)."""
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op") or "", match.group("arg")
        current = environ.get(name)
        if op in (":-", "-"):
            return current if current else arg
        if op in (":?", "?"):
            if not current:
                raise KeyError(f"{name}: {arg}")
            return current
        return current or ""
    return _INTERPOLATION.sub(replace, value)


def compose_services() -> dict[str, dict[str, Any]]:
    """The services of deploy/compose.yaml (YAML anchors and merge keys resolved)."""
    services: dict[str, dict[str, Any]] = read_yaml(COMPOSE_FILE)["services"]
    return services


def gateway_services() -> dict[str, dict[str, Any]]:
    """Compose services that run `portcullis serve`."""
    return {name: service for name, service in compose_services().items()
            if service.get("command", [])[:2] == ["portcullis", "serve"]}


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping of raw (uninterpolated) strings."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): "" if value is None else str(value) for key, value in environment.items()}


def compose_variables(service: dict[str, Any]) -> set[str]:
    """Host variables a service's environment interpolates (${NAME...})."""
    names: set[str] = set()
    for value in compose_environment(service).values():
        names.update(match.group("name") for match in _INTERPOLATION.finditer(value))
    return names


def k8s_documents() -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes document under deploy/k8s, by file name (the kustomization included)."""
    return {path.name: read_yaml_documents(path) for path in sorted(K8S.glob("*.yaml"))}


def k8s_object(kind: str) -> dict[str, Any]:
    """The one object of this kind in deploy/k8s."""
    found = [doc for docs in k8s_documents().values() for doc in docs if doc.get("kind") == kind]
    if len(found) != 1:
        raise LookupError(f"expected one {kind}, found {len(found)}")
    return found[0]


def pod_containers(kind: str) -> list[dict[str, Any]]:
    """Containers of a Deployment or Job pod template."""
    containers: list[dict[str, Any]] = k8s_object(kind)["spec"]["template"]["spec"]["containers"]
    return containers


def k8s_config_text() -> str:
    """The portcullis.yaml held by the ConfigMap."""
    text: str = k8s_object("ConfigMap")["data"]["portcullis.yaml"]
    return text


def k8s_secret_keys() -> set[str]:
    """Keys of the placeholder Secret (each becomes an environment variable through envFrom)."""
    secret = k8s_object("Secret")
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))
