"""Capacity plan for a city: the measured figures in bench/results/ turned into machines, with the formulas.

Reads the ingest, connection and call benchmarks' results, applies the city's inputs (the defaults are
Changsha's; every one is an option), and writes docs/capacity.md: what each figure is, the formula, the
inputs and the result, so that a planner can change an input and run it again. Run:
``python -m bench.capacity [--enrolled-share 0.1 …]``; `make bench` runs it after the benchmarks.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PLAN = Path(__file__).parents[1] / "docs" / "capacity.md"
DAY_S = 86_400


def _input(default: Any, doc: str) -> Any:
    """A city input with its default and what it means (shown in the plan)."""
    return field(default=default, metadata={"doc": doc})


def _figure(doc: str) -> Any:
    """A measured figure and what it means (shown in the plan)."""
    return field(metadata={"doc": doc})


@dataclass(frozen=True)
class CityInputs:
    """What the plan assumes of the city and its devices; each field is a command-line option."""

    aged_60_plus: int = _input(1_540_000, "Changsha's residents aged 60 or more.")
    enrolled_share: float = _input(
        0.10, "The share of them with a home on the platform (a 家庭养老床位 programme's reach; an assumption)."
    )
    devices_per_resident: float = _input(
        5.0, "Devices in a home (3–7: home unit, wristband or pendant, door, motion, bed or a cuff; 5 assumed)."
    )
    telemetry_devices_per_resident: float = _input(
        2.0, "Of those, the ones sending vital-sign telemetry (a wristband and one more wearable or meter)."
    )
    telemetry_interval_s: float = _input(60.0, "A telemetry message per this many seconds (the devices' default).")
    points_per_telemetry_message: float = _input(
        3.0,
        "Data points in one telemetry message (heart rate, skin temperature, steps), as the ingest benchmark sends.",
    )
    heartbeat_interval_s: float = _input(
        300.0, "A health message per device per this many seconds (the devices' default)."
    )
    events_per_device_per_day: float = _input(
        20.0, "Door, motion, bed and button events per device per day (an assumption; alarms are a tiny share)."
    )
    calls_per_resident_per_month: float = _input(
        1.0, "Voice calls between the call centre and a home (alarms, check calls; telecare centres run 0.5–1.5)."
    )
    busiest_hour_share_of_day: float = _input(0.10, "The share of a day's calls in its busiest hour.")
    call_minutes: float = _input(4.0, "Mean length of a call.")
    headroom: float = _input(
        0.5, "Each machine is planned at this share of what it was measured to carry (bursts, a node down, growth)."
    )
    gateways_min: int = _input(2, "The fewest gateways: one can be down or restarting.")
    cluster_nodes_min: int = _input(3, "The smallest broker cluster (EMQX, deploy/): one node can be down.")


@dataclass(frozen=True)
class Measured:
    """The benchmark figures the plan stands on, with where they come from."""

    gateway_points_per_s: float = _figure(
        "Data points per second one gateway stored at QoS 1 without loss (bench/results/ingest.json)."
    )
    broker_msgs_per_s: float = _figure("QoS 1 messages per second one Mosquitto carried without loss in that run.")
    bytes_per_point: float | None = _figure(
        "Bytes a stored point takes on TimescaleDB before compression (none: not measured)."
    )
    compressed_bytes_per_point: float | None = _figure(
        "And after compression (the policy compresses chunks after 7 days)."
    )
    kib_per_connection: float = _figure("Broker memory per connected device (bench/results/connections.json).")
    connections_per_s: float = _figure("Sign-ins per second in a connect storm against one Mosquitto.")
    calls_per_core: float = _figure(
        "Calls one API core carries with intact audio (bench/results/calls.json, projected from its steps)."
    )


def measured(results: Path = RESULTS) -> Measured:
    """Read the figures from the benchmarks' results files."""
    ingest = json.loads((results / "ingest.json").read_text())
    connections = json.loads((results / "connections.json").read_text())
    calls = json.loads((results / "calls.json").read_text())
    runs = [run for mode in ingest.values() for run in mode["runs"] if run["qos"] == 1 and run["lost_msgs"] == 0]
    best = max(runs, key=lambda run: run["points_per_s"])
    compressed = [run for run in runs if run.get("compression")]
    bytes_per_point = compressed_per_point = None
    if compressed:
        run = compressed[0]
        bytes_per_point = run["compression"]["before_bytes"] / run["stored_points"]
        compressed_per_point = run["compression"]["after_bytes"] / run["stored_points"]
    return Measured(
        gateway_points_per_s=best["points_per_s"],
        broker_msgs_per_s=best["stored_msgs"] / best["publish_s"],
        bytes_per_point=bytes_per_point,
        compressed_bytes_per_point=compressed_per_point,
        kib_per_connection=connections["broker_kib_per_connection"],
        connections_per_s=connections["connections_per_s"],
        calls_per_core=calls["capacity"]["calls_per_backend_core_projected"],
    )


@dataclass(frozen=True)
class Row:
    """One figure of the plan."""

    what: str
    formula: str
    value: str


