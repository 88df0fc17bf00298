"""A resident's day as a timeline of activities (sleep, meals, toilet visits, walks, naps), from a seed."""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from homecare.sim.profiles import Condition, ResidentProfile
from homecare.sim.seeds import Stream, rng_for


class Room(enum.StrEnum):
    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    KITCHEN = "kitchen"
    LIVING_ROOM = "living room"
    HALLWAY = "hallway"
    OUTSIDE = "outside"


class Doing(enum.StrEnum):
    SLEEP = "sleep"
    NAP = "nap"
    TOILET = "toilet"
    WASH = "wash"
    COOK = "cook"
    MEAL = "meal"
    HOUSEWORK = "housework"
    SIT = "sit"
    MOVE = "move"  # walking between rooms
    WALK = "walk"
    ERRAND = "errand"
    WANDER = "wander"  # leaving home at night, disoriented
    LYING = "lying"  # on the floor after a fall


@dataclass(frozen=True, slots=True)
class Effort:
    """Metabolic equivalent and the share of the minute spent stepping."""

    met: float
    stepping: float


EFFORT: Final[dict[Doing, Effort]] = {
    Doing.SLEEP: Effort(0.9, 0.0),
    Doing.NAP: Effort(1.0, 0.0),
    Doing.TOILET: Effort(1.8, 0.08),
    Doing.WASH: Effort(2.0, 0.08),
    Doing.COOK: Effort(2.3, 0.12),
    Doing.MEAL: Effort(1.5, 0.01),
    Doing.HOUSEWORK: Effort(3.0, 0.30),
    Doing.SIT: Effort(1.2, 0.01),
    Doing.MOVE: Effort(2.5, 0.60),
    Doing.WALK: Effort(3.2, 0.85),
    Doing.ERRAND: Effort(2.8, 0.50),
    Doing.WANDER: Effort(2.6, 0.70),
    Doing.LYING: Effort(1.0, 0.0),
}
ASLEEP: Final = frozenset({Doing.SLEEP, Doing.NAP})


