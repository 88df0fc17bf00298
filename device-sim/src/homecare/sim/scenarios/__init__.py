"""Scenario files: YAML scripts of what happens to whom and when, validated by a strict schema.

Exceptions::

    ScenarioError        the file is missing, not YAML, or breaks the schema (message names the place)
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from homecare.contracts.messages import DeviceKind, EventKind
from homecare.sim.battery import SPECS
from homecare.sim.clock import SimClock
from homecare.sim.household import Outage
from homecare.sim.incidents import Fall, FalseFallAlarm, Hazard, HypertensiveCrisis, NightOut, SosPress
from homecare.sim.mqtt_url import BrokerAddress
from homecare.sim.neighbourhood import Neighbourhood, build_neighbourhood
from homecare.sim.resident import Drift
from homecare.sim.routine import Room
from homecare.sim.runner import Jump, NeighbourhoodRun, RunOptions, VoiceOptions

SCENARIO_DIR: Final = Path(__file__).parent

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)
_AT = re.compile(r"^(?:day (?P<day>\d+) )?(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?$|^\+(?P<offset>.+)$")


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with a message that says where and why."""


def parse_duration(value: str | float) -> timedelta:
    """`90s`, `15m`, `2h`, `3d`, `1h30m`, or a number of seconds."""
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(value)
    if match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 15m, 2h, 3d or 1h30m)")
    d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def _duration_field(value: Any) -> Any:
    """Durations in files: our short forms, or whatever pydantic accepts for a timedelta."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration_field)]


def _check_at(value: str) -> str:
    match = _AT.match(value)
    if match is None:
        raise ValueError(f"not a time: {value!r} (write HH:MM, 'day N HH:MM' or '+15m' from the start)")
    if match["offset"] is not None:
        parse_duration(match["offset"])
    elif int(match["h"]) > 23 or int(match["m"]) > 59 or (match["day"] is not None and int(match["day"]) < 1):
        raise ValueError(f"no such time: {value!r}")
    return value


At = Annotated[str, BeforeValidator(lambda v: _check_at(str(v)))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Step(_Strict):
    at: At = Field(description="HH:MM on the first day, 'day N HH:MM', or '+<duration>' after the start.")
    resident: int = Field(ge=1, description="Resident number in the neighbourhood (1…residents).")


class FallStep(_Step):
    do: Literal["fall"]
    room: Room | None = Field(default=None, description="Where; by default wherever their day puts them.")
    responds: bool = Field(default=False, description="Presses 'I'm OK' after `response_after`.")
    response_after: Duration = timedelta(seconds=20)
    lies_for: Duration = Field(default=timedelta(hours=1), description="Time on the floor.")
    device: Literal[DeviceKind.WRISTBAND, DeviceKind.SOS_PENDANT] = Field(
        default=DeviceKind.WRISTBAND, description="The wearable whose fall trigger fires (and sends its IMU burst)."
    )


class FalseFallAlarmStep(_Step):
    do: Literal["false_fall_alarm"]
    response_after: Duration = timedelta(seconds=12)
    device: Literal[DeviceKind.WRISTBAND, DeviceKind.SOS_PENDANT] = Field(
        default=DeviceKind.WRISTBAND, description="The wearable whose fall trigger fires on a knock."
    )


class SosStep(_Step):
    do: Literal["sos"]
    device: Literal[DeviceKind.SOS_PENDANT, DeviceKind.WRISTBAND] = DeviceKind.SOS_PENDANT
    cancel_after: Duration | None = Field(default=None, description="Presses 'I'm OK' after this long.")


class WanderStep(_Step):
    do: Literal["wander"]
    returns_after: Duration | None = Field(default=None, description="Absent: not back before the end.")


class BatteryDiesStep(_Step):
    do: Literal["battery_dies"]
    device: DeviceKind = DeviceKind.WRISTBAND
    warning: Duration = Field(default=timedelta(hours=1), description="Fast drain before `at`.")
    recharged_after: Duration | None = Field(default=None, description="Absent: stays flat.")

    @field_validator("device")
    @classmethod
    def _has_battery(cls, device: DeviceKind) -> DeviceKind:
        if SPECS[device].life_h is None:
            raise ValueError(f"{device} runs on mains power; it has no battery to die")
        return device


class VitalDriftStep(_Step):
    do: Literal["vital_drift"]
    metric: Literal["heart_rate", "spo2", "skin_temp", "resp_rate"]
    change: float = Field(description="Total change, in the metric's unit, reached after `over`.")
    over: Duration


class OfflineStep(_Step):
    do: Literal["offline"]
    device: DeviceKind = DeviceKind.HOME_UNIT
    for_: Duration | None = Field(default=None, alias="for", description="Absent: offline to the end.")


class HazardStep(_Step):
    do: Literal["hazard"]
    kind: Literal["smoke", "water_leak"]
    room: Room = Room.KITCHEN


class BloodPressureCrisisStep(_Step):
    do: Literal["blood_pressure_crisis"]
    systolic: int = Field(default=196, ge=40, le=300, description="mmHg, as the cuff reports it.")
    diastolic: int = Field(default=114, ge=20, le=200, description="mmHg.")
    pulse: int = Field(default=96, ge=20, le=250, description="beats/min.")


class CarerNoShowStep(_Step):
    """A home service booked for the resident to start then, whose carer never arrives: the platform raises the
    carer's non-arrival (HOMECARE_CARER_LATE_AFTER_MIN after the start, on its own clock)."""

    do: Literal["carer_no_show"]
    service: Literal["meal", "cleaning", "bathing", "nursing"] = Field(default="meal", description="What is booked.")


