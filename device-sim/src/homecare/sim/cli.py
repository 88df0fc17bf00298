"""The `sim` command line: a neighbourhood, a scenario file, or a load fleet against a broker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from homecare.sim.clock import SimClock
from homecare.sim.device import SimDevice
from homecare.sim.fleet import FleetConfig, FleetProgress, fleet_devices, run_fleet
from homecare.sim.mqtt_url import BrokerAddress, parse_mqtt_url
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.platform import Platform, PlatformError
from homecare.sim.runner import NeighbourhoodRun, RunOptions, RunStatus, VoiceOptions
from homecare.sim.scenarios import (
    CarerNoShowStep,
    Scenario,
    ScenarioError,
    load_scenario,
    on_present_clock,
    parse_duration,
    prescriptions,
    scenario_run,
    shipped_scenarios,
    stage,
)
from homecare.sim.settings import SimSettings

app = typer.Typer(help="Simulated homes, scenarios and a load fleet for homecare.", no_args_is_help=True)
console = Console(stderr=True)

REGISTRY_DELAY_S: Final = 2.0  # the gateways learn of new devices from the database's notifications: let them
BOOKING_LEAD: Final = timedelta(minutes=1)  # a booking starts in the future: a step already past is booked this soon

MqttUrl = Annotated[
    str | None, typer.Option("--mqtt-url", help="Broker, mqtt://host:port (default: HOMECARE_MQTT_URL's).")
]
LogLevel = Annotated[str, typer.Option("--log-level", help="debug, info, warning.")]


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request to the platform is noise


def _fail(message: str, code: int = 1) -> NoReturn:
    """A mistake or a failure the user can act on: one plain line, no traceback."""
    console.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _broker(mqtt_url: str | None) -> BrokerAddress:
    try:
        return parse_mqtt_url(mqtt_url) if mqtt_url else SimSettings().broker
    except ValueError as err:
        _fail(str(err), 2)


def _seconds(text: str) -> float:
    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def _status_line(s: RunStatus, tz: Any) -> str:
    sent = " ".join(f"{k} {v}" for k, v in s.sent.items() if v)
    alarm = f" | last alarm: {s.alarms[-1]}" if s.alarms else ""
    when = datetime.fromtimestamp(s.sim_time, tz).strftime("%Y-%m-%d %H:%M:%S") if s.sim_time else "…"
    online = f"online {s.connected}/{s.devices}"
    return f"[bold]{when}[/] | {online} | sent {sent or '-'} | unacked events {s.unacked}{alarm}"


def _play(run: NeighbourhoodRun, until: float | None) -> RunStatus:
    """Run with a live status line until `until` or Ctrl-C (devices then say offline and disconnect)."""
    tz = run.hood.tz
    with (
        Live("starting…", console=console, refresh_per_second=4) as live,
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(run.run(until=until, on_tick=lambda status: live.update(_status_line(status, tz))))
    return run.status


ApiUrl = Annotated[
    str | None,
    typer.Option(
        envvar="HOMECARE_SIM_API_URL",
        help="The platform's API, http://host:port: home units fetch its call-signing key and answer its calls.",
    ),
]
CallKey = Annotated[
    Path | None, typer.Option(help="Instead of asking the API: a file holding the call-signing public key (base64url).")
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="The home units' speech is made once and kept under it (default: HOMECARE_DATA_DIR's)."),
]


def _voice(api_url: str | None, call_key: Path | None, data_dir: Path) -> VoiceOptions | None:
    """Voices for the home units when the platform's key can be had; otherwise they stay mute (said once)."""
    if api_url is None and call_key is None:
        logging.getLogger(__name__).warning("voice off: no --api-url or --call-key; home units will not answer calls")
        return None
    return VoiceOptions(data_dir / "sim-speech", api_url=api_url, key_file=call_key)


