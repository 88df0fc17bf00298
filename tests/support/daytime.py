"""A manual clock early in the day in Shanghai, so that what a test books an hour or two ahead is still today."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from homecare.backend.alarms.pipeline import ManualClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
MORNING = time(9, 30)


def daytime_clock() -> ManualClock:
    """A manual clock at 09:30 today in Shanghai, or now if earlier: "today's" views then hold the hours after it
    whatever the real time of day; it is the real date (which the scope checks made without the backend's clock
    read) and never after the real clock that stamps what devices and the gateway record (the platform takes an
    event at the earlier of the two)."""
    now = datetime.now(UTC)
    return ManualClock(min(now, datetime.combine(now.astimezone(SHANGHAI).date(), MORNING, SHANGHAI)))