class MissedDoseStep(_Step):
    do: Literal["missed_dose"]
    medicine: str = Field(default="二甲双胍 Metformin", min_length=1, max_length=100)
    dose: str = Field(default="500 mg", min_length=1, max_length=60)
    confirm_window: Duration = Field(
        default=timedelta(minutes=30), description="Scenario time before the family is told (the platform's default)."
    )
    station_after: Duration = Field(
        default=timedelta(minutes=30), description="Scenario time after that before the station is (the default)."
    )

    def windows_min(self, speed: float) -> tuple[int, int]:
        """The schedule's confirmation windows in the platform's (real) minutes at this speed, a minute at least:
        the platform's clock is real, so fast play shortens them as it shortens everything else."""

        def real(window: timedelta) -> int:
            return max(1, round(window.total_seconds() / 60 / speed))

        return real(self.confirm_window), real(self.station_after)


class JumpStep(_Strict):
    do: Literal["jump"]
    at: At
    to: At = Field(description="The simulated time to continue from (later than `at`).")


Step = Annotated[
    FallStep
    | FalseFallAlarmStep
    | SosStep
    | WanderStep
    | BatteryDiesStep
    | VitalDriftStep
    | OfflineStep
    | HazardStep
    | BloodPressureCrisisStep
    | CarerNoShowStep
    | MissedDoseStep
    | JumpStep,
    Field(discriminator="do"),
]


