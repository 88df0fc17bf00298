"""One resident's home: what each device reports and when, derived from the resident's model."""

from __future__ import annotations

import bisect
import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np

from homecare.contracts.messages import DeviceKind, EventKind, FixSource, MealContext
from homecare.sim.battery import Battery
from homecare.sim.carers import CareRoster
from homecare.sim.imu import ImuSignal, fall_signal, knock_signal
from homecare.sim.incidents import Fall, FalseFallAlarm, Hazard, HypertensiveCrisis, Incident, SosPress
from homecare.sim.profiles import Condition
from homecare.sim.records import DeviceRecord, ResidentRecord
from homecare.sim.resident import ResidentModel
from homecare.sim.routine import ASLEEP, Activity, DayPlan, Doing, Room, local_day
from homecare.sim.seeds import Stream, rng_for

MOTION_ROOMS: Final = frozenset({Room.LIVING_ROOM, Room.HALLWAY, Room.KITCHEN})
_PIR_REPEAT_S: Final = 600.0  # a PIR sensor re-reports continued presence every ~10 min
_PIR_HOLDOFF_S: Final = 60.0
_M_PER_DEG: Final = 111_320.0
_CACHED_DAYS: Final = 3
_WEAR_KINDS: Final = frozenset({EventKind.WEARABLE_REMOVED, EventKind.WEARABLE_WORN})


@dataclass(frozen=True, slots=True)
class EventHappening:
    """An event a device reports at `t`; `key` links a later "I'm OK" (`cancels`) or IMU burst to it."""

    t: float
    device: DeviceKind
    key: str
    kind: EventKind
    room: str | None = None
    confidence: float | None = None
    cancels: str | None = None
    carer_code: str | None = None


@dataclass(frozen=True, slots=True)
class ImuHappening:
    """A raw IMU burst sent at `t` (when its recording ends) for the event `event`."""

    t: float
    device: DeviceKind
    event: str
    t0: float
    signal: ImuSignal


@dataclass(frozen=True, slots=True)
class WatchFix:
    """Where the GPS watch puts its wearer: WGS-84, accuracy in metres, how it knows, whether they walk."""

    lat: float
    lon: float
    accuracy_m: float
    source: FixSource
    moving: bool


@dataclass(frozen=True, slots=True)
class MeasurementHappening:
    """A home health check taken at `t`: a blood pressure (systolic, diastolic, pulse) or a glucose reading."""

    t: float
    device: DeviceKind
    blood_pressure: tuple[int, int, int] | None = None
    glucose: tuple[float, MealContext] | None = None


Happening = EventHappening | ImuHappening | MeasurementHappening


@dataclass(frozen=True, slots=True)
class Outage:
    """A device without network from `start` to `end` (inf: for the rest of the run)."""

    device: DeviceKind
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class TelemetryValues:
    heart_rate: int
    spo2: int
    skin_temp: float
    resp_rate: int
    steps: int
    activity: int
    location: tuple[float, float, float] | None  # lat, lon, accuracy in metres; only when out of home


@dataclass(frozen=True, slots=True)
class _Day:
    happenings: tuple[Happening, ...]
    times: tuple[float, ...]
    outages: tuple[Outage, ...]


MISSED_DOSE_SHARE: Final = 0.1
"""One dose reminder in ten goes unanswered (the platform then tells the family, and later the station)."""


