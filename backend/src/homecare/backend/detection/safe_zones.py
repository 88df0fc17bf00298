"""Wandering outdoors: a GPS watch's latest fix outside every safe zone that applies now is a left_safe_zone alarm.

A resident is judged when they have safe zones and a fix of the last ``FRESH`` (a watch reports every few minutes
at rest): inside a zone that applies now clears the condition (they came back); outside every one of them by
more than the fix's accuracy holds it, each run, with where they are and since when; a fix too coarse to tell
(a cell fix near the edge) or no fresh fix changes nothing. The zones' time windows are the resident's local
time ("not outside after 21:00" is a neighbourhood zone from 07:00 to 21:00 beside the home's zone).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.detection.config import SettingsBook
from homecare.backend.detection.findings import Finding, State, clip, duration_en, duration_zh, hhmm, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.backend.locations import repository as locations
from homecare.backend.locations.geometry import applies, departure, distance_m, signed_distance_m, where
from homecare.backend.locations.models import Fix, SafeZone
from homecare.contracts.messages import FixSource
from homecare.storage.connections import Conn

CAUSES: Final = (Cause.LEFT_SAFE_ZONE,)
FRESH: Final = timedelta(minutes=15)
"""A latest fix older than this says nothing about now (the watch is off, or indoors without a fix)."""
LOOKBACK: Final = timedelta(hours=6)
"""How far back the departure is looked for."""

_SOURCES: Final = {
    FixSource.GNSS: ("GNSS", "卫星"),
    FixSource.WIFI: ("Wi-Fi", "Wi-Fi"),
    FixSource.CELL: ("cell", "基站"),
}


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Findings for every resident with safe zones and a fresh fix."""
    zones = await locations.zones(conn)
    if not zones:
        return []
    by_resident: dict[int, list[SafeZone]] = {}
    for safe_zone in zones:
        by_resident.setdefault(safe_zone.resident_id, []).append(safe_zone)
    cursor = await conn.execute("SELECT id, timezone, lat, lon FROM residents WHERE id = ANY(%s)", (list(by_resident),))
    residents = {rid: (tz, lat, lon) for rid, tz, lat, lon in await cursor.fetchall()}
    tracks = await locations.fixes(conn, resident_ids=list(by_resident), start=now - LOOKBACK, end=now)
    findings = []
    for resident_id, fixes in sorted(tracks.items()):
        if not fixes or fixes[-1].ts < now - FRESH:
            continue
        timezone, home_lat, home_lon = residents[resident_id]
        zone = resident_zone(timezone)
        mine = by_resident[resident_id]
        latest = fixes[-1]
        state = where(latest, mine, latest.ts.astimezone(zone).time())
        if state == "inside":
            at = hhmm(latest.ts, zone)
            findings.append(
                Finding(
                    resident_id,
                    Cause.LEFT_SAFE_ZONE,
                    State.GONE,
                    f"Back in a safe zone at {at}.",
                    f"{at} 已回到安全区域。",
                )
            )
        elif state == "outside":
            left = departure(fixes, mine, zone)
            assert left is not None  # the latest fix is outside
            findings.append(_outside(resident_id, fixes[left], latest, mine, zone, (home_lat, home_lon), now))
    return findings


def _outside(
    resident_id: int,
    left: Fix,
    latest: Fix,
    zones: list[SafeZone],
    zone: ZoneInfo,
    home: tuple[float | None, float | None],
    now: datetime,
) -> Finding:
    local = latest.ts.astimezone(zone).time()
    nearest = min(
        (z for z in zones if applies(z, local)), key=lambda z: signed_distance_m(z.shape, latest.lat, latest.lon)
    )
    away = signed_distance_m(nearest.shape, latest.lat, latest.lon)
    home_lat, home_lon = home
    from_home = (
        "" if home_lat is None or home_lon is None else f"{distance_m(home_lat, home_lon, latest.lat, latest.lon):.0f}"
    )
    source_en, source_zh = _SOURCES[latest.source]
    out_for = now - left.ts
    en = (
        f"Outside the safe zones since {hhmm(left.ts, zone)} ({duration_en(out_for)}); at {hhmm(latest.ts, zone)} "
        f"{away:.0f} m beyond {nearest.name}"
        + (f", {from_home} m from home" if from_home else "")
        + f" ({source_en} ±{latest.accuracy_m:.0f} m)."
    )
    zh = (
        f"{hhmm(left.ts, zone)} 起离开安全区域（{duration_zh(out_for)}）；{hhmm(latest.ts, zone)} 在{nearest.name}外 "
        f"{away:.0f} 米"
        + (f"，距家 {from_home} 米" if from_home else "")
        + f"（{source_zh}定位 ±{latest.accuracy_m:.0f} 米）。"
    )
    return Finding(resident_id, Cause.LEFT_SAFE_ZONE, State.HOLDS, clip(en), clip(zh))
