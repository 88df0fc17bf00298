"""The deployment files give every gateway a stable identity of its own and restart what exits."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_gives_each_gateway_its_own_fixed_client_id_and_restarts_every_service() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    gateways = {name: service for name, service in services.items() if service.get("command") == ["gateway"]}
    assert len(gateways) == 4
    # Replicas of one service would share its client id and disconnect each other.
    assert all(service.get("deploy", {}).get("replicas", 1) == 1 for service in gateways.values())
    client_ids = [service["environment"].get("HOMECARE_GATEWAY_CLIENT_ID") for service in gateways.values()]
    assert None not in client_ids
    assert len(set(client_ids)) == len(client_ids)
    assert {name: service.get("restart") for name, service in services.items()} == dict.fromkeys(
        services, "unless-stopped"
    )


def test_kubernetes_names_each_gateway_after_a_stable_pod_name() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "k8s" / "homecare.yaml").read_text()))
    gateways = [
        document
        for document in documents
        if document["kind"] in {"Deployment", "StatefulSet"}
        and document["spec"]["template"]["spec"]["containers"][0]["args"] == ["gateway"]
    ]
    assert {document["metadata"]["name"] for document in gateways} == {"homecare-gateway", "homecare-alarm-gateway"}
    for document in gateways:
        # A Deployment's replacement pod gets a new name; a StatefulSet's keeps its ordinal name.
        assert document["kind"] == "StatefulSet"
        env = {item["name"]: item for item in document["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["HOMECARE_GATEWAY_CLIENT_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_mosquitto_binds_device_client_ids_to_their_user_names_and_expires_abandoned_sessions() -> None:
    lines = [line.split("#")[0].split() for line in (DEPLOY / "mosquitto" / "mosquitto.conf").read_text().splitlines()]
    options = [line for line in lines if line]
    device_listener = options.index(["listener", "1883"])
    service_listener = options.index(["listener", "1884"])
    assert ["use_username_as_clientid", "true"] in options[device_listener:service_listener]
    assert ["per_listener_settings", "true"] in options
    assert any(option[0] == "persistent_client_expiration" for option in options)
