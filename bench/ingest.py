"""Ingest benchmark: fleet telemetry through real Mosquitto and the gateway into PostgreSQL.

Prints sustained data points per second (three per message), end-to-end latency p50/p99 and loss
counted from the stored rows against each device's seqs, once at QoS 0 and once at QoS 1, and
writes the figures under the storage mode they were measured in (plain or timescale; a mode not
measured keeps its figures) to bench/results/ingest.json. On TimescaleDB it also compresses the
stored chunks and reports their size before and after. Run: ``make bench-ingest``: the embedded
server in plain mode, then a copy of it with TimescaleDB (``../shared/timescaledb``, or
``HOMECARE_BENCH_TIMESCALEDB``) preloaded; or only an external server, ``HOMECARE_BENCH_DATABASE_URL``
(a fresh database per run, created and dropped there; the role must be allowed to CREATE DATABASE).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from rich.console import Console

from homecare.sim.fleet import FleetConfig, FleetProgress, fleet_devices, run_fleet
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.storage.embedded import EmbeddedPostgres
from homecare.storage.maintenance import prepare_database
from homecare.storage.migrate import StorageMode
from homecare.storage.settings import StorageSettings
from tests.support.brokers import free_port, mosquitto_broker
from tests.support.mqtt import TestClient
from tests.support.timescale import PRELOAD, timescale_bin_dir

RESULTS = Path(__file__).parent / "results" / "ingest.json"
console = Console()


@dataclass
class RunFigures:
    """One sustained run at one QoS."""

    qos: int
    target_rate_msgs: float
    published_msgs: int
    publish_s: float
    publisher_us_per_msg: float
    stored_points: int
    stored_msgs: int
    drain_s: float
    points_per_s: float
    lost_msgs: int
    broker_dropped: int
    p50_ms: float
    p99_ms: float
    gateways: int
    storage_mode: str
    compression: dict[str, int] | None  # TimescaleDB: the telemetry chunks' bytes before and after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of sustained publishing per run")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--qos0-rate", type=float, default=23_000.0, help="messages/s offered at QoS 0")
    parser.add_argument("--qos1-rate", type=float, default=15_000.0, help="messages/s offered at QoS 1")
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes (>1 uses $share)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HOMECARE_BENCH_DATABASE_URL"),
        help="measure this external server only (default: HOMECARE_BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--timescaledb",
        type=Path,
        default=Path(os.environ.get("HOMECARE_BENCH_TIMESCALEDB", "../shared/timescaledb")),
        help="without an external server: the TimescaleDB build for the embedded server, measured after plain",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="homecare-bench-server-") as tmp:
        for server in _servers(args.database_url, args.timescaledb, Path(tmp)):
            runs = []
            for qos, rate in ((0, args.qos0_rate), (1, args.qos1_rate)):
                figures = run_once(
                    qos=qos,
                    rate=rate,
                    duration=args.duration,
                    devices=args.devices,
                    gateways=args.gateways,
                    server=server,
                )
                runs.append(figures)
                console.print(
                    f"[bold]QoS {qos}, {figures.storage_mode}[/]: {figures.points_per_s:,.0f} data points/s "
                    f"sustained ({figures.stored_msgs:,} messages in {figures.drain_s:.1f} s), latency p50 "
                    f"{figures.p50_ms:.0f} ms, p99 {figures.p99_ms:.0f} ms, lost {figures.lost_msgs}, broker dropped "
                    f"{figures.broker_dropped}; publisher {figures.publisher_us_per_msg:.1f} µs/msg"
                )
            _record(args.output, runs)
    for mode, figures in sorted(json.loads(args.output.read_text()).items()):
        summary = {k: v for k, v in figures.items() if k not in ("runs", "machine")}
        console.print(f"{mode}: {json.dumps(summary)}")
    console.print(f"written to {args.output}")


@dataclass(frozen=True)
class Server:
    """Where the runs' databases live: an external server, or an embedded one started per run."""

    url: str | None = None
    bin_dir: Path | None = None
    settings: Mapping[str, str] | None = None


def _servers(url: str | None, timescaledb: Path, tmp: Path) -> list[Server]:
    """The external server alone; else the embedded one (plain), then a copy of it with TimescaleDB."""
    if url is not None:
        return [Server(url=url)]
    if not (timescaledb / "install.sh").is_file():
        console.print(
            f"TimescaleDB not measured: {timescaledb}/install.sh (TimescaleDB built for the embedded "
            "server) is not here; set HOMECARE_BENCH_TIMESCALEDB or HOMECARE_BENCH_DATABASE_URL"
        )
        return [Server()]
    return [Server(), Server(bin_dir=timescale_bin_dir(timescaledb, tmp), settings=PRELOAD)]


