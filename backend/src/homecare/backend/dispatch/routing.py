"""Travel-time model and station choice: home station when on duty with capacity, else the fastest to reach.

Out of its opening hours a station still takes tasks while one of its people is on its roster (on call).

The model: straight-line (haversine) distance × a detour factor of 1.4 (road distance over straight
line in a dense city grid; published circuity factors for Chinese and European cities are 1.2–1.5),
covered at 20 km/h, a responder's door-to-door speed by e-bike or car through urban traffic including
parking and finding the door. It is deliberately simple, monotone in distance (so "nearest" and
"fastest" agree) and conservative; a routing engine can replace ``travel_minutes`` later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo

EARTH_RADIUS_KM: Final = 6371.0088
DETOUR_FACTOR: Final = 1.4
URBAN_SPEED_KMH: Final = 20.0
COVERAGE_MINUTES: Final = 15.0  # the city plans' "15-minute service circle"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS-84 points, km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def travel_minutes(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Estimated door-to-door travel time between two points, minutes."""
    return haversine_km(lat1, lon1, lat2, lon2) * DETOUR_FACTOR / URBAN_SPEED_KMH * 60.0


def within_hours(opens: time, closes: time, zone: str, at: datetime) -> bool:
    """Whether ``at`` falls in the station's local opening hours; equal times mean round the clock,
    closes before opens means overnight."""
    local = at.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    if opens == closes:
        return True
    if opens < closes:
        return opens <= local < closes
    return local >= opens or local < closes


@dataclass(frozen=True, slots=True)
class StationState:
    """A station as routing sees it at one moment."""

    id: int
    code: str
    name: str
    lat: float
    lon: float
    capacity: int
    opens: time
    closes: time
    timezone: str
    on_duty: bool
    active_tasks: int
    on_call: int  # its people on its roster now: who answers out of hours


def availability(s: StationState, at: datetime) -> tuple[bool, str, dict[str, Any]]:
    """Whether the station can take a task at ``at``, with why as a code and its parameters (the pages word it)."""
    if not s.on_duty:
        return False, "switched_off", {}
    if s.active_tasks >= s.capacity:
        return False, "at_capacity", {"active": s.active_tasks, "capacity": s.capacity}
    if within_hours(s.opens, s.closes, s.timezone, at):
        return True, "open", {}
    hours = {"opens": f"{s.opens:%H:%M}", "closes": f"{s.closes:%H:%M}"}
    if s.on_call:
        return True, "on_call", {"people": s.on_call, **hours}
    return False, "closed", hours


@dataclass(frozen=True, slots=True)
class Candidate:
    """A station that could take the incident, with why it can or cannot (a reason code and its parameters)."""

    station_id: int
    code: str
    name: str
    travel_min: float
    home: bool
    available: bool
    why: dict[str, Any]


def rank_stations(
    stations: list[StationState],
    *,
    home_station_id: int | None,
    lat: float | None,
    lon: float | None,
    at: datetime,
    exclude: frozenset[int] = frozenset(),
) -> list[Candidate]:
    """Every station, best first: the home station if available, then available ones by travel time,
    then the unavailable ones by travel time (shown, never chosen automatically)."""
    ranked = []
    for s in stations:
        if s.id in exclude:
            continue
        minutes = travel_minutes(lat, lon, s.lat, s.lon) if lat is not None and lon is not None else math.inf
        available, code, params = availability(s, at)
        ranked.append(
            Candidate(
                s.id,
                s.code,
                s.name,
                round(minutes, 1) if math.isfinite(minutes) else -1.0,
                s.id == home_station_id,
                available,
                {"code": code, "params": params},
            )
        )
    ranked.sort(key=lambda c: (not c.available, not c.home, c.travel_min if c.travel_min >= 0 else math.inf))
    return ranked
