"""deploy/'s Kubernetes manifests and compose file are valid against their schemas and agree with each other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

DEPLOY: Final = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS: Final = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES: Final = kubernetes_validate.latest_version()  # the newest schemas the package ships
WORKLOADS: Final = {"Deployment", "StatefulSet"}


def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(*kinds: str) -> list[dict[str, Any]]:
    return [doc for doc in resources() if doc["kind"] in kinds]


def named(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions with In, or a Service's plain map) picks labels."""
    match = selector.get("matchLabels", selector if "matchExpressions" not in selector else {})
    expressions = selector.get("matchExpressions", [])
    return all(labels.get(k) == v for k, v in match.items()) and all(
        labels.get(e["key"]) in e["values"] for e in expressions if e["operator"] == "In"
    )


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from workload["spec"]["template"]["spec"]["containers"]


@pytest.mark.parametrize("resource", resources(), ids=named)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(resource: dict[str, Any]) -> None:
    # strict: a misspelt or misplaced field (readinesProbe, resources under the pod) fails instead of being ignored
    kubernetes_validate.validate(resource, KUBERNETES, strict=True)


@pytest.mark.parametrize("workload", of_kind(*WORKLOADS), ids=named)
def test_every_container_has_probes_and_resources(workload: dict[str, Any]) -> None:
    for container in containers(workload):
        assert {"readinessProbe", "livenessProbe"} <= container.keys(), container["name"]
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), container["name"]
        assert "memory" in container["resources"]["limits"], container["name"]


@pytest.mark.parametrize("workload", of_kind(*WORKLOADS), ids=named)
def test_every_replicated_workload_has_a_disruption_budget_and_every_pod_a_network_policy(
    workload: dict[str, Any],
) -> None:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    if workload["spec"]["replicas"] > 1:
        budgets = [b for b in of_kind("PodDisruptionBudget") if selects(b["spec"]["selector"], labels)]
        assert len(budgets) == 1, named(workload)
    policies = of_kind("NetworkPolicy")
    assert any(p["spec"]["podSelector"] == {} and p["spec"]["policyTypes"] == ["Ingress"] for p in policies)
    allowing = [p for p in policies if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)]
    assert allowing, f"{named(workload)}: nothing may reach it, every probe from the kubelet aside"


@pytest.mark.parametrize("service", of_kind("Service"), ids=named)
def test_every_service_selects_pods_that_have_its_ports(service: dict[str, Any]) -> None:
    selector = service["spec"]["selector"]
    pods = [
        w
        for w in of_kind(*WORKLOADS)
        if selects(selector, w["spec"]["template"]["metadata"]["labels"])
        or selector.get("statefulset.kubernetes.io/pod-name", "").rpartition("-")[0] == w["metadata"]["name"]
    ]
    assert pods, named(service)
    port_names = {port["name"] for pod in pods for c in containers(pod) for port in c.get("ports", [])}
    for port in service["spec"].get("ports", []):
        target = port.get("targetPort", port["port"])
        assert isinstance(target, int) or target in port_names, (named(service), target)


def test_every_statefulset_has_its_governing_service_and_the_ingress_routes_to_services() -> None:
    services = {s["metadata"]["name"] for s in of_kind("Service")}
    for workload in of_kind("StatefulSet"):
        assert workload["spec"]["serviceName"] in services, named(workload)
    for ingress in of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in services, rule["host"]


def test_kustomize_applies_every_manifest_and_makes_every_config_map_from_the_files_compose_mounts() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(str(p.relative_to(DEPLOY)) for p in MANIFESTS)
    generated = {}
    for generator in kustomization["configMapGenerator"]:
        keys = dict(entry.split("=", 1) for entry in generator["files"])
        assert all((DEPLOY / file).is_file() for file in keys.values()), keys
        generated[generator["name"]] = keys
    for workload in of_kind(*WORKLOADS):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
        for container in containers(workload):
            for mount in container.get("volumeMounts", []):
                config_map = volumes.get(mount["name"], {}).get("configMap")
                if config_map is not None:
                    assert config_map["name"] in generated, named(workload)
                    assert (
                        mount.get("subPath", next(iter(generated[config_map["name"]]))) in generated[config_map["name"]]
                    )


# --- compose --------------------------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_is_valid_against_the_compose_specification() -> None:
    # The compose-spec JSON Schema as check-jsonschema ships it (`docker compose config` where Docker exists).
    jsonschema.validate(compose(), get_builtin_schema("vendor.compose-spec"))


def test_compose_services_name_only_what_exists() -> None:
    spec = compose()
    services, secrets, volumes = spec["services"], spec["secrets"].keys(), spec["volumes"].keys()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= services.keys(), name
        for needed, condition in depends.items() if isinstance(depends, dict) else []:
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits for {needed}'s health, which has no check"
        assert set(service.get("secrets", [])) <= secrets, name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./") and not source.startswith("./secrets/"):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is not in deploy/"
            elif not source.startswith(("./", "/")):
                assert source in volumes, f"{name} mounts the undeclared volume {source}"
    published = [p.split(":")[-2] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), f"a host port is published twice: {published}"


def test_the_load_balancer_and_the_broker_cluster_name_the_compose_services() -> None:
    services = compose()["services"]
    haproxy = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    for host, port in re.findall(r"^\s*server \S+ ([\w-]+):(\d+)", haproxy, re.MULTILINE):
        assert host in services, host
        assert port in {"1883", "1884", "8000"}, (host, port)
    brokers = {name: s for name, s in services.items() if s.get("image", "").startswith("emqx/")}
    assert len(brokers) == 3
    nodes = {s["environment"]["EMQX_NODE__NAME"] for s in brokers.values()}
    seeds = next(iter(brokers.values()))["environment"]["EMQX_CLUSTER__STATIC__SEEDS"]
    assert set(seeds.strip("[]").replace(" ", "").split(",")) == nodes
    assert all(s["environment"]["EMQX_NODE__NAME"] == f"emqx@{s['hostname']}" for s in brokers.values())
    apis = [s for s in services.values() if s.get("command") == ["api"]]
    assert len(apis) >= 2
    assert all("healthcheck" in s for s in apis)
    assert len({s["environment"]["HOMECARE_CALL_PUBLIC_URL"] for s in apis}) == len(apis), "one call address each"
