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
from typing import Final
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from homecare.backend.accounts.demo import DemoLogin, demo_logins, ensure_demo_accounts
from homecare.backend.accounts.models import Actor, Role
from homecare.backend.care.rounds import generate_round
from homecare.backend.devices.repository import enrol_device
from homecare.backend.locations.models import NewSafeZone
from homecare.backend.locations.repository import add_zones_if_none
from homecare.backend.medication import repository as medication_repo
from homecare.backend.residents.repository import replace_contacts, set_home, upsert_resident
from homecare.backend.stations.repository import upsert_station
from homecare.backend.web.pages import HOME_OF
from homecare.launcher.care_day import book_care_days
from homecare.launcher.instance import Port, claim
from homecare.launcher.lifeline import ENV as LIFELINE_ENV
from homecare.launcher.lifeline import hold as hold_lifeline
from homecare.launcher.settings import SystemSettings
from homecare.sim.carers import CareRoster
from homecare.sim.equipment import safe_zones
from homecare.sim.medicines import medicines
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.records import Enrolment
from homecare.storage import EmbeddedServerError
from homecare.storage.connections import Conn
from homecare.storage.embedded import EmbeddedPostgres
from homecare.storage.maintenance import prepare_storage, prepare_storage_when_reachable
from homecare.storage.settings import redacted

console = Console()

SERVICE_USER = "homecare-gateway"  # the gateways' account at the embedded broker
RESTART_ALERT = 5  # restarts of one part within RESTART_WINDOW_S that turn the status line into an alert
RESTART_WINDOW_S = 300.0
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 30.0  # a part that keeps failing is still tried this often: the runner never gives up


@dataclass
class Restarts:
    """When a part of the system failed lately, and when to try it again."""

    times: list[float] = field(default_factory=list)
    due: float = 0.0

    def failed(self, now: float) -> None:
        """The first restart is at once; a part that keeps failing waits twice as long each time, up to the cap."""
        self.times = [t for t in self.times if now - t < RESTART_WINDOW_S] + [now]
        backoff = 0.0 if len(self.times) == 1 else BACKOFF_FIRST_S * 2.0 ** (len(self.times) - 2)
        self.due = now + min(backoff, BACKOFF_CAP_S)

    def alert(self, name: str, log: Path, now: float) -> str | None:
        recent = sum(1 for t in self.times if now - t < RESTART_WINDOW_S)
        if recent <= RESTART_ALERT:
            return None
        return (
            f"the {name} keeps failing: {recent} restarts in {RESTART_WINDOW_S / 60:.0f} min, "
            f"next in {max(0.0, self.due - now):.0f} s; see {log}"
        )


