"""Distances on the ground and whether a fix lies in a safe zone (a circle or a polygon), in metres."""

from __future__ import annotations

import math
from datetime import time
from typing import Final, Literal
from zoneinfo import ZoneInfo

from homecare.backend.locations.models import Circle, Fix, Polygon, SafeZone

EARTH_RADIUS_M: Final = 6_371_008.8
Where = Literal["inside", "outside", "unsure"]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def signed_distance_m(shape: Circle | Polygon, lat: float, lon: float) -> float:
    """How far the point lies outside the shape's edge (negative: inside), on a local flat projection (zones
    are a neighbourhood wide, where the error is centimetres)."""
    if isinstance(shape, Circle):
        return distance_m(shape.lat, shape.lon, lat, lon) - shape.radius_m
    kx = math.cos(math.radians(lat)) * math.radians(1) * EARTH_RADIUS_M
    ky = math.radians(1) * EARTH_RADIUS_M
    corners = [((c_lon - lon) * kx, (c_lat - lat) * ky) for c_lat, c_lon in shape.points]
    inside = False
    edge = math.inf
    for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
        if (ay > 0) != (by > 0) and (bx - ax) * (0 - ay) / (by - ay) + ax > 0:
            inside = not inside
        edge = min(edge, _segment_distance(0, 0, ax, ay, bx, by))
    return -edge if inside else edge


def applies(zone: SafeZone, local: time) -> bool:
    """Whether the zone counts at this local time of day (a window may wrap midnight: 21:00–07:00)."""
    start, end = zone.active_from, zone.active_until
    if start is None or end is None:
        return True
    return start <= local < end if start <= end else local >= start or local < end


def where(fix: Fix, zones: list[SafeZone], local: time) -> Where:
    """Inside a zone that applies now; outside all of them by more than the fix's accuracy; or unsure."""
    distances = [signed_distance_m(zone.shape, fix.lat, fix.lon) for zone in zones if applies(zone, local)]
    if any(d <= 0 for d in distances):
        return "inside"
    return "outside" if all(d > fix.accuracy_m for d in distances) else "unsure"


def departure(fixes: list[Fix], zones: list[SafeZone], zone: ZoneInfo) -> int | None:
    """Where the present stay outside began: the index of the first fix after the last one inside a zone that
    applied then (0 when none was inside), or None when the latest fix is inside or nothing is outside."""
    start: int | None = None
    for i, fix in enumerate(fixes):
        if where(fix, zones, fix.ts.astimezone(zone).time()) == "inside":
            start = None
        elif start is None:
            start = i
    return start
