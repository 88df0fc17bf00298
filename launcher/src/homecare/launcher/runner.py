"""``homecare run``: the whole system on one machine, supervised, with a simulated neighbourhood."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from homecare.backend.accounts.demo import DemoLogin, demo_logins, ensure_demo_accounts
from homecare.backend.devices.repository import enrol_device
from homecare.backend.residents.repository import replace_contacts, set_home, upsert_resident
from homecare.backend.stations.repository import upsert_station
from homecare.backend.web.pages import HOME_OF
from homecare.launcher.settings import SystemSettings
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.records import Enrolment
from homecare.storage.connections import Conn
from homecare.storage.embedded import EmbeddedPostgres
from homecare.storage.maintenance import prepare_storage

console = Console()

VULNERABLE_FRAILTY = 0.6  # simulated residents this frail are flagged for monthly welfare visits
RESTART_LIMIT = 5  # restarts of one process within RESTART_WINDOW_S before the runner gives up
RESTART_WINDOW_S = 300.0


@dataclass
class Child:
    """One supervised process of the system."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # Its own session: Ctrl-C reaches only the runner, which stops the children in order.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "homecare.launcher.cli", *self.args],
                env={**env, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_system(settings: SystemSettings, *, residents: int, seed: int, speed: float) -> int:
    """Start everything, show where it is, supervise until Ctrl-C; returns the exit code."""
    data_dir = settings.data_dir.absolute()
    logs = data_dir / "logs"
    token = settings.api_token.get_secret_value() if settings.api_token else _demo_token(data_dir)
    database: EmbeddedPostgres | None = None
    children: list[Child] = []
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        with console.status("Starting homecare…") as status:
            status.update("Starting the database…")
            if settings.database_url is None:
                database = EmbeddedPostgres(data_dir)
                dsn = database.start()
            else:
                dsn = settings.database_url
            status.update("Applying database migrations…")
            asyncio.run(prepare_storage(dsn, settings))
            status.update(f"Enrolling a neighbourhood of {residents} residents…")
            enrolment = build_neighbourhood(residents, seed=seed).enrolment
            logins = demo_logins(data_dir)
            asyncio.run(_enrol(dsn, enrolment, logins))

            broker = urlsplit(settings.mqtt_url)
            env = {
                **os.environ,
                "HOMECARE_DATABASE_URL": dsn,
                "HOMECARE_MQTT_URL": settings.mqtt_url,
                "HOMECARE_API_TOKEN": token,
                "HOMECARE_DATA_DIR": str(data_dir),
            }
            api_url = f"http://{settings.api_host}:{settings.api_port}"
            if settings.embedded_broker:
                children.append(
                    Child(
                        "broker",
                        ["broker", "--host", broker.hostname or "127.0.0.1", "--port", str(broker.port or 1883)],
                        logs / "broker.log",
                    )
                )
            children += [
                # Two gateways, as under load: an alarm never waits behind telemetry (see gateway_channels).
                Child(
                    "gateway",
                    ["gateway"],
                    logs / "gateway-telemetry.log",
                    {"HOMECARE_GATEWAY_CHANNELS": "telemetry", "HOMECARE_GATEWAY_CLIENT_ID": "homecare-telemetry"},
                ),
                Child(
                    "alarm gateway",
                    ["gateway"],
                    logs / "gateway-alarms.log",
                    {"HOMECARE_GATEWAY_CHANNELS": "alarms", "HOMECARE_GATEWAY_CLIENT_ID": "homecare-alarms"},
                ),
                Child("api", ["api"], logs / "api.log"),
                Child(
                    "simulator",
                    [
                        "sim",
                        "neighbourhood",
                        "--residents",
                        str(residents),
                        "--seed",
                        str(seed),
                        "--speed",
                        str(speed),
                        "--mqtt-url",
                        settings.mqtt_url,
                        "--state",
                        str(data_dir / "sim-seq.json"),
                        "--api-url",
                        api_url,
                    ],
                    logs / "simulator.log",
                ),
            ]
            for child in children:
                if stopping:
                    return 130
                status.update(f"Starting the {child.name}…")
                child.start(env)
                if child.name == "broker":
                    _wait_for_broker(broker.hostname or "127.0.0.1", broker.port or 1883, child)
                elif child.name == "api":
                    _wait_for_http(f"{api_url}/healthz", child)
                elif "gateway" in child.name:
                    time.sleep(1.0)  # let it subscribe before the simulated devices connect
        _show_running(children, dsn, settings, api_url, token, logs, enrolment, logins)
        _supervise(children, env, dsn, lambda: stopping)
        return 0
    except StartupError as err:
        console.print(f"[bold red]Could not start:[/] {err}")
        return 1
    finally:
        with console.status("Stopping…"):
            for child in reversed(children):
                child.stop()
            if database is not None:
                database.stop()
        console.print("homecare stopped.")


class StartupError(RuntimeError):
    """A part of the system did not come up; the message says which and where its log is."""


async def _enrol(dsn: str, enrolment: Enrolment, logins: list[DemoLogin]) -> None:
    """Enrol the simulated residents, their devices and the demo sign-ins (idempotent: a re-run updates them)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await enrol_neighbourhood(conn, enrolment, logins)


async def enrol_neighbourhood(conn: Conn, enrolment: Enrolment, logins: list[DemoLogin]) -> None:
    """Stations, residents with homes and contacts, their devices, and the demo sign-ins, in one transaction."""
    resident_ids = []
    async with conn.transaction():
        stations = {
            station.code: await upsert_station(
                conn,
                code=station.code,
                name=station.name,
                address=station.address,
                phone=station.phone,
                lat=station.lat,
                lon=station.lon,
            )
            for station in enrolment.stations
        }
        for resident in enrolment.residents:
            resident_id = await upsert_resident(
                conn, external_ref=f"sim-{enrolment.seed}-{resident.index:04d}", display_name=resident.name
            )
            resident_ids.append(resident_id)
            await set_home(
                conn,
                resident_id=resident_id,
                address=resident.address,
                lat=resident.lat,
                lon=resident.lon,
                station_id=stations[resident.station],
                birth_year=resident.birth_year,
                sex={"f": "female", "m": "male"}[resident.sex],
                phone=resident.phone,
                vulnerable=resident.frailty >= VULNERABLE_FRAILTY,
            )
            await replace_contacts(
                conn,
                resident_id=resident_id,
                contacts=[(c.name, c.relation, c.phone, None) for c in resident.contacts],
            )
            for device in resident.devices:
                await enrol_device(
                    conn, uid=device.uid, kind=device.kind, resident_id=resident_id, secret=device.secret
                )
        await ensure_demo_accounts(
            conn, logins=logins, station_ids=list(stations.values()), resident_ids=resident_ids, now=datetime.now(UTC)
        )


def _demo_token(data_dir: Path) -> str:
    """The API token of this installation, made once and kept (readable by its owner only)."""
    path = data_dir / "api-token"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _check_alive(child: Child) -> None:
    if child.process is not None and child.process.poll() is not None:
        raise StartupError(f"the {child.name} exited with code {child.process.returncode}; see {child.log}")


def _wait_for_broker(host: str, port: int, child: Child, timeout: float = 30.0) -> None:
    """Until the broker accepts an MQTT connection (a bare TCP probe would make it log an error)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(child)
        probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="homecare-runner", protocol=mqtt.MQTTv311)
        probe.username_pw_set("homecare-runner")
        try:
            probe.connect(host, port, keepalive=10)
            probe.disconnect()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            probe._reset_sockets()  # paho leaves its wake-up socket pair to the garbage collector
    raise StartupError(f"the {child.name} does not accept MQTT connections on {host}:{port}; see {child.log}")