@dataclass
class Child:
    """One supervised process of the system."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: Restarts = field(default_factory=Restarts)

    def start(self, env: dict[str, str], lifeline: int) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            # Its own session: Ctrl-C reaches only the runner, which stops the children in order. The lifeline
            # ends the child when the runner ends without stopping it (SIGKILL, the out-of-memory killer).
            self.process = subprocess.Popen(
                [sys.executable, "-m", "homecare.launcher.cli", *self.args],
                env={**env, **self.env, LIFELINE_ENV: str(lifeline)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(lifeline,),
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
    ports = [Port(settings.api_host, settings.api_port, "API", "HOMECARE_API_PORT")]
    if settings.embedded_broker:
        address = urlsplit(settings.mqtt_url)
        ports.append(Port(address.hostname or "127.0.0.1", address.port or 1883, "broker", "HOMECARE_MQTT_URL"))
    instance = claim(data_dir, ports)  # before anything is started, written or connected
    logs = data_dir / "logs"
    token = settings.api_token.get_secret_value() if settings.api_token else _installation_secret(data_dir, "api-token")
    database: EmbeddedPostgres | None = None
    children: list[Child] = []
    stopping = False
    lifeline = hold_lifeline()

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
            # An external database that cannot be reached is a mistake to report now, not an outage to wait out.
            asyncio.run(
                prepare_storage_when_reachable(dsn, settings)
                if database is not None
                else prepare_storage(dsn, settings)
            )
            status.update(f"Enrolling a neighbourhood of {residents} residents…")
            hood = build_neighbourhood(residents, seed=seed)
            enrolment = hood.enrolment
            logins = demo_logins(data_dir)
            asyncio.run(_enrol(dsn, enrolment, logins, care=hood.care))

            # The gateways' account at the broker; the embedded broker takes it from the same variable.
            mqtt_url = (
                _with_service_account(settings.mqtt_url, data_dir) if settings.embedded_broker else settings.mqtt_url
            )
            broker = urlsplit(mqtt_url)
            env = {
                **os.environ,
                "HOMECARE_DATABASE_URL": dsn,
                "HOMECARE_MQTT_URL": mqtt_url,
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
                    {
                        "HOMECARE_GATEWAY_CHANNELS": "alarms",
                        "HOMECARE_GATEWAY_CLIENT_ID": "homecare-alarms",
                        **_alarm_gateway_metrics(settings),
                    },
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
                child.start(env, lifeline)
                if child.name == "broker":
                    _wait_for_broker(mqtt_url, child)
                elif child.name == "api":
                    _wait_for_http(f"{api_url}/healthz", child)
                elif "gateway" in child.name:
                    time.sleep(1.0)  # let it subscribe before the simulated devices connect
        _show_running(children, dsn, settings, api_url, token, logs, enrolment, logins)
        _supervise(children, database, env, lifeline, dsn, lambda: stopping)
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
        instance.close()
        console.print("homecare stopped.")


class StartupError(RuntimeError):
    """A part of the system did not come up; the message says which and where its log is."""


RUNNER: Final = Actor(name="homecare run", role=Role.ADMIN, user_id=None, display_name="homecare run")
"""Who plans the demo's welfare round (in the service's zone)."""


async def _enrol(dsn: str, enrolment: Enrolment, logins: list[DemoLogin], *, care: CareRoster | None = None) -> None:
    """Enrol the simulated residents, their devices and the demo sign-ins (idempotent: a re-run updates them), plan
    this month's welfare visits to the vulnerable ones and book the carers' visits of today and tomorrow (a re-run
    adds only what is missing)."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await enrol_neighbourhood(conn, enrolment, logins)
        await generate_round(conn, actor=RUNNER, month=None, now=datetime.now(UTC))
        if care is not None:
            await book_care_days(conn, care=care, now=datetime.now(UTC))
        await prescribe(conn, enrolment, now=datetime.now(UTC))


async def prescribe(conn: Conn, enrolment: Enrolment, *, now: datetime) -> None:
    """Give each simulated resident with a chronic condition its medicine's schedule (once: a re-run keeps it), so
    their home units are reminded at each dose time."""
    async with conn.transaction():
        for resident in enrolment.residents:
            found = await conn.execute(
                "SELECT id FROM residents WHERE external_ref = %s", (f"sim-{enrolment.seed}-{resident.index:04d}",)
            )
            row = await found.fetchone()
            if row is None or await medication_repo.schedules(conn, resident_id=row[0]):
                continue
            for medicine in medicines(resident.conditions):
                await medication_repo.insert_schedule(
                    conn,
                    resident_id=row[0],
                    medicine=medicine.name,
                    dose=medicine.dose,
                    times=list(medicine.times),
                    with_food=medicine.with_food,
                    starts_on=now.date(),
                    ends_on=None,
                    created_by=RUNNER.name,
                    now=now,
                )


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
                vulnerable=resident.vulnerable,
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
            if first := [NewSafeZone.model_validate(zone) for zone in safe_zones(resident)]:
                await add_zones_if_none(
                    conn, resident_id=resident_id, first=first, by="enrolment", now=datetime.now(UTC)
                )
        await ensure_demo_accounts(
            conn, logins=logins, station_ids=list(stations.values()), resident_ids=resident_ids, now=datetime.now(UTC)
        )