def _record(output: Path, runs: list[RunFigures]) -> None:
    """Write these runs' figures under their storage mode; the other mode's figures stay."""
    qos0, qos1 = runs
    result = {
        "qos0_points_per_s": round(qos0.points_per_s),
        "qos1_points_per_s": round(qos1.points_per_s),
        "lost": qos0.lost_msgs + qos1.lost_msgs,
        "p50_ms": round(max(qos0.p50_ms, qos1.p50_ms), 1),
        "p99_ms": round(max(qos0.p99_ms, qos1.p99_ms), 1),
        "compression": qos1.compression,
        "runs": [asdict(r) for r in runs],
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    by_mode = json.loads(output.read_text()) if output.exists() else {}
    by_mode[qos1.storage_mode] = result
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(dict(sorted(by_mode.items())), indent=2) + "\n")


def run_once(*, qos: int, rate: float, duration: float, devices: int, gateways: int, server: Server) -> RunFigures:
    with tempfile.TemporaryDirectory(prefix="homecare-bench-") as tmp, _database(Path(tmp), server) as dsn:
        work = Path(tmp)
        with mosquitto_broker(work) as broker_url:
            return _measure(
                work, dsn, broker_url, qos=qos, rate=rate, duration=duration, devices=devices, gateways=gateways
            )


@contextlib.contextmanager
def _database(work: Path, server: Server) -> Iterator[str]:
    """A fresh, empty database: on the external server (dropped afterwards), else on an embedded one."""
    server_url = server.url
    if server_url is None:
        database = EmbeddedPostgres(work / "data", bin_dir=server.bin_dir, settings=server.settings)
        try:
            yield database.start()
        finally:
            database.stop()
        return
    name = f"homecare_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _prepare(dsn: str) -> StorageMode:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        return await prepare_database(conn, settings=StorageSettings(_env_file=None, database_url=dsn))


def _compression(dsn: str) -> dict[str, int]:
    """Compress every telemetry chunk (as the compression policy does after 7 days) and total their bytes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('telemetry') c")
        row = conn.execute(
            "SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes) "
            "FROM chunk_compression_stats('telemetry')"
        ).fetchone()
    assert row is not None
    return {"before_bytes": int(row[0]), "after_bytes": int(row[1])}


def _measure(
    work: Path, dsn: str, broker_url: str, *, qos: int, rate: float, duration: float, devices: int, gateways: int
) -> RunFigures:
    mode = asyncio.run(_prepare(dsn))
    fleet = fleet_devices(devices, prefix="bench")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO residents (display_name) SELECT 'bench ' || g FROM generate_series(1, %s) g", (devices,)
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s)",
                [(d.uid, i + 1) for i, d in enumerate(fleet)],
            )

    dropped = _BrokerDropCounter(broker_url)
    metrics_ports = [free_port() for _ in range(gateways)]
    processes = [
        _start_gateway(work, dsn, broker_url, port, index, gateways) for index, port in enumerate(metrics_ports)
    ]
    try:
        for port in metrics_ports:
            _wait_for_metrics(port)
        config = FleetConfig(
            parse_mqtt_url(broker_url),
            devices=devices,
            rate=rate,
            duration_s=duration,
            qos=qos,
            prefix="bench",
            burst=4,
        )
        console.print(f"QoS {qos}: {devices} devices, {rate:,.0f} messages/s for {duration:.0f} s…")
        publishing_since: list[float] = []

        def progress(p: FleetProgress) -> None:
            if p.phase == "publishing" and not publishing_since:
                publishing_since.append(time.monotonic())
            status.update(_progress_line(p))

        with console.status("") as status:
            result = run_fleet(config, on_progress=progress)
            expected = result.sent
            stored, drained_at = _wait_until_stored(dsn, expected, status)
        histogram = [_scrape_histogram(port) for port in metrics_ports]
        lost = _lost(dsn, result.devices)
        # From the first message published to the last row stored: a gateway that falls behind
        # stretches this time and lowers the figure, as it should.
        busy_s = drained_at - publishing_since[0]
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)
        broker_dropped = dropped.close()
    p50, p99 = _quantiles(_merge(histogram), (0.5, 0.99))
    return RunFigures(
        qos=qos,
        target_rate_msgs=rate,
        published_msgs=expected,
        publish_s=result.elapsed_s,
        publisher_us_per_msg=result.us_per_message,
        stored_points=stored,
        stored_msgs=stored // 3,
        drain_s=busy_s,
        points_per_s=stored / busy_s,
        lost_msgs=lost,
        broker_dropped=broker_dropped,
        p50_ms=p50 * 1000,
        p99_ms=p99 * 1000,
        gateways=len(processes),
        storage_mode=mode.value,
        compression=_compression(dsn) if mode is StorageMode.TIMESCALE else None,
    )


def _start_gateway(
    work: Path, dsn: str, broker_url: str, metrics_port: int, index: int, gateways: int
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOMECARE_DATABASE_URL": dsn,
        "HOMECARE_MQTT_URL": broker_url,
        "HOMECARE_GATEWAY_CLIENT_ID": f"bench-gateway-{index}",
        "HOMECARE_GATEWAY_METRICS_PORT": str(metrics_port),
    }
    if gateways > 1:
        env["HOMECARE_MQTT_SHARE_GROUP"] = "homecare-gateways"
    log = (work / f"gateway-{index}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "homecare.launcher.cli", "gateway"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def _wait_for_metrics(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1.0)
            time.sleep(1.0)  # metrics come up before the subscription; give it a moment
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError("the gateway did not start")


def _progress_line(p: FleetProgress) -> str:
    return (
        f"{p.phase}: {p.connected}/{p.devices} connected, {p.sent:,} sent, {p.acked:,} acked, "
        f"{p.errors} errors, {p.elapsed_s:.0f} s"
    )


def _wait_until_stored(dsn: str, expected_msgs: int, status: Any, idle_s: float = 10.0) -> tuple[int, float]:
    """Rows stored once the gateway has caught up (or stopped making progress for `idle_s`)."""
    last, last_change = -1, time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM telemetry").fetchone()
            stored = int(row[0]) if row else 0
            now = time.monotonic()
            if stored != last:
                last, last_change = stored, now
            status.update(f"draining: {stored:,} of {3 * expected_msgs:,} data points stored")
            if stored >= 3 * expected_msgs or now - last_change > idle_s:
                return stored, last_change
            time.sleep(0.2)


def _lost(dsn: str, tallies: list[Any]) -> int:
    """Messages a device sent that are not in the database, from each device's seq range."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE sent (uid text, first_seq bigint, last_seq bigint)")
        with conn.cursor() as cur, cur.copy("COPY sent (uid, first_seq, last_seq) FROM STDIN") as copy:
            for tally in tallies:
                if tally.last_seq is not None:
                    copy.write_row((tally.uid, tally.first_seq, tally.last_seq))
        row = conn.execute(
            "SELECT coalesce(sum(s.last_seq - s.first_seq + 1), 0) - (SELECT count(DISTINCT (t.device_id, t.seq)) "
            "FROM telemetry t JOIN devices d ON d.id = t.device_id JOIN sent s2 ON s2.uid = d.uid "
            "WHERE t.seq BETWEEN s2.first_seq AND s2.last_seq) FROM sent s"
        ).fetchone()
    return int(row[0]) if row else 0


