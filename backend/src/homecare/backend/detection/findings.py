"""What a periodic detector reports about one resident and cause before it becomes a signal."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.backend.detection.signals import Cause
from homecare.backend.zones import zone_or_service
from homecare.contracts.messages import Priority


class State(enum.Enum):
    """What the detector could tell from the data."""

    HOLDS = "holds"  # the condition is there now: an alarm (new or continuing)
    GONE = "gone"  # the data shows it is not there: clears an active condition
    # No evidence either way (no fresh readings, a window that just closed without the resident
    # being seen): an active condition stays active, because missing data is never good news.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Finding:
    """One detector's verdict on one resident and cause."""

    resident_id: int
    cause: Cause
    state: State
    explanation_en: str = ""
    explanation_zh: str = ""
    priority: Priority | None = None  # None: the resident's priority for the cause
    device_id: int | None = None


def resident_zone(name: str) -> ZoneInfo:
    """The resident's time zone; an unknown name falls back to China Standard Time, where the service runs."""
    return zone_or_service(name)


def hhmm(moment: datetime, zone: ZoneInfo) -> str:
    """A local clock time for an explanation."""
    return moment.astimezone(zone).strftime("%H:%M")


# Units of a short duration, per language: seconds, minutes (in "2 min 30 s"), minutes alone, hours.
_UNITS_EN: Final = ("s", "min", "min", "h")
_UNITS_ZH: Final = ("秒", "分", "分钟", "小时")


def _duration(span: timedelta, units: tuple[str, str, str, str]) -> str:
    second, minute, minutes_alone, hour = units
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} {second}"
    minutes = seconds // 60
    if minutes < 10 and seconds % 60:
        return f"{minutes} {minute} {seconds % 60} {second}"
    if minutes < 120:
        return f"{minutes} {minutes_alone}"
    return f"{minutes // 60} {hour} {minutes % 60:02d} {minutes_alone}"


def duration_en(span: timedelta) -> str:
    """A short English duration: "90 s", "2 min 30 s", "12 min", "3 h 05 min"."""
    return _duration(span, _UNITS_EN)


def duration_zh(span: timedelta) -> str:
    """The same duration in Chinese: "90 秒", "2 分 30 秒", "12 分钟", "3 小时 05 分钟"."""
    return _duration(span, _UNITS_ZH)


def clip(text: str, limit: int = 300) -> str:
    """Keep an explanation within the Signal's length limit."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