def plan(city: CityInputs, m: Measured) -> list[Row]:
    """The plan's figures, each with its formula."""
    residents = city.aged_60_plus * city.enrolled_share
    devices = residents * city.devices_per_resident
    telemetry_msgs = residents * city.telemetry_devices_per_resident / city.telemetry_interval_s
    heartbeats = devices / city.heartbeat_interval_s
    events = devices * city.events_per_device_per_day / DAY_S
    msgs = telemetry_msgs + heartbeats + events
    points = telemetry_msgs * city.points_per_telemetry_message + heartbeats + events
    gateways = max(city.gateways_min, math.ceil(points / (m.gateway_points_per_s * city.headroom)))
    brokers = max(city.cluster_nodes_min, math.ceil(msgs / (m.broker_msgs_per_s * city.headroom)))
    per_node = devices / brokers
    calls_busy_hour = residents * city.calls_per_resident_per_month / 30 * city.busiest_hour_share_of_day
    erlangs = calls_busy_hour * city.call_minutes / 60
    call_cores = math.ceil(erlangs / (m.calls_per_core * city.headroom))
    rows = [
        Row("residents enrolled", "aged 60+ × enrolled share", f"{residents:,.0f}"),
        Row("devices", "residents × devices per resident", f"{devices:,.0f}"),
        Row(
            "messages per second",
            "residents × telemetry devices ÷ telemetry interval + devices ÷ heartbeat interval "
            "+ devices × events a day ÷ 86,400",
            f"{msgs:,.0f}",
        ),
        Row(
            "data points stored per second",
            "telemetry messages/s × points per message + heartbeats/s + events/s",
            f"{points:,.0f}",
        ),
        Row(
            "gateways (replicas on one shared subscription)",
            "max(fewest gateways, ⌈points/s ÷ (one gateway's measured points/s × headroom)⌉)",
            f"{gateways}",
        ),
        Row(
            "broker nodes",
            "max(smallest cluster, ⌈messages/s ÷ (one broker's measured messages/s × headroom)⌉)",
            f"{brokers}",
        ),
        Row(
            "broker memory for connections, per node",
            "devices ÷ nodes × measured KiB per connection",
            f"{per_node * m.kib_per_connection / 1024:,.0f} MiB",
        ),
        Row(
            "reconnect storm after a node restarts",
            "devices ÷ nodes ÷ measured sign-ins/s (one node's devices at once)",
            f"{per_node / m.connections_per_s:,.0f} s",
        ),
        Row("database ingest", "data points stored per second", f"{points:,.0f} points/s"),
    ]
    if m.bytes_per_point is not None and m.compressed_bytes_per_point is not None:
        per_day = points * DAY_S
        rows += [
            Row(
                "storage per day, uncompressed",
                "points/s × 86,400 × measured bytes per point",
                f"{per_day * m.bytes_per_point / 1e9:,.1f} GB",
            ),
            Row(
                "storage per day, compressed (after 7 days)",
                "points/s × 86,400 × measured compressed bytes per point",
                f"{per_day * m.compressed_bytes_per_point / 1e9:,.1f} GB",
            ),
        ]
    else:
        rows.append(Row("storage per day", "not measured: run `make bench-ingest` with TimescaleDB", "—"))
    rows += [
        Row(
            "calls in the busiest hour",
            "residents × calls per resident a month ÷ 30 × busiest hour's share of a day",
            f"{calls_busy_hour:,.0f}",
        ),
        Row("concurrent calls (offered load)", "busiest hour's calls × call minutes ÷ 60 (Erlangs)", f"{erlangs:,.0f}"),
        Row(
            "API cores for calls",
            "⌈concurrent calls ÷ (measured calls per core × headroom)⌉",
            f"{call_cores}",
        ),
    ]
    return rows


def render(city: CityInputs, m: Measured) -> str:
    """docs/capacity.md."""
    lines = [
        "# Capacity plan",
        "",
        "Generated by `python -m bench.capacity` from the benchmarks' results in `bench/results/`; do not edit it by",
        "hand: change an input (each is an option of that command) and run it again.",
        "",
        "## Inputs",
        "",
        "| input | value | meaning |",
        "|---|---|---|",
    ]
    for item in fields(CityInputs):
        name, doc = item.name.replace("_", "-"), item.metadata["doc"]
        lines.append(f"| `--{name}` | {getattr(city, item.name):,} | {doc} |")
    lines += ["", "## Measured", "", "| figure | value | meaning |", "|---|---|---|"]
    for item in fields(Measured):
        value = getattr(m, item.name)
        shown = "not measured" if value is None else f"{value:,.2f}"
        lines.append(f"| {item.name.replace('_', ' ')} | {shown} | {item.metadata['doc']} |")
    lines += ["", "## Plan", "", "| figure | formula | value |", "|---|---|---|"]
    lines += [f"| {row.what} | {row.formula} | {row.value} |" for row in plan(city, m)]
    lines += [
        "",
        "## What the figures do not cover",
        "",
        "- The broker figures are Mosquitto's on one box of two cores, with the load generator on the same cores;",
        "  EMQX (the cluster broker in deploy/) was not measured here, and its per-node figures differ.",
        "- One gateway against two on the shared subscription was not measured apart from the database: on two",
        "  cores the broker, the gateway and PostgreSQL share the same processor.",
        "- Calls are projected from the audio load of one API process (bench/results/calls.json); the media relay",
        "  (coturn) for homes behind NAT is not in the figure.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = CityInputs()
    for item in fields(CityInputs):
        default: Any = getattr(defaults, item.name)
        parser.add_argument(f"--{item.name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--output", type=Path, default=PLAN)
    args = parser.parse_args()
    city = CityInputs(**{item.name: getattr(args, item.name) for item in fields(CityInputs)})
    args.output.write_text(render(city, measured()))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