class Scenario(_Strict):
    """A neighbourhood, a start time and speed, and the steps that happen in it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    seed: int = Field(default=1, ge=0)
    residents: int = Field(default=50, ge=1, le=10_000, description="Size of the neighbourhood.")
    only: list[Annotated[int, Field(ge=1)]] | None = Field(
        default=None, description="Enrol and run only these residents' homes (the others stay out of the run)."
    )
    timezone: str = "Asia/Shanghai"
    start: datetime
    duration: Duration
    speed: float = Field(default=1.0, gt=0, le=1_000_000)
    background_incidents: bool = Field(default=False, description="Also random falls, false alarms, presses.")
    telemetry_interval: Duration = timedelta(seconds=60)
    heartbeat_interval: Duration = timedelta(seconds=300)
    steps: list[Step] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        end = self.begins + self.duration
        for i, step in enumerate(self.steps):
            where = f"steps[{i}] ({step.do} at {step.at!r})"
            when = self.time_of(step.at)
            if not self.begins <= when <= end:
                raise ValueError(f"{where} is outside the run {self.begins:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M}")
            if isinstance(step, JumpStep):
                if not when < self.time_of(step.to) <= end:
                    raise ValueError(f"{where} must jump forward within the run, not to {step.to!r}")
                continue
            if step.resident > self.residents:
                raise ValueError(f"{where} names resident {step.resident}, but there are {self.residents}")
            if self.only is not None and step.resident not in self.only:
                raise ValueError(f"{where} names resident {step.resident}, who is not in 'only'")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def begins(self) -> datetime:
        """The start as an aware time (a naive start is read in the scenario's time zone)."""
        return self.start if self.start.tzinfo is not None else self.start.replace(tzinfo=self.tz)

    @property
    def ends(self) -> datetime:
        return self.begins + self.duration

    @property
    def device_prefix(self) -> str:
        """A scenario's devices are its own (`sc1-r0007-wr`), never those of a running neighbourhood (`r0007-wr`)."""
        return f"sc{self.seed}-"

    @property
    def resident_reference(self) -> str:
        """Its residents' reference at the platform (a format of their number), apart from a neighbourhood's."""
        return f"scenario-{self.seed}-{{index:04d}}"

    @property
    def real_duration_s(self) -> float:
        """Real seconds the run takes at its speed (what its jumps skip takes none)."""
        skipped = sum(
            (self.time_of(step.to) - self.time_of(step.at)).total_seconds()
            for step in self.steps
            if isinstance(step, JumpStep)
        )
        return (self.duration.total_seconds() - skipped) / self.speed

    def time_of(self, at: str) -> datetime:
        match = _AT.match(at)
        assert match is not None  # checked by the At type
        if match["offset"] is not None:
            return self.begins + parse_duration(match["offset"])
        first_day = self.begins.astimezone(self.tz).date() + timedelta(days=int(match["day"] or 1) - 1)
        return datetime(
            first_day.year,
            first_day.month,
            first_day.day,
            int(match["h"]),
            int(match["m"]),
            int(match["s"] or 0),
            tzinfo=self.tz,
        )


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; any problem becomes one ScenarioError naming the file."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ScenarioError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields (name, start, steps, …)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(f"{path}: {_explain(err)}") from err


def _explain(err: ValidationError) -> str:
    lines = []
    for item in err.errors(include_url=False, include_input=False)[:5]:
        where = ""
        for part in item["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where or 'scenario'}: {message}")
    if err.error_count() > 5:
        lines.append(f"(+{err.error_count() - 5} more)")
    return "\n  " + "\n  ".join(lines)


def on_present_clock(scenario: Scenario, *, speed: float | None = None, now: float | None = None) -> Scenario:
    """The scenario moved to the present, at `speed` (default: its own). Every step keeps its offset from the start;
    the start is placed so that the simulated clock never runs ahead of the real one, which the platform would
    refuse as clock skew: at speed 1 the run starts now, faster it starts as far back as it will gain and reaches
    the present as it ends."""
    moved = scenario.model_copy(update={"speed": speed or scenario.speed})
    now = time.time() if now is None else now
    start = now + moved.real_duration_s - moved.duration.total_seconds()

    def offset(at: str) -> str:
        return f"+{(scenario.time_of(at) - scenario.begins).total_seconds():.3f}s"

    steps = [
        step.model_copy(
            update={"at": offset(step.at)} | ({"to": offset(step.to)} if isinstance(step, JumpStep) else {})
        )
        for step in scenario.steps
    ]
    return Scenario.model_validate(
        moved.model_dump(by_alias=True) | {"start": datetime.fromtimestamp(start, moved.tz), "steps": steps}
    )


def shipped_scenarios() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.yaml"))


def stage(scenario: Scenario) -> tuple[Neighbourhood, list[Jump]]:
    """Build the neighbourhood and lay every step into its models; returns it with the clock jumps."""
    hood = build_neighbourhood(
        scenario.residents,
        seed=scenario.seed,
        timezone=scenario.timezone,
        background_incidents=scenario.background_incidents,
        uid_prefix=scenario.device_prefix,
    )
    end = scenario.ends.timestamp()
    jumps = []
    for step in scenario.steps:
        t = scenario.time_of(step.at).timestamp()
        if isinstance(step, JumpStep):
            jumps.append(Jump(t, scenario.time_of(step.to).timestamp()))
            continue
        home = hood.household(step.resident)
        if isinstance(step, FallStep):
            home.add_incident(
                Fall(
                    t,
                    room=step.room,
                    responds=step.responds,
                    response_after_s=step.response_after.total_seconds(),
                    lies_for_s=step.lies_for.total_seconds(),
                    device=step.device,
                )
            )
        elif isinstance(step, FalseFallAlarmStep):
            home.add_incident(
                FalseFallAlarm(t, response_after_s=step.response_after.total_seconds(), device=step.device)
            )
        elif isinstance(step, SosStep):
            cancel = None if step.cancel_after is None else step.cancel_after.total_seconds()
            home.add_incident(SosPress(t, step.device, cancel))
        elif isinstance(step, WanderStep):
            back = end - t + 3600 if step.returns_after is None else step.returns_after.total_seconds()
            home.add_incident(NightOut(t, minutes=back / 60))
        elif isinstance(step, BatteryDiesStep):
            recharge = None if step.recharged_after is None else t + step.recharged_after.total_seconds()
            home.batteries[step.device].kill(t, step.warning.total_seconds(), recharge)
        elif isinstance(step, VitalDriftStep):
            home.model.add_drift(Drift(step.metric, t, step.over.total_seconds() / 86400, step.change))
        elif isinstance(step, OfflineStep):
            until = math.inf if step.for_ is None else t + step.for_.total_seconds()
            home.outages.append(Outage(step.device, t, until))
        elif isinstance(step, HazardStep):
            home.add_incident(Hazard(t, EventKind(step.kind), step.room))
        elif isinstance(step, BloodPressureCrisisStep):
            home.add_incident(HypertensiveCrisis(t, step.systolic, step.diastolic, step.pulse))
        elif isinstance(step, MissedDoseStep):
            home.forgets_doses = True  # the platform schedules the dose (see prescriptions); nobody presses "taken"
        # A carer's no-show happens at the platform (the booking) and not at home: nothing for the devices.
    return hood, jumps


def prescriptions(scenario: Scenario, *, now: float | None = None) -> list[tuple[int, MissedDoseStep, datetime]]:
    """The doses a scenario on the present clock (``on_present_clock``) has the platform schedule: (resident, step,
    the real time it comes due, the next whole minute after the run reaches the step: the platform's clock is real)."""
    started = time.time() if now is None else now
    found = []
    for step in scenario.steps:
        if isinstance(step, MissedDoseStep):
            real = started + (scenario.time_of(step.at) - scenario.begins).total_seconds() / scenario.speed
            due = datetime.fromtimestamp(math.ceil(real / 60) * 60, scenario.tz)
            found.append((step.resident, step, due))
    return found


def scenario_run(
    scenario: Scenario,
    broker: BrokerAddress,
    *,
    speed: float | None = None,
    options: RunOptions | None = None,
    voice: VoiceOptions | None = None,
    credentials: Mapping[str, str] | None = None,
) -> NeighbourhoodRun:
    """A run of the staged scenario on its own clock; `await run.run(until=scenario.ends.timestamp())`.
    `credentials` are the secrets the platform issued, by uid (default: each device's own from the seed)."""
    hood, jumps = stage(scenario)
    clock = SimClock(scenario.begins.timestamp(), speed or scenario.speed)
    options = options or RunOptions(
        telemetry_interval_s=scenario.telemetry_interval.total_seconds(),
        heartbeat_interval_s=scenario.heartbeat_interval.total_seconds(),
    )
    run = NeighbourhoodRun(
        hood, broker, clock, residents=scenario.only, options=options, voice=voice, credentials=credentials
    )
    for jump in jumps:
        run.add_jump(jump)
    return run