@dataclass(frozen=True, slots=True)
class Activity:
    """What the resident does in [start, end) (epoch seconds) and where."""

    doing: Doing
    start: float
    end: float
    room: Room

    @property
    def in_bed(self) -> bool:
        return self.doing is Doing.SLEEP or (self.doing is Doing.NAP and self.room is Room.BEDROOM)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Back-to-back activities covering one local calendar day."""

    day: date
    start: float
    end: float
    activities: tuple[Activity, ...]
    _starts: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(a.start for a in self.activities))

    def at(self, t: float) -> Activity:
        """The activity going on at `t` (which must fall inside the day)."""
        return self.activities[max(bisect.bisect_right(self._starts, t) - 1, 0)]

    def overlay(self, episodes: Iterable[Activity]) -> DayPlan:
        """The plan with `episodes` (a fall, a night out) replacing whatever was planned then."""
        activities = list(self.activities)
        for episode in episodes:
            s, e = max(episode.start, self.start), min(episode.end, self.end)
            if s >= e:
                continue
            kept: list[Activity] = []
            for a in activities:
                if a.end <= s or a.start >= e:
                    kept.append(a)
                    continue
                if a.start < s:
                    kept.append(replace(a, end=s))
                if a.end > e:
                    kept.append(replace(a, start=e))
            kept.append(replace(episode, start=s, end=e))
            activities = sorted(kept, key=lambda a: a.start)
        return DayPlan(self.day, self.start, self.end, tuple(activities))


def local_midnight(day: date, tz: ZoneInfo) -> float:
    return datetime.combine(day, time(0), tz).timestamp()


def local_day(t: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(t, tz).date()


class _Builder:
    """Lays activities end to end from midnight; gaps become sitting in the living room."""

    def __init__(self, start: float, end: float, rng: np.random.Generator) -> None:
        self.start, self.end, self.t, self.rng = start, end, start, rng
        self.items: list[Activity] = []

    def hour(self, h: float) -> float:
        return self.start + h * 3600

    def add(self, doing: Doing, minutes: float, room: Room) -> None:
        end = min(self.t + minutes * 60, self.end)
        if end > self.t:
            self.items.append(Activity(doing, self.t, end, room))
        self.t = end

    def at(self, h: float, doing: Doing, minutes: float, room: Room) -> None:
        self.sit_until(self.hour(h))
        self.add(doing, minutes, room)

    def sit_until(self, t: float) -> None:
        # Older adults void every 2–3 hours in the day: a long sit gets a toilet trip in the middle.
        while t - self.t > 150 * 60:
            self.add(Doing.SIT, float(self.rng.uniform(70, 110)), Room.LIVING_ROOM)
            self.trip(Doing.TOILET, float(self.rng.uniform(3, 7)), Room.BATHROOM)
        if t > self.t:
            self.add(Doing.SIT, (t - self.t) / 60, Room.LIVING_ROOM)

    def trip(self, doing: Doing, minutes: float, room: Room) -> None:
        self.add(Doing.MOVE, 0.5, Room.HALLWAY)
        self.add(doing, minutes, room)
        self.add(Doing.MOVE, 0.5, Room.HALLWAY)

    def night_until(self, t: float, visits: int, wander: bool) -> None:
        """Sleep until `t`, broken by toilet visits and possibly a night out."""
        t = min(t, self.end)
        breaks: list[tuple[float, Doing]] = []
        if t - self.t > 60 * 60:
            for when in np.sort(self.rng.uniform(self.t + 30 * 60, t - 30 * 60, size=visits)):
                breaks.append((float(when), Doing.TOILET))
            if wander:
                breaks.append((self.hour(float(self.rng.uniform(1.5, 3.5))), Doing.WANDER))
        for when, doing in sorted(breaks):
            if when < self.t + 10 * 60 or when > t - 15 * 60:
                continue
            self.add(Doing.SLEEP, (when - self.t) / 60, Room.BEDROOM)
            if doing is Doing.TOILET:
                self.trip(Doing.TOILET, float(self.rng.uniform(4, 9)), Room.BATHROOM)
            else:
                minutes = float(self.rng.uniform(20, 90))
                self.add(Doing.MOVE, 2, Room.HALLWAY)
                self.add(Doing.WANDER, min(minutes, (t - self.t) / 60 - 20), Room.OUTSIDE)
                self.add(Doing.MOVE, 2, Room.HALLWAY)
        self.add(Doing.SLEEP, (t - self.t) / 60, Room.BEDROOM)


def plan_day(profile: ResidentProfile, day: date, tz: ZoneInfo, seed: int) -> DayPlan:
    """The resident's routine for one local day, without scenario episodes."""
    rng = rng_for(seed, Stream.ROUTINE, profile.index, day.toordinal())
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    b = _Builder(start, end, rng)
    frail = profile.frailty

    wake = profile.wake_hour + rng.normal(0, 0.3)
    bed = min(profile.sleep_hour + rng.normal(0, 0.3), 23.6)
    night_rate = 0.5 + 1.2 * frail + 0.6 * profile.has(Condition.DIABETES) + 0.4 * profile.has(Condition.HEART_FAILURE)
    night_hours = 24 - bed + wake
    b.night_until(
        b.hour(wake),
        visits=int(rng.poisson(night_rate * wake / night_hours)),
        wander=profile.wanders_at_night and rng.random() < 0.15,
    )
    b.trip(Doing.TOILET, rng.uniform(3, 6), Room.BATHROOM)
    b.add(Doing.WASH, rng.uniform(10, 20), Room.BATHROOM)
    b.add(Doing.COOK, rng.uniform(10, 20), Room.KITCHEN)
    b.add(Doing.MEAL, rng.uniform(15, 25), Room.KITCHEN)

    # Errands and walks thin out with frailty; the day's shape stays the same.
    if rng.random() < 0.75 - 0.6 * frail:
        b.at(wake + rng.uniform(1.2, 2.0), Doing.WALK, rng.uniform(25, 60) * (1 - 0.5 * frail), Room.OUTSIDE)
    if rng.random() < 0.45 - 0.3 * frail:
        b.at(rng.uniform(8.8, 9.6), Doing.ERRAND, rng.uniform(40, 80), Room.OUTSIDE)
    if rng.random() < 0.6:
        b.at(rng.uniform(9.8, 10.4), Doing.HOUSEWORK, rng.uniform(20, 45), Room.LIVING_ROOM)
    b.at(rng.uniform(11.0, 11.4), Doing.COOK, rng.uniform(25, 40), Room.KITCHEN)
    b.add(Doing.MEAL, rng.uniform(20, 35), Room.KITCHEN)
    if rng.random() < 0.35 + 0.5 * frail:
        room = Room.BEDROOM if rng.random() < 0.5 else Room.LIVING_ROOM
        b.at(rng.uniform(12.7, 13.3), Doing.NAP, rng.uniform(20, 90), room)
    if rng.random() < 0.4 - 0.3 * frail:
        b.at(rng.uniform(15.0, 16.0), Doing.WALK, rng.uniform(20, 45), Room.OUTSIDE)
    b.at(rng.uniform(17.2, 17.6), Doing.COOK, rng.uniform(25, 40), Room.KITCHEN)
    b.add(Doing.MEAL, rng.uniform(20, 35), Room.KITCHEN)
    # Sundowning: a resident with dementia who wanders goes out in the evening too, after dark, for a while.
    if profile.wanders_at_night and bed > 21.0 and rng.random() < 0.3:
        b.at(rng.uniform(19.2, 19.8), Doing.WANDER, rng.uniform(25, 50), Room.OUTSIDE)
    b.at(bed - 0.4, Doing.WASH, rng.uniform(10, 20), Room.BATHROOM)
    b.trip(Doing.TOILET, rng.uniform(3, 6), Room.BATHROOM)
    b.night_until(end, visits=int(rng.poisson(night_rate * (24 - bed) / night_hours)), wander=False)
    return DayPlan(day, start, end, tuple(b.items))
