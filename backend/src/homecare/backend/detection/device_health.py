"""Device-health alarms: missed heartbeats, home unit offline, low battery, wristband off the wrist."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.detection.config import SettingsBook
from homecare.backend.detection.findings import Finding, State, clip, duration_en, duration_zh, hhmm, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.storage.connections import Conn

CAUSES: Final = (Cause.DEVICE_OFFLINE, Cause.HOME_UNIT_OFFLINE, Cause.LOW_BATTERY, Cause.WEARABLE_REMOVED)

KIND_NAMES: Final = {  # as the pages name them (web/static/js/labels.js)
    "wristband": ("Wristband", "手环"),
    "sos_pendant": ("SOS pendant", "紧急按钮"),
    "fall_sensor": ("Fall sensor", "跌倒雷达"),
    "door_sensor": ("Door sensor", "门磁"),
    "bed_sensor": ("Bed sensor", "床垫传感器"),
    "motion_sensor": ("Motion sensor", "人体感应器"),
    "home_unit": ("Home unit", "家庭主机"),
    "smoke_sensor": ("Smoke sensor", "烟雾报警器"),
    "water_sensor": ("Water sensor", "水浸传感器"),
    "blood_pressure_monitor": ("Blood-pressure monitor", "血压计"),
    "glucose_meter": ("Glucose meter", "血糖仪"),
    "gps_watch": ("GPS watch", "定位手表"),
    "pill_dispenser": ("Pill dispenser", "智能药盒"),
}

# Every enrolled, not revoked device of a resident, with its latest state and, for wristbands, the
# latest worn/removed event. Devices that have never been seen have no state and are not judged:
# a device that never came online is an installation problem, not an alarm.
_DEVICES: Final = """
SELECT d.id, d.uid, d.kind, d.resident_id, d.heartbeat_interval_s, r.timezone,
       s.online, s.online_changed_at, s.battery, s.charging,
       GREATEST(s.last_heartbeat_at, s.last_seen_at) AS last_seen,
       w.kind AS wear_kind, w.ts AS wear_ts