_BUCKET = re.compile(r'^homecare_gateway_ingest_latency_seconds_bucket\{le="([^"]+)",path="telemetry"\} (\S+)$')


def _scrape_histogram(port: int) -> list[tuple[float, float]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    buckets = []
    for line in text.splitlines():
        match = _BUCKET.match(line)
        if match:
            buckets.append((float(match.group(1)), float(match.group(2))))
    return buckets


def _merge(histograms: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    merged: dict[float, float] = {}
    for histogram in histograms:
        for bound, count in histogram:
            merged[bound] = merged.get(bound, 0.0) + count
    return sorted(merged.items())


def _quantiles(buckets: list[tuple[float, float]], qs: tuple[float, ...]) -> list[float]:
    """Quantiles from cumulative Prometheus buckets, interpolating linearly inside a bucket."""
    total = buckets[-1][1] if buckets else 0.0
    found = []
    for q in qs:
        rank, lower_bound, lower_count = q * total, 0.0, 0.0
        value = float("nan")
        for bound, count in buckets:
            if count >= rank:
                if bound == float("inf"):
                    value = lower_bound
                else:
                    share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0.0
                    value = lower_bound + share * (bound - lower_bound)
                break
            lower_bound, lower_count = bound, count
        found.append(value)
    return found


class _BrokerDropCounter:
    """Mosquitto's own count of messages it dropped (must stay 0), from $SYS."""

    def __init__(self, broker_url: str) -> None:
        self._value = 0
        self._lock = threading.Lock()
        self._client = TestClient(broker_url, on_message=self._seen)
        self._client.subscribe("$SYS/broker/publish/messages/dropped", qos=0)

    def _seen(self, message: Any) -> None:
        with self._lock:
            self._value = int(message.payload or b"0")

    def close(self) -> int:
        time.sleep(1.5)  # one more $SYS interval
        self._client.close()
        with self._lock:
            return self._value


if __name__ == "__main__":
    main()
