"""deploy/otel/collector.yaml: the documented Collector structure, with pipelines naming only defined components."""

from __future__ import annotations

from deploy_manifests import DEPLOY, compose_services, read_yaml

COLLECTOR_FILE = DEPLOY / "otel" / "collector.yaml"
SECTIONS = {"receivers", "processors", "exporters", "extensions", "connectors", "service"}


def _component_type(component_id: str) -> str:
    """`otlp/jaeger` is a component of type `otlp` named `jaeger`."""
    return component_id.split("/", 1)[0]


def test_top_level_sections_are_the_documented_ones() -> None:
    config = read_yaml(COLLECTOR_FILE)
    assert set(config) <= SECTIONS
    assert set(config["service"]) <= {"extensions", "pipelines", "telemetry"}


def test_pipelines_reference_only_defined_components() -> None:
    config = read_yaml(COLLECTOR_FILE)
    pipelines = config["service"]["pipelines"]
    assert pipelines
    for pipeline_id, pipeline in pipelines.items():
        assert _component_type(pipeline_id) in {"traces", "metrics", "logs"}, pipeline_id
        assert set(pipeline) <= {"receivers", "processors", "exporters"}
        assert pipeline["receivers"] and pipeline["exporters"], pipeline_id
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{pipeline_id}: {kind} {component} is not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]


def test_every_defined_component_is_used() -> None:
    config = read_yaml(COLLECTOR_FILE)
    used = {(kind, component) for pipeline in config["service"]["pipelines"].values()
            for kind in ("receivers", "processors", "exporters") for component in pipeline.get(kind, [])}
    defined = {(kind, component) for kind in ("receivers", "processors", "exporters")
               for component in config.get(kind) or {}}
    assert defined == used


def test_otlp_in_on_both_protocols_and_traces_out_to_jaeger_and_debug() -> None:
    config = read_yaml(COLLECTOR_FILE)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    traces = config["service"]["pipelines"]["traces"]
    assert "debug" in traces["exporters"]
    jaeger = [exporter for exporter in traces["exporters"] if _component_type(exporter) == "otlp"]
    assert [config["exporters"][exporter]["endpoint"] for exporter in jaeger] == ["jaeger:4317"]
    # memory_limiter first, as the Collector documentation recommends.
    assert traces["processors"][0] == "memory_limiter"
    # The gateway exports metrics too when an OTLP endpoint is set: they need a pipeline.
    assert "otlp" in config["service"]["pipelines"]["metrics"]["receivers"]


def test_compose_mounts_this_file_where_the_collector_reads_it() -> None:
    collector = compose_services()["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector-contrib:")
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in collector["volumes"]}
    target = mounts["./otel/collector.yaml"]
    assert f"--config={target}" in collector["command"]