def _installation_secret(data_dir: Path, name: str) -> str:
    """A secret of this installation (the API token, the broker's service password), made once and kept
    (readable by its owner only)."""
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _check_alive(child: Child) -> None:
    if child.process is not None and child.process.poll() is not None:
        raise StartupError(f"the {child.name} exited with code {child.process.returncode}; see {child.log}")


def _with_service_account(mqtt_url: str, data_dir: Path) -> str:
    """The broker URL with the platform's service account in it: as given, or this installation's own."""
    parts = urlsplit(mqtt_url)
    if parts.username:
        return mqtt_url
    password = _installation_secret(data_dir, "broker-password")
    return urlunsplit(parts._replace(netloc=f"{SERVICE_USER}:{quote(password, safe='')}@{parts.netloc}"))


def _wait_for_broker(mqtt_url: str, child: Child, timeout: float = 30.0) -> None:
    """Until the broker accepts an MQTT connection (a bare TCP probe would make it log an error)."""
    url = urlsplit(mqtt_url)
    host, port = url.hostname or "127.0.0.1", url.port or 1883
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(child)
        probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="homecare-runner", protocol=mqtt.MQTTv311)
        probe.username_pw_set(unquote(url.username or ""), unquote(url.password or ""))
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
    table.add_row("database", redacted(dsn), "")
    broker = redacted(settings.mqtt_url)
    for child in children:
        where = {
            "broker": broker,
            "gateway": f"{broker} telemetry → database",
            "alarm gateway": f"{broker} events, bursts, status → database → acks",
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


def _alarm_gateway_metrics(settings: SystemSettings) -> dict[str, str]:
    """The alarm gateway serves its metrics on the port after the telemetry gateway's (both cannot bind one)."""
    if settings.gateway_metrics_port is None:
        return {}
    return {"HOMECARE_GATEWAY_METRICS_PORT": str(settings.gateway_metrics_port + 1)}


def _supervise(
    children: list[Child],
    database: EmbeddedPostgres | None,
    env: dict[str, str],
    lifeline: int,
    dsn: str,
    stopping: Callable[[], bool],
) -> None:
    """Restart whatever stops, the embedded database included, backing off a part that keeps failing but never
    giving up (the alarm path stays up while any one part recovers), and show a live line with the alerts."""
    database_restarts = Restarts()
    with console.status("") as status:
        while not stopping():
            now = time.monotonic()
            if database is not None and now >= database_restarts.due and not database.running:
                database_restarts.failed(now)
                _report_failure("database", "stopped", database_restarts, database.log_file, now)
                try:
                    database.start()
                except EmbeddedServerError as err:
                    console.print(f"[red]The database did not start: {err}[/]")
            for child in children:
                if stopping():
                    break
                if child.process is not None and child.process.poll() is not None:
                    child.restarts.failed(now)
                    _report_failure(child.name, f"exited ({child.process.returncode})", child.restarts, child.log, now)
                    child.process = None
                if child.process is None and now >= child.restarts.due:
                    child.start(env, lifeline)
            alerts = [child.restarts.alert(child.name, child.log, now) for child in children]
            if database is not None:
                alerts.append(database_restarts.alert("database", database.log_file, now))
            status.update(" · ".join([f"[bold red]{alert}[/]" for alert in alerts if alert] + [_live_line(dsn)]))
            for _ in range(20):
                if stopping():
                    break
                time.sleep(0.1)


def _report_failure(name: str, what: str, restarts: Restarts, log: Path, now: float) -> None:
    alert = restarts.alert(name, log, now)
    wait = restarts.due - now
    console.print(
        f"[bold red]{alert}[/]"
        if alert
        else f"[yellow]The {name} {what}; restarting{f' in {wait:.0f} s' if wait > 0 else ''}.[/]"
    )


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