def _wait_for_http(url: str, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(child)
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise StartupError(f"the {child.name} does not answer {url}; see {child.log}")


def _show_running(
    children: list[Child],
    dsn: str,
    settings: SystemSettings,
    api_url: str,
    token: str,
    logs: Path,
    enrolment: Enrolment,
    logins: list[DemoLogin],
) -> None:
    table = Table(title="homecare is running", title_justify="left", show_header=True)
    table.add_column("part")
    table.add_column("where")
    table.add_column("pid", justify="right")
    table.add_row("database", _redacted(dsn), "")
    for child in children:
        where = {
            "broker": settings.mqtt_url,
            "gateway": f"{settings.mqtt_url} telemetry → database",
            "alarm gateway": f"{settings.mqtt_url} events, bursts, status → database → acks",
            "api": f"{api_url}  (docs: {api_url}/docs)",
            "simulator": f"{len(enrolment.residents)} residents, {len(enrolment.devices)} devices",
        }[child.name]
        table.add_row(child.name, where, str(child.process.pid if child.process else ""))
    console.print(table)
    accounts = Table(title=f"Sign in at {api_url}/login", title_justify="left")
    for column in ("user name", "password", "role", "opens"):
        accounts.add_column(column)
    for login in logins:
        accounts.add_row(login.username, login.password, login.role.value, HOME_OF[login.role])
    console.print(accounts)
    console.print(f"API token (Authorization: Bearer …): [bold]{token}[/]")
    console.print(f"Try: curl -H 'Authorization: Bearer {token}' {api_url}/api/residents/1/vitals/recent")
    console.print(f"Logs: {logs}/   Press Ctrl-C to stop.")


def _redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password:
        return dsn.replace(f":{parts.password}@", ":***@")
    return dsn


def _supervise(children: list[Child], env: dict[str, str], dsn: str, stopping: Callable[[], bool]) -> None:
    """Restart a process that dies (a crash must not take the platform down), and show a live line."""
    with console.status("") as status:
        while not stopping():
            for child in children:
                if child.process is not None and child.process.poll() is not None and not stopping():
                    now = time.monotonic()
                    child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_S] + [now]
                    if len(child.restarts) > RESTART_LIMIT:
                        raise StartupError(f"the {child.name} keeps exiting; see {child.log}")
                    console.print(f"[yellow]The {child.name} exited ({child.process.returncode}); restarting.[/]")
                    child.start(env)
            status.update(_live_line(dsn))
            for _ in range(20):
                if stopping():
                    break
                time.sleep(0.1)


def _live_line(dsn: str) -> str:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM telemetry WHERE ts > now() - interval '1 minute'),"
                " (SELECT count(*) FROM device_state WHERE last_seen_at > now() - interval '10 minutes'),"
                " (SELECT count(*) FROM events WHERE received_at > now() - interval '1 hour'),"
                " (SELECT count(*) FROM dead_letters WHERE received_at > now() - interval '1 hour')"
            ).fetchone()
    except psycopg.Error as err:
        return f"[red]database unavailable: {err}[/]"
    assert row is not None
    points, online, events, dead = row
    return (
        f"running · {points} data points in the last minute · {online} devices seen in 10 min · "
        f"{events} events and {dead} dead letters in the last hour · Ctrl-C stops"
    )
