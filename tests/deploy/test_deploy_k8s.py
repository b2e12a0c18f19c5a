"""deploy/k8s: every manifest valid against the Kubernetes OpenAPI schemas (offline), and wired as documented."""

from __future__ import annotations

import re

import pytest
from deploy_manifests import K8S, container_command, k8s_config_text, k8s_documents, k8s_object, pod_containers

from gateway.settings import parse_settings

KUBERNETES_VERSION = "1.33"
KINDS = {"ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job"}
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi)?$")


def _bytes(quantity: str) -> int:
    match = _QUANTITY.match(quantity)
    assert match, quantity
    return int(match.group(1)) * {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}[match.group(2)]


def _manifests() -> list[tuple[str, dict[str, object]]]:
    return [(name, doc) for name, docs in k8s_documents().items() for doc in docs
            if doc.get("kind") != "Kustomization"]


def test_every_manifest_is_valid_for_kubernetes_in_strict_mode() -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate==1.37.0 is not installed (test extra)")
    manifests = _manifests()
    assert {doc["kind"] for _, doc in manifests} == KINDS
    for name, doc in manifests:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name} ({doc['kind']}): {error}")


def test_the_validator_rejects_a_misspelt_field() -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate==1.37.0 is not installed (test extra)")
    deployment = k8s_object("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_file() -> None:
    kustomization = k8s_documents()["kustomization.yaml"][0]
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_deployment_probes_security_and_spool() -> None:
    deployment = k8s_object("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] >= 2
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    [container] = pod_containers("Deployment")
    assert container["args"] == container_command()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    settings = parse_settings(k8s_config_text(), source="configmap")
    spool = volumes[mounts[settings.store.spool_dir]]
    assert "emptyDir" in spool or "persistentVolumeClaim" in spool
    if "emptyDir" in spool:
        assert _bytes(spool["emptyDir"]["sizeLimit"]) > settings.store.spool_max_bytes
    assert "configMap" in volumes[mounts["/etc/portcullis"]]
    # uvicorn's graceful shutdown (10 s) and the writer drain (10 s) must fit in the grace period.
    assert pod["terminationGracePeriodSeconds"] >= 5 + 10 + 10


def test_service_hpa_pdb_and_job_point_at_the_gateway() -> None:
    deployment = k8s_object("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = k8s_object("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert k8s_object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = k8s_object("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    [job] = pod_containers("Job")
    assert job["args"][:2] == ["portcullis", "migrate"]
    assert job["image"] == pod_containers("Deployment")[0]["image"]


def test_configmap_holds_a_valid_strict_config() -> None:
    settings = parse_settings(k8s_config_text(), source="configmap")
    assert settings.server.host == "0.0.0.0"
    assert settings.store.dsn.startswith("http://")
    port = pod_containers("Deployment")[0]["ports"][0]["containerPort"]
    assert settings.server.port == port
