"""One resident over time: routine plus incidents, vital signs with slow drifts, sampled at any instant."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from homecare.contracts.messages import DeviceKind
from homecare.sim.incidents import Fall, FalseFallAlarm, Incident, NightOut, SosPress
from homecare.sim.physiology import DaySeries, FloatArray, day_series
from homecare.sim.profiles import ResidentProfile
from homecare.sim.routine import ASLEEP, Activity, DayPlan, Doing, Room, local_day, plan_day
from homecare.sim.seeds import Stream, rng_for

VitalName = Literal["heart_rate", "spo2", "skin_temp", "resp_rate"]
_CACHED_DAYS: Final = 4
_BEFORE_FALL: Final = {
    Room.BATHROOM: Doing.TOILET,
    Room.KITCHEN: Doing.COOK,
    Room.BEDROOM: Doing.MOVE,
    Room.LIVING_ROOM: Doing.MOVE,
    Room.HALLWAY: Doing.MOVE,
    Room.OUTSIDE: Doing.WALK,
}
_T = TypeVar("_T")


class _DayCache(Generic[_T]):
    """The last few days built by `build`: a running simulation only ever looks at today and yesterday."""

    def __init__(self, build: Callable[[date], _T]) -> None:
        self._build = build
        self._days: OrderedDict[date, _T] = OrderedDict()

    def __call__(self, day: date) -> _T:
        value = self._days.get(day)
        if value is None:
            value = self._days[day] = self._build(day)
            while len(self._days) > _CACHED_DAYS:
                self._days.popitem(last=False)
        return value

    def clear(self) -> None:
        self._days.clear()


@dataclass(frozen=True, slots=True)
class Drift:
    """A slow change of one vital sign: `change` reached linearly over `days` from `start`, then held."""

    metric: VitalName
    start: float
    days: float
    change: float

    def offset(self, t: FloatArray) -> FloatArray:
        return self.change * np.clip((t - self.start) / (self.days * 86400.0), 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class Reading:
    """What a wristband measures at one instant."""

    heart_rate: int
    spo2: int
    skin_temp: float
    resp_rate: int
    activity: int
    asleep: bool


class ResidentModel:
    """Deterministic from (profile, seed): the same instant always gives the same activity and vitals."""

    def __init__(self, profile: ResidentProfile, *, seed: int, tz: ZoneInfo, background: bool = True) -> None:
        self.profile = profile
        self.seed = seed
        self.tz = tz
        self.background = background
        self._incidents: list[Incident] = []
        self._drifts: list[Drift] = []
        self.routine = _DayCache(lambda day: plan_day(profile, day, tz, seed))
        self.plan = _DayCache(self._plan)
        self.series = _DayCache(self._day_series)

    # -- what happens -------------------------------------------------------------------------

    def add_incident(self, incident: Incident) -> None:
        self._incidents.append(incident)
        self.plan.clear()
        self.series.clear()

    def add_drift(self, drift: Drift) -> None:
        self._drifts.append(drift)

    def incidents_on(self, day: date) -> list[Incident]:
        """Scripted and background incidents starting on this local day, in time order."""
        plan = self.routine(day)
        found = [i for i in self._incidents if plan.start <= i.t < plan.end]
        if self.background:
            found += self._background(plan)
        return sorted(found, key=lambda i: i.t)

    def _background(self, plan: DayPlan) -> list[Incident]:
        """Real-world base rates: falls (~1 per year, more when frail), false fall triggers
        (~0.17 per person-week, as in published wearable studies), accidental SOS presses."""
        rng = rng_for(self.seed, Stream.INCIDENTS, self.profile.index, plan.day.toordinal())
        awake = [a for a in plan.activities if a.doing not in ASLEEP and a.end - a.start >= 60]
        weights = np.array([a.end - a.start for a in awake])
        found: list[Incident] = []

        def some_awake_moment() -> float:
            a = awake[int(rng.choice(len(awake), p=weights / weights.sum()))]
            return float(rng.uniform(a.start, a.end - 30))

        if rng.random() < 0.0015 + 0.004 * self.profile.frailty:
            responds = bool(rng.random() < 0.6)
            found.append(
                Fall(
                    some_awake_moment(),
                    responds=responds,
                    response_after_s=float(rng.uniform(8, 40)),
                    lies_for_s=float(rng.uniform(90, 240) if responds else rng.uniform(1200, 5400)),
                )
            )
        if rng.random() < 0.17 / 7:
            found.append(FalseFallAlarm(some_awake_moment(), response_after_s=float(rng.uniform(5, 25))))
        if rng.random() < 0.01:
            found.append(SosPress(some_awake_moment(), DeviceKind.SOS_PENDANT, float(rng.uniform(8, 30))))
        return found

    # -- the day ------------------------------------------------------------------------------

    def _plan(self, day: date) -> DayPlan:
        """The routine with the episodes of incidents (lying on the floor, a night out) laid over it."""
        routine = self.routine(day)
        episodes: list[Activity] = []
        # A long lie after yesterday evening's fall can run past midnight.
        for incident in self.incidents_on(day - timedelta(days=1)) + self.incidents_on(day):
            episodes += self._episodes(incident, self.routine(day - timedelta(days=1)), routine)
        return routine.overlay(episodes)

    @staticmethod
    def _episodes(incident: Incident, *routines: DayPlan) -> list[Activity]:
        t = incident.t
        if isinstance(incident, Fall):
            lying = []
            room = incident.room
            if room is None:
                room = next((r.at(t).room for r in routines if r.start <= t < r.end), Room.LIVING_ROOM)
            else:
                # A scripted room: they went there a few minutes earlier (through the door, out of bed…).
                lying.append(Activity(_BEFORE_FALL[room], t - 180, t, room))
            return [*lying, Activity(Doing.LYING, t, t + incident.lies_for_s, room)]
        if isinstance(incident, NightOut):
            out = t + incident.minutes * 60
            return [
                Activity(Doing.MOVE, t - 120, t, Room.HALLWAY),
                Activity(Doing.WANDER, t, out, Room.OUTSIDE),
                Activity(Doing.MOVE, out, out + 120, Room.HALLWAY),
            ]
        return []

    def activity_at(self, t: float) -> Activity:
        return self.plan(local_day(t, self.tz)).at(t)

    def _day_series(self, day: date) -> DaySeries:
        return day_series(self.profile, self.plan(day), self.plan(day - timedelta(days=1)), self.seed)

    # -- sampling -----------------------------------------------------------------------------

    def vitals(self, ts: FloatArray) -> dict[str, FloatArray]:
        """Vital signs at many instants at once (floats, drifts applied): for analysis and tests."""
        ts = np.asarray(ts, dtype=np.float64)
        out = {k: np.empty(len(ts)) for k in ("heart_rate", "spo2", "skin_temp", "resp_rate", "steps", "activity")}
        out["asleep"] = np.empty(len(ts))
        day = local_day(float(ts.min()), self.tz)
        last = local_day(float(ts.max()), self.tz)
        while day <= last:
            s = self.series(day)
            mask = (ts >= s.start) & (ts < s.start + 60 * len(s))
            idx = ((ts[mask] - s.start) // 60).astype(np.intp)
            for k in out:
                out[k][mask] = getattr(s, k)[idx]
            day += timedelta(days=1)
        for drift in self._drifts:
            out[drift.metric] += drift.offset(ts)
        return out

    def reading_at(self, t: float) -> Reading:
        v = self.vitals(np.array([t]))
        return Reading(
            heart_rate=round(v["heart_rate"][0]),
            spo2=int(np.clip(round(v["spo2"][0]), 50, 100)),
            skin_temp=round(float(v["skin_temp"][0]), 1),
            resp_rate=round(v["resp_rate"][0]),
            activity=round(v["activity"][0]),
            asleep=bool(v["asleep"][0]),
        )

    def steps_between(self, a: float, b: float) -> int:
        """Steps taken in (a, b], from per-minute step rates."""
        if b <= a:
            return 0
        minutes = np.arange(np.floor(a / 60) * 60, b, 60.0)
        rates = self.vitals(minutes)["steps"]
        # Only the part of the first and last minute inside (a, b] counts.
        overlap = np.clip(np.minimum(minutes + 60, b) - np.maximum(minutes, a), 0, 60) / 60
        return round(float((rates * overlap).sum()))