class Household:
    """The resident, their devices' batteries and network, and the timeline of device reports."""

    def __init__(self, record: ResidentRecord, model: ResidentModel, batteries: dict[DeviceKind, Battery]) -> None:
        self.record = record
        self.model = model
        self.batteries = batteries
        self.outages: list[Outage] = []
        self._devices = {d.kind: d for d in record.devices}
        self._days: OrderedDict[date, _Day] = OrderedDict()
        self._t: float | None = None
        self._worn = True
        self.care: CareRoster | None = None  # the neighbourhood's carers, whose visits the home unit confirms
        self.forgets_doses = False  # the missed-dose scenario: every reminder goes unanswered

    @property
    def index(self) -> int:
        return self.record.index

    def device(self, kind: DeviceKind) -> DeviceRecord:
        """The home's device of this kind (uid, secret, room)."""
        return self._devices[kind]

    def add_incident(self, incident: Incident) -> None:
        """Script something for the resident (a scenario step); reports follow from it."""
        self.model.add_incident(incident)
        self._days.clear()

    def dose_taken_after(self, schedule_id: int, dose_due_ms: int) -> float | None:
        """Seconds after a dose reminder the resident presses "taken" on the home unit; None when they forget."""
        if self.forgets_doses:
            return None
        rng = rng_for(self.model.seed, Stream.MEDICATION, self.index, schedule_id, dose_due_ms // 60_000)
        if rng.random() < MISSED_DOSE_SHARE:
            return None
        return float(rng.uniform(60, 900))

    # -- power and network ----------------------------------------------------------------

    def powered(self, kind: DeviceKind) -> bool:
        """Whether the device has power (a flat battery switches it off)."""
        return self.batteries[kind].powered

    def network_up(self, kind: DeviceKind, t: float) -> bool:
        """Whether the device can reach the broker at `t` (scripted and random outages)."""
        outages = self.outages + list(self._day(local_day(t, self.model.tz)).outages)
        return not any(o.device is kind and o.start <= t < o.end for o in outages)

    def worn(self) -> bool:
        """Whether the wristband is on the wrist (it comes off to charge)."""
        return self._worn

    # -- time -------------------------------------------------------------------------------

    def advance_to(self, t: float) -> list[Happening]:
        """Everything the devices report in [previous t, t), in time order; batteries move along."""
        if self._t is None:
            self.skip_to(t)
            return []
        start, self._t = self._t, t
        for battery in self.batteries.values():
            battery.advance_to(t)
        found: list[Happening] = list(self.happenings(start, t))
        wristband = self.batteries[DeviceKind.WRISTBAND]
        for when, plugged in wristband.plugs:
            kind = EventKind.WEARABLE_REMOVED if plugged else EventKind.WEARABLE_WORN
            found.append(EventHappening(when, DeviceKind.WRISTBAND, f"{kind}@{when:.3f}", kind))
        wristband.plugs.clear()
        found.sort(key=lambda h: h.t)

        kept: list[Happening] = []
        for h in found:
            if isinstance(h, EventHappening) and h.kind in _WEAR_KINDS:
                self._worn = h.kind is EventKind.WEARABLE_WORN
            elif h.device is DeviceKind.WRISTBAND and not self._worn:
                continue  # on its charger, the band feels no fall and nobody presses it
            kept.append(h)
        return kept

    def skip_to(self, t: float) -> None:
        """Jump to `t` without reporting what happened in between (a scenario's time jump)."""
        self._t = t
        for battery in self.batteries.values():
            battery.advance_to(t)
            battery.plugs.clear()
        self._worn = not self.batteries[DeviceKind.WRISTBAND].charging

    # -- what the devices report --------------------------------------------------------------

    def happenings(self, t0: float, t1: float) -> list[Happening]:
        """Reports of the routine and incidents in [t0, t1) (without battery-driven ones)."""
        found: list[Happening] = []
        day, last = local_day(t0, self.model.tz), local_day(t1, self.model.tz)
        while day <= last:
            d = self._day(day)
            found += d.happenings[bisect.bisect_left(d.times, t0) : bisect.bisect_left(d.times, t1)]
            day += timedelta(days=1)
        return found

    def _day(self, day: date) -> _Day:
        cached = self._days.get(day)
        if cached is None:
            cached = self._days[day] = self._build_day(day)
            while len(self._days) > _CACHED_DAYS:
                self._days.popitem(last=False)
        return cached

    def _build_day(self, day: date) -> _Day:
        m = self.model
        rng = rng_for(m.seed, Stream.INCIDENTS, self.index, day.toordinal(), 2)
        plan = m.plan(day)
        found: list[Happening] = []

        def event(t: float, device: DeviceKind, kind: EventKind, **fields: object) -> EventHappening:
            h = EventHappening(t, device, f"{device}:{kind}@{t:.3f}", kind, **fields)  # type: ignore[arg-type]
            found.append(h)
            return h

        prev = m.plan(day - timedelta(days=1)).activities[-1]
        last_motion = -math.inf
        for a in plan.activities:
            if prev.in_bed and not a.in_bed:
                event(
                    a.start + rng.uniform(2, 8),
                    DeviceKind.BED_SENSOR,
                    EventKind.BED_EXIT,
                    room=Room.BEDROOM.value,
                )
            elif a.in_bed and not prev.in_bed:
                event(
                    a.start + rng.uniform(5, 20),
                    DeviceKind.BED_SENSOR,
                    EventKind.BED_RETURN,
                    room=Room.BEDROOM.value,
                )
            if (prev.room is Room.OUTSIDE) != (a.room is Room.OUTSIDE):
                opened = a.start + rng.uniform(-5, 0)
                event(opened, DeviceKind.DOOR_SENSOR, EventKind.DOOR_OPEN, room="front door")
                event(
                    opened + rng.uniform(6, 20),
                    DeviceKind.DOOR_SENSOR,
                    EventKind.DOOR_CLOSED,
                    room="front door",
                )
            if a.room in MOTION_ROOMS and a.doing not in ASLEEP and a.doing is not Doing.LYING:
                t = a.start + rng.uniform(1, 4)
                if t - last_motion < _PIR_HOLDOFF_S:
                    t = last_motion + _PIR_REPEAT_S
                while t < a.end:
                    event(t, DeviceKind.MOTION_SENSOR, EventKind.MOTION, room=a.room.value)
                    last_motion = t
                    t += _PIR_REPEAT_S + rng.uniform(0, 60)
            prev = a

        for incident in m.incidents_on(day):
            t = incident.t
            if isinstance(incident, Fall | FalseFallAlarm):
                real = isinstance(incident, Fall)
                imu_rng = rng_for(m.seed, Stream.IMU, self.index, int(t))
                signal = fall_signal(imu_rng) if real else knock_signal(imu_rng)
                alarm = event(
                    t + 1.5,  # the wearable waits for a moment of stillness after the impact
                    incident.device,
                    EventKind.FALL_DETECTED,
                    confidence=round(float(rng.uniform(0.75, 0.95) if real else rng.uniform(0.5, 0.7)), 2),
                )
                t0 = t - signal.impact / signal.fs
                sent_at = t0 + len(signal.acc) / signal.fs  # when the recording is complete
                found.append(ImuHappening(sent_at, incident.device, alarm.key, t0, signal))
                if isinstance(incident, Fall):
                    room = m.activity_at(t + 1).room
                    if room.value == self._devices[DeviceKind.FALL_SENSOR].room:
                        event(
                            t + rng.uniform(6, 12),  # the radar confirms a person lying, not standing
                            DeviceKind.FALL_SENSOR,
                            EventKind.FALL_DETECTED,
                            room=room.value,
                            confidence=round(float(rng.uniform(0.8, 0.97)), 2),
                        )
                if not real or (isinstance(incident, Fall) and incident.responds):
                    event(
                        t + incident.response_after_s,
                        incident.device,
                        EventKind.IM_OK,
                        cancels=alarm.key,
                    )
            elif isinstance(incident, SosPress):
                alarm = event(t, incident.device, EventKind.SOS)
                if incident.cancel_after_s is not None:
                    event(t + incident.cancel_after_s, incident.device, EventKind.IM_OK, cancels=alarm.key)
            elif isinstance(incident, Hazard):
                event(t, DeviceKind.HOME_UNIT, incident.kind, room=incident.room.value)
            elif isinstance(incident, HypertensiveCrisis) and DeviceKind.BLOOD_PRESSURE_MONITOR in self._devices:
                reading = (incident.systolic, incident.diastolic, incident.pulse)
                found.append(MeasurementHappening(t, DeviceKind.BLOOD_PRESSURE_MONITOR, blood_pressure=reading))
        found += self._morning_checks(plan, rng_for(m.seed, Stream.INCIDENTS, self.index, day.toordinal(), 3))
        for t, code in self.care.presences(self.index, day) if self.care is not None else ():
            event(t, DeviceKind.HOME_UNIT, EventKind.CARER_PRESENT, carer_code=code)  # typed arriving and leaving

        outages: list[Outage] = []
        if m.background and rng.random() < 0.03:
            # Home broadband drops now and then; the home unit is the device that notices.
            start = plan.start + rng.uniform(0, 86400)
            outages.append(Outage(DeviceKind.HOME_UNIT, start, start + rng.uniform(300, 2400)))
        found.sort(key=lambda h: h.t)
        return _Day(tuple(found), tuple(h.t for h in found), tuple(outages))

    # -- home health checks --------------------------------------------------------------------

    def _morning_checks(self, plan: DayPlan, rng: np.random.Generator) -> list[MeasurementHappening]:
        """Shortly after getting up, before breakfast: a fasting glucose reading, then the blood pressure, with the
        devices the home has (one morning in ten forgotten). Everyday values stay below the alarm bands."""
        ups = [  # the last time out of bed in the morning is getting up for the day (earlier ones: the toilet)
            a.start
            for before, a in itertools.pairwise(plan.activities)
            if before.in_bed and not a.in_bed and 4 <= _local_hour(a.start, self.model) < 12
        ]
        up = ups[-1] if ups else None
        if up is None:
            return []
        profile = self.model.profile
        found = []
        if DeviceKind.GLUCOSE_METER in self._devices and rng.random() < 0.9:
            usual = 7.2 if profile.has(Condition.DIABETES) else 5.2
            glucose = round(float(np.clip(rng.normal(usual, 0.8), 4.2, 11.5)), 1)
            meter = MeasurementHappening(
                up + rng.uniform(600, 1500), DeviceKind.GLUCOSE_METER, glucose=(glucose, MealContext.FASTING)
            )
            found.append(meter)
        if DeviceKind.BLOOD_PRESSURE_MONITOR in self._devices and rng.random() < 0.9:
            usual = 148 if profile.has(Condition.HYPERTENSION) else 126
            systolic = int(np.clip(rng.normal(usual, 9), 100, 172))
            diastolic = int(np.clip(rng.normal(0.58 * systolic, 5), 58, 106))
            pulse = int(np.clip(rng.normal(profile.resting_hr, 4), 45, 110))
            reading = (systolic, diastolic, pulse)
            found.append(
                MeasurementHappening(
                    up + rng.uniform(1200, 2400), DeviceKind.BLOOD_PRESSURE_MONITOR, blood_pressure=reading
                )
            )
        return found

    # -- wristband readings -------------------------------------------------------------------

    def telemetry(self, t: float, since: float) -> TelemetryValues | None:
        """The wristband's report at `t` covering (since, t]; None while it is off the wrist or flat."""
        if not self._worn or not self.powered(DeviceKind.WRISTBAND):
            return None
        r = self.model.reading_at(t)
        return TelemetryValues(
            heart_rate=r.heart_rate,
            spo2=r.spo2,
            skin_temp=r.skin_temp,
            resp_rate=r.resp_rate,
            steps=self.model.steps_between(since, t),
            activity=r.activity,
            location=self.position(t),
        )

    def position(self, t: float) -> tuple[float, float, float] | None:
        """Where the wristband's GNSS puts the resident when out of home."""
        a = self.model.activity_at(t)
        if a.room is not Room.OUTSIDE:
            return None
        north, east = _path(a, t, self.model.seed, self.index)
        lat = self.record.lat + north / _M_PER_DEG
        lon = self.record.lon + east / (_M_PER_DEG * math.cos(math.radians(self.record.lat)))
        accuracy = 5.0 + 15.0 * abs(math.sin(t / 97.0))
        return round(lat, 6), round(lon, 6), round(accuracy, 1)

    # -- GPS watch ---------------------------------------------------------------------------

    def watch_fix(self, t: float) -> WatchFix | None:
        """The GPS watch's fix at `t`: satellites when out (moving), the home's Wi-Fi when in; None while flat."""
        if DeviceKind.GPS_WATCH not in self._devices or not self.powered(DeviceKind.GPS_WATCH):
            return None
        out = self.position(t)
        if out is not None:
            return WatchFix(*out, FixSource.GNSS, moving=True)
        return WatchFix(round(self.record.lat, 6), round(self.record.lon, 6), 25.0, FixSource.WIFI, moving=False)

    def watch_interval(self, moving: bool) -> float:
        """Seconds to the watch's next fix: 20 s moving, 5 min still; stretched below 20 % battery."""
        low = self.batteries[DeviceKind.GPS_WATCH].level < 20
        if moving:
            return 60.0 if low else 20.0
        return 900.0 if low else 300.0


def _local_hour(t: float, model: ResidentModel) -> float:
    local = datetime.fromtimestamp(t, model.tz)
    return local.hour + local.minute / 60


def _path(a: Activity, t: float, seed: int, resident: int) -> tuple[float, float]:
    """Metres north and east of home: walks and errands go out and come back; a night wander drifts away."""
    rng = rng_for(seed, Stream.INCIDENTS, resident, int(a.start))
    bearing = rng.uniform(0, 2 * math.pi)
    elapsed = t - a.start
    if a.doing is Doing.WANDER:
        distance = 0.6 * elapsed  # a slow, aimless 0.6 m/s
        bearing += 0.6 * math.sin(elapsed / 300.0)
    else:
        reach = rng.uniform(250, 700)
        distance = reach * math.sin(math.pi * min(elapsed / max(a.end - a.start, 1.0), 1.0))
    return distance * math.cos(bearing), distance * math.sin(bearing)
