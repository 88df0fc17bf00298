"""Time zones by IANA name: the one place an unknown or malformed name is caught."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SERVICE_ZONE: Final = "Asia/Shanghai"
"""China Standard Time, where the service runs: the fallback for a stored name that no longer resolves."""


def find_zone(name: str) -> ZoneInfo | None:
    """The zone with this IANA name, or None when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_or_service(name: str) -> ZoneInfo:
    """The zone with this name; an unknown name falls back to the service's zone."""
    return find_zone(name) or ZoneInfo(SERVICE_ZONE)


def day_bounds(name: str, now: datetime) -> tuple[datetime, datetime]:
    """The calendar day ``now`` falls in, in the zone of this name, as [start, end)."""
    zone = zone_or_service(name)
    start = datetime.combine(now.astimezone(zone).date(), time(), zone)
    return start, datetime.combine(start.date() + timedelta(days=1), time(), zone)
