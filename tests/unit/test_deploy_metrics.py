"""The alert rules, the scrape configuration and the Grafana dashboard in deploy/ name only metrics the code exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry

from homecare.backend.metrics import BackendMetrics
from homecare.gateway.metrics import GatewayMetrics

DEPLOY: Final = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS_OWN: Final = {"up"}  # series Prometheus writes for every target itself
SERIES_SUFFIXES: Final = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported(registry: CollectorRegistry) -> set[str]:
    """The series names a registry's metrics are scraped as (a counter as name_total, a histogram's three)."""
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SERIES_SUFFIXES[family.type]
        if family.name.startswith("homecare_")
    }


EXPORTED: Final = exported(GatewayMetrics().registry) | exported(BackendMetrics().registry)


def selected(expr: str) -> Iterator[str]:
    """The metric names an expression selects, from PromQL's own syntax tree."""
    stack: list[Any] = [promql_parser.parse(expr)]
    while stack:
        node = stack.pop()
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"{expr!r} selects series without a metric name"
            yield node.name
        elif isinstance(node, promql_parser.MatrixSelector):
            stack.append(node.vector_selector)
        elif isinstance(node, promql_parser.BinaryExpr):
            stack += [node.lhs, node.rhs]
        elif isinstance(node, promql_parser.Call):
            stack += node.args
        elif isinstance(node, promql_parser.AggregateExpr):
            stack += [node.expr] + ([node.param] if node.param is not None else [])
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.SubqueryExpr | promql_parser.UnaryExpr):
            stack.append(node.expr)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "homecare.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_names_are_prometheus_conventions() -> None:
    assert EXPORTED, "no metric found in the registries"
    for name in EXPORTED:
        assert name.startswith("homecare_")
        assert not name.endswith("_total_total")
    assert "homecare_pipeline_lag_seconds" in EXPORTED
    for registry in (GatewayMetrics().registry, BackendMetrics().registry):
        for family in registry.collect():
            assert family.documentation, f"{family.name} has no HELP text"
            if family.type == "histogram":
                assert family.name.endswith("_seconds"), f"{family.name}: a duration histogram is in seconds"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_every_alert_rule_names_only_exported_metrics(rule: dict[str, Any]) -> None:
    names = set(selected(rule["expr"]))
    assert names, f"{rule['alert']} selects no metric"
    assert names <= EXPORTED | PROMETHEUS_OWN, f"{rule['alert']} names {sorted(names - EXPORTED)}, not exported"
    assert rule["labels"]["severity"] in {"page", "ticket"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]


def test_the_alerts_the_operators_rely_on_are_there() -> None:
    alerts = {rule["alert"]: rule["expr"] for rule in rules()}
    assert "homecare_pipeline_lag_seconds" in set(selected(alerts["AlarmPipelineStalled"]))
    assert "homecare_pipeline_leader" in set(selected(alerts["AlarmPipelineWithoutLeader"]))
    assert "homecare_notification_attempts_total" in set(selected(alerts["NotificationChannelFailing"]))
    assert "homecare_gateway_acks_sent_total" in set(selected(alerts["GatewayNotAcknowledging"]))
    assert "homecare_gateway_broker_connected" in set(selected(alerts["GatewayDisconnected"]))
    assert "homecare_db_pool_requests_waiting" in set(selected(alerts["DatabasePoolExhausted"]))


@pytest.mark.parametrize("query", dashboard_queries())
def test_every_dashboard_query_names_only_exported_metrics(query: str) -> None:
    names = set(selected(query))
    assert names, query
    assert names <= EXPORTED, f"{query!r} names {sorted(names - EXPORTED)}, not exported"


def test_prometheus_scrapes_every_gateway_and_the_api_with_its_token() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    gateways = {name for name, service in compose.items() if service.get("command") == ["gateway"]}
    targets = {target for group in jobs["homecare-gateway"]["static_configs"] for target in group["targets"]}
    assert targets == {f"{name}:{compose[name]['environment']['HOMECARE_GATEWAY_METRICS_PORT']}" for name in gateways}
    assert all(compose[name]["environment"]["HOMECARE_GATEWAY_METRICS_HOST"] == "0.0.0.0" for name in gateways)
    api = jobs["homecare-api"]
    assert api["metrics_path"] == "/metrics"
    assert api["authorization"]["type"] == "Bearer"
    assert "metrics_token" in compose["prometheus"]["secrets"]