FROM devices d
JOIN residents r ON r.id = d.resident_id
JOIN device_state s ON s.device_id = d.id
LEFT JOIN LATERAL (
    SELECT e.kind, e.ts FROM events e
    WHERE e.device_id = d.id AND e.kind IN ('wearable_removed', 'wearable_worn') AND e.ts <= %(now)s
    ORDER BY e.ts DESC LIMIT 1
) w ON d.kind = 'wristband'
WHERE d.revoked_at IS NULL AND d.resident_id IS NOT NULL
ORDER BY d.resident_id, d.id
"""


@dataclass(frozen=True, slots=True)
class _Problem:
    device_id: int
    en: str
    zh: str


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """One finding per resident and device-health cause for every resident with a device that was ever seen."""
    problems: dict[tuple[int, Cause], list[_Problem]] = defaultdict(list)
    judged: set[int] = set()
    undecided: set[tuple[int, Cause]] = set()
    cursor = await conn.execute(_DEVICES, {"now": now})
    for row in await cursor.fetchall():
        (
            device_id,
            uid,
            kind,
            resident_id,
            interval_s,
            timezone,
            online,
            online_changed_at,
            battery,
            charging,
            last_seen,
            wear_kind,
            wear_ts,
        ) = row
        settings = book.for_resident(resident_id).device_health
        if not settings.enabled:
            continue
        judged.add(resident_id)
        zone = resident_zone(timezone)
        name_en, name_zh = KIND_NAMES.get(kind, (kind, kind))
        device_en, device_zh = f"{name_en} {uid}", f"{name_zh} {uid}"

        silent = now - last_seen if last_seen is not None else None
        allowed = timedelta(seconds=settings.missed_heartbeats * interval_s)
        offline_for = now - online_changed_at if (online is False and online_changed_at is not None) else None
        if kind == "home_unit":
            if offline_for is not None and offline_for >= timedelta(minutes=settings.home_unit_offline_min):
                problems[(resident_id, Cause.HOME_UNIT_OFFLINE)].append(
                    _Problem(
                        device_id,
                        f"{device_en} offline for {duration_en(offline_for)} (since {hhmm(online_changed_at, zone)}).",
                        f"{device_zh} 自 {hhmm(online_changed_at, zone)} 起离线 {duration_zh(offline_for)}。",
                    )
                )
            elif silent is not None and silent > allowed:
                problems[(resident_id, Cause.HOME_UNIT_OFFLINE)].append(
                    _missed(device_id, device_en, device_zh, silent, interval_s, last_seen, zone)
                )
        elif silent is not None and silent > allowed:
            problems[(resident_id, Cause.DEVICE_OFFLINE)].append(
                _missed(device_id, device_en, device_zh, silent, interval_s, last_seen, zone)
            )

        if battery is not None:
            key = (resident_id, Cause.LOW_BATTERY)
            if battery <= settings.low_battery_pct and not charging:
                problems[key].append(
                    _Problem(
                        device_id,
                        f"{device_en} battery at {battery}%: please charge or replace it.",
                        f"{device_zh} 电量仅剩 {battery}%，请充电或更换电池。",
                    )
                )
            elif battery <= settings.low_battery_pct + settings.battery_hysteresis_pct and not charging:
                # Just above the threshold: not low now, but not clearly recharged either.
                undecided.add(key)

        if kind == "wristband" and wear_kind == "wearable_removed" and wear_ts is not None:
            off_for = now - wear_ts
            if off_for >= timedelta(minutes=settings.wearable_removed_min):
                problems[(resident_id, Cause.WEARABLE_REMOVED)].append(
                    _Problem(
                        device_id,
                        f"{device_en} not worn for {duration_en(off_for)} (taken off at {hhmm(wear_ts, zone)}).",
                        f"{device_zh} 自 {hhmm(wear_ts, zone)} 摘下，已 {duration_zh(off_for)} 未佩戴。",
                    )
                )

    findings = []
    for resident_id in sorted(judged):
        for cause in CAUSES:
            found = problems.get((resident_id, cause), [])
            if found:
                findings.append(
                    Finding(
                        resident_id=resident_id,
                        cause=cause,
                        state=State.HOLDS,
                        explanation_en=clip(" ".join(p.en for p in found)),
                        explanation_zh=clip("".join(p.zh for p in found)),
                        device_id=found[0].device_id,
                    )
                )
            elif (resident_id, cause) not in undecided:
                findings.append(
                    Finding(
                        resident_id=resident_id,
                        cause=cause,
                        state=State.GONE,
                        explanation_en=_CLEAR_EN[cause],
                        explanation_zh=_CLEAR_ZH[cause],
                    )
                )
    return findings


def _missed(
    device_id: int,
    device_en: str,
    device_zh: str,
    silent: timedelta,
    interval_s: int,
    last_seen: datetime,
    zone: ZoneInfo,
) -> _Problem:
    missed = int(silent.total_seconds() // interval_s)
    seen = hhmm(last_seen, zone)
    return _Problem(
        device_id,
        f"{device_en} has missed {missed} heartbeats (last heard {seen}, {duration_en(silent)} ago).",
        f"{device_zh} 已错过 {missed} 次心跳（最后一次 {seen}，{duration_zh(silent)}前）。",
    )


_CLEAR_EN: Final = {
    Cause.DEVICE_OFFLINE: "All devices are reporting again.",
    Cause.HOME_UNIT_OFFLINE: "Home unit back online.",
    Cause.LOW_BATTERY: "Batteries charged.",
    Cause.WEARABLE_REMOVED: "Wristband worn again.",
}
_CLEAR_ZH: Final = {
    Cause.DEVICE_OFFLINE: "所有设备已恢复上报。",
    Cause.HOME_UNIT_OFFLINE: "家庭主机已恢复在线。",
    Cause.LOW_BATTERY: "电池电量已恢复。",
    Cause.WEARABLE_REMOVED: "手环已重新佩戴。",
}