@app.command()
def neighbourhood(
    residents: Annotated[int, typer.Option(help="How many residents (numbered from 1).")] = 50,
    seed: Annotated[int, typer.Option(help="Everything about the people and their days follows from it.")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second (60: an hour a minute).")] = 1.0,
    mqtt_url: MqttUrl = None,
    only: Annotated[str | None, typer.Option(help="Run only these residents, e.g. 1,2,7.")] = None,
    start: Annotated[datetime | None, typer.Option(help="Simulated start (default: now).")] = None,
    duration: Annotated[str | None, typer.Option(help="Simulated time to run, e.g. 2h (default: forever).")] = None,
    telemetry_interval: Annotated[float, typer.Option(help="Seconds of simulated time.")] = 60.0,
    heartbeat_interval: Annotated[float, typer.Option(help="Seconds of simulated time.")] = 300.0,
    background: Annotated[bool, typer.Option(help="Random falls, false alarms, presses at real-world rates.")] = True,
    secrets: Annotated[bool, typer.Option(help="Log in with each device's secret as password.")] = True,
    state: Annotated[Path | None, typer.Option(help="JSON file keeping each device's seq across runs.")] = None,
    api_url: ApiUrl = None,
    call_key: CallKey = None,
    data_dir: DataDir = None,
    log_level: LogLevel = "info",
) -> None:
    """Run a neighbourhood's devices (7 per resident) against a broker; with --api-url or --call-key each home
    unit answers the platform's calls and speaks."""
    _logging(log_level)
    hood = build_neighbourhood(residents, seed=seed, background_incidents=background)
    clock = SimClock(start.timestamp() if start else None, speed)
    chosen = [int(x) for x in only.split(",")] if only else None
    options = RunOptions(telemetry_interval, heartbeat_interval, seq_state=state)
    run = NeighbourhoodRun(
        hood,
        _broker(mqtt_url),
        clock,
        residents=chosen,
        options=options,
        secrets=secrets,
        voice=_voice(api_url, call_key, data_dir or SimSettings().data_dir),
    )
    until = clock.now() + _seconds(duration) if duration else None
    _play(run, until)


@app.command()
def enrolment(
    residents: Annotated[int, typer.Option(help="Neighbourhood size.")] = 50,
    seed: Annotated[int, typer.Option()] = 1,
    fleet: Annotated[int, typer.Option(help="Instead: this many load-test devices.")] = 0,
    prefix: Annotated[str, typer.Option(help="Load-test device uid prefix.")] = "fleet",
    output: Annotated[Path | None, typer.Option(help="Write JSON here (default: stdout).")] = None,
) -> None:
    """Print the enrolment data (stations, residents, homes, devices with secrets) as JSON."""
    data: Any
    if fleet:
        data = [dataclasses.asdict(d) for d in fleet_devices(fleet, prefix=prefix, seed=seed)]
    else:
        data = dataclasses.asdict(build_neighbourhood(residents, seed=seed).enrolment)
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


@app.command()
def scenarios() -> None:
    """List the shipped scenario files (each is validated)."""
    table = Table("file", "description")
    for path in shipped_scenarios():
        try:
            table.add_row(path.name, " ".join(load_scenario(path).description.split()))
        except ScenarioError as err:
            table.add_row(path.name, Text(str(err), style="red"))
    Console().print(table)


def _scenario_file(name: str) -> Path:
    """A scenario file, or the shipped scenario of that name (with or without .yaml)."""
    if Path(name).exists():
        return Path(name)
    shipped = {p.stem: p for p in shipped_scenarios()} | {p.name: p for p in shipped_scenarios()}
    if name in shipped:
        return shipped[name]
    names = ", ".join(p.stem for p in shipped_scenarios())
    _fail(f"no scenario {name!r}: give a scenario file, or one of {names} (`homecare sim scenarios` says more)", 2)


@app.command()
def scenario(
    name: Annotated[str, typer.Argument(help="A shipped scenario (`homecare sim scenarios`) or a scenario file.")],
    mqtt_url: MqttUrl = None,
    speed: Annotated[float | None, typer.Option(help="Override the scenario's speed (above 0).")] = None,
    check: Annotated[bool, typer.Option(help="Only validate the file.")] = False,
    api_url: Annotated[
        str | None, typer.Option(help="The platform's API (default: HOMECARE_SIM_API_URL, or HOMECARE_API_PORT's).")
    ] = None,
    data_dir: DataDir = None,
    log_level: LogLevel = "info",
) -> None:
    """Play a scenario ("resident 7 falls at 10:00 and does not respond") against the running platform, now.

    Its residents and devices are its own, enrolled through the API with fresh secrets and revoked when it ends,
    so a running neighbourhood's devices are never taken over. It runs on the present clock (at a speed above 1 it
    starts in the recent past and reaches the present as it ends), and exits with 1 when no device could connect
    or none of the events it sent was acknowledged."""
    if speed is not None and not 0 < speed <= 1_000_000:
        _fail(f"--speed must be above 0 and at most 1000000, not {speed:g}", 2)
    try:
        loaded = load_scenario(_scenario_file(name))
    except ScenarioError as err:
        _fail(str(err), 2)
    if check:
        console.print(f"{name}: ok ({len(loaded.steps)} steps, {loaded.duration} at speed {speed or loaded.speed:g})")
        return
    _logging(log_level)
    settings = SimSettings()
    if api_url:
        settings = settings.model_copy(update={"sim_api_url": api_url})
    if data_dir:
        settings = settings.model_copy(update={"data_dir": data_dir})
    broker = _broker(mqtt_url)
    try:
        status, devices = _play_at_platform(loaded, settings, broker, speed)
    except PlatformError as err:
        _fail(str(err))
    events = status.sent.get("event", 0)
    console.print(f"{loaded.name}: {events} events sent, {status.acked} acknowledged by the platform")
    if not any(device.stats.connects for device in devices):
        _fail(f"no device of the scenario could connect to the broker at {broker}")
    if events and not status.acked:
        _fail(f"none of the {events} events sent was acknowledged: is a gateway of the platform reading {broker}?")


def _play_at_platform(
    loaded: Scenario, settings: SimSettings, broker: BrokerAddress, speed: float | None
) -> tuple[RunStatus, list[SimDevice]]:
    """Enrol the scenario's homes, play it on the present clock, then revoke its devices."""
    with Platform(settings.api_url, settings.token()) as platform:
        hood, _ = stage(loaded)
        residents = [hood.household(i).record for i in (loaded.only or sorted(hood.households))]
        credentials = platform.enrol(residents, reference=loaded.resident_reference)
        time.sleep(REGISTRY_DELAY_S)
        present = on_present_clock(loaded, speed=speed)
        for resident, step, due in prescriptions(present):
            reference = loaded.resident_reference.format(index=resident)
            windows = step.windows_min(present.speed)
            platform.prescribe(reference, medicine=step.medicine, dose=step.dose, due=due, windows_min=windows)
        log = logging.getLogger(__name__)
        log.info(
            "%s: %d residents with %d devices of its own, from %s at speed %g",
            loaded.name,
            len(residents),
            len(credentials),
            present.begins.strftime("%H:%M:%S"),
            present.speed,
        )
        _book_no_shows(platform, present, log)
        options = RunOptions(
            telemetry_interval_s=present.telemetry_interval.total_seconds(),
            heartbeat_interval_s=present.heartbeat_interval.total_seconds(),
            drain_s=15.0,
        )
        voice = VoiceOptions(settings.data_dir / "sim-speech", api_url=settings.api_url)
        run = scenario_run(present, broker, options=options, voice=voice, credentials=credentials)
        status = _play(run, present.ends.timestamp())
        platform.retire(credentials, prefix=loaded.device_prefix)
        return status, list(run.devices.values())


def _book_no_shows(platform: Platform, present: Scenario, log: logging.Logger) -> None:
    """Book the scenario's visits whose carer will not come, at their step's time (or a minute from now when fast
    play has put it in the past) and given to a carer of the scenario's own."""
    for step in present.steps:
        if isinstance(step, CarerNoShowStep):
            starts_at = max(present.time_of(step.at), datetime.now(present.tz) + BOOKING_LEAD)
            booking = platform.book_visit(
                reference=present.resident_reference.format(index=step.resident),
                kind=step.service,
                starts_at=starts_at,
                carer=f"{present.device_prefix}carer",
            )
            log.info(
                "booked visit %d for resident %d at %s; its carer will not come (the platform alerts after the "
                "non-arrival time)",
                booking,
                step.resident,
                starts_at.strftime("%H:%M:%S"),
            )


@app.command()
def fleet(
    devices: Annotated[int, typer.Option(help="Simulated wristbands, one connection each.")] = 2000,
    rate: Annotated[float, typer.Option(help="Messages per second, all devices together.")] = 20_000.0,
    duration: Annotated[float, typer.Option(help="Seconds of publishing (after all have connected).")] = 60.0,
    qos: Annotated[int, typer.Option(min=0, max=1)] = 0,
    mqtt_url: MqttUrl = None,
    processes: Annotated[int, typer.Option(help="Split the devices over this many processes.")] = 1,
    burst: Annotated[int, typer.Option(min=1, help="Messages per device per write (fewer syscalls).")] = 1,
    prefix: Annotated[str, typer.Option(help="Device uids are PREFIX-000001….")] = "fleet",
    first_index: Annotated[int, typer.Option(help="Number of the first device.")] = 1,
    seed: Annotated[int, typer.Option(help="Readings and secrets follow from it.")] = 1,
    secrets: Annotated[bool, typer.Option(help="Log in with each device's secret as password.")] = False,
    inflight: Annotated[int, typer.Option(help="QoS 1 window per connection.")] = 64,
    report: Annotated[Path | None, typer.Option(help="Write a JSON report with each device's last seq.")] = None,
) -> None:
    """Load: thousands of devices publishing telemetry (3 data points each) at a target rate."""
    config = FleetConfig(
        broker=_broker(mqtt_url),
        devices=devices,
        rate=rate,
        duration_s=duration,
        qos=1 if qos else 0,
        processes=processes,
        burst=burst,
        prefix=prefix,
        first_index=first_index,
        seed=seed,
        with_secrets=secrets,
        inflight=inflight,
    )
    window: list[tuple[float, int]] = []

    def line(p: FleetProgress) -> str:
        window.append((p.elapsed_s, p.sent))
        del window[:-9]
        dt = window[-1][0] - window[0][0]
        now_rate = (window[-1][1] - window[0][1]) / dt if dt > 0 else 0.0
        return (
            f"[bold]{p.phase}[/] {p.elapsed_s:6.1f} s | connected {p.connected}/{p.devices} | "
            f"sent {p.sent:,} ({now_rate:,.0f}/s) | acked {p.acked:,} | errors {p.errors}"
        )

    try:
        with Live("connecting…", console=console, refresh_per_second=4) as live:
            result = run_fleet(config, lambda p: live.update(line(p)))
    except (OSError, RuntimeError) as err:
        console.print(f"fleet: {err}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from err
    summary: dict[str, Any] = {
        "devices": devices,
        "connected": result.connected,
        "qos": qos,
        "target_rate": rate,
        "sent": result.sent,
        "acked": result.acked,
        "rate": round(result.rate, 1),
        "elapsed_s": round(result.elapsed_s, 3),
        "cpu_s": round(result.cpu_s, 3),
        "us_per_message": round(result.us_per_message, 2),
        "errors": result.errors,
    }
    console.print(" | ".join(f"{k} {v}" for k, v in summary.items()))
    if report:
        summary["per_device"] = {
            d.uid: {"first_seq": d.first_seq, "last_seq": d.last_seq, "sent": d.sent, "acked": d.acked}
            for d in result.devices
        }
        report.write_text(json.dumps(summary, indent=1) + "\n")
        console.print(f"report: {report}")
