"""Typed settings of every periodic detector: defaults in code, per-resident overrides in ``detection_settings``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import time
from typing import Any, Self

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from homecare.backend.detection.signals import DEFAULT_PRIORITY, Cause
from homecare.backend.devices.models import MISSED_HEARTBEATS
from homecare.backend.inputs import LocalTime
from homecare.contracts.messages import Priority
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)

DAY_S = 86_400
"""No band needs to hold longer than a day before it counts."""


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VitalsSettings(_Settings):
    """NEWS2 bands with duration conditions (see ``vitals`` for the chart they come from).

    Thresholds are inclusive (``spo2_low = 91`` means SpO2 ≤ 91 %). Each band holds only when every
    reading for ``*_duration_s`` seconds is in it. For a resident on NEWS2 SpO2 Scale 2 (hypercapnic
    respiratory failure, e.g. COPD with a prescribed target of 88–92 %) set ``spo2_low`` to 83 and
    ``spo2_moderate`` to 85.
    """

    enabled: bool = True
    spo2_low: float = Field(default=91, ge=50, le=100)  # NEWS2 scale 1: ≤ 91 scores 3
    spo2_low_duration_s: int = Field(default=120, ge=0, le=DAY_S)
    spo2_moderate: float = Field(default=93, ge=50, le=100)  # NEWS2 scale 1: 92–93 scores 2
    spo2_moderate_duration_s: int = Field(default=900, ge=0, le=DAY_S)
    pulse_low: float = Field(default=40, ge=20, le=250)  # ≤ 40 scores 3
    pulse_high: float = Field(default=131, ge=20, le=250)  # ≥ 131 scores 3
    pulse_raised: float = Field(default=111, ge=20, le=250)  # 111–130 scores 2
    pulse_duration_s: int = Field(default=120, ge=0, le=DAY_S)
    pulse_raised_duration_s: int = Field(default=900, ge=0, le=DAY_S)
    respiration_low: float = Field(default=8, ge=2, le=60)  # ≤ 8 scores 3
    respiration_high: float = Field(default=25, ge=2, le=60)  # ≥ 25 scores 3
    respiration_raised: float = Field(default=21, ge=2, le=60)  # 21–24 scores 2
    respiration_duration_s: int = Field(default=120, ge=0, le=DAY_S)
    respiration_raised_duration_s: int = Field(default=900, ge=0, le=DAY_S)
    # A wristband measures skin temperature at the wrist (about 33 °C awake indoors), not core
    # temperature, so NEWS2's core bands (≤ 35.0 scores 3) cannot be used as they are: only the
    # fever side applies, and the low side is a cold-skin alarm well below any indoor reading.
    temperature_high: float = Field(default=38.1, ge=20, le=45)  # NEWS2: ≥ 38.1 scores 1 (core); hot skin: fever
    temperature_low: float = Field(default=28.0, ge=20, le=45)
    temperature_duration_s: int = Field(default=900, ge=0, le=DAY_S)
    max_gap_s: int = Field(default=180, ge=30, le=3600)
    """Readings further apart than this break a duration: missing data never counts as in the band."""
    exertion_steps: int = Field(default=50, ge=0, le=10_000)
    """A pulse reading with at least this many steps counted in the ``exertion_window_s`` before it is taken
    during exertion: the high-pulse bands (NEWS2 scores a resting patient) ignore it. 0: never."""
    exertion_window_s: int = Field(default=600, ge=60, le=3600)

    @model_validator(mode="after")
    def _bands_in_order(self) -> Self:
        """A band that contradicts its neighbour would never (or always) fire: refuse it with the reason."""
        for lower, upper in (
            ("spo2_low", "spo2_moderate"),
            ("pulse_low", "pulse_raised"),
            ("pulse_raised", "pulse_high"),
            ("respiration_low", "respiration_raised"),
            ("respiration_raised", "respiration_high"),
            ("temperature_low", "temperature_high"),
        ):
            if getattr(self, lower) > getattr(self, upper):
                low, high = getattr(self, lower), getattr(self, upper)
                raise ValueError(f"{lower} ({low:g}) must not be above {upper} ({high:g})")
        return self


class HealthCheckSettings(_Settings):
    """Bands for the home health checks (see ``health_checks``): one spot reading is enough, no duration.

    Blood pressure: a hypertensive crisis at or above ``systolic_crisis`` or ``diastolic_crisis`` mmHg (ESC/ESH
    2018 and ACC/AHA 2017: ≥ 180 systolic or ≥ 120 diastolic). Glucose, stored in mmol/L to 0.1: hypoglycaemia
    below ``glucose_low`` (ADA level 1: < 3.9 mmol/L, 70 mg/dL), severe below ``glucose_severe`` (level 2:
    < 3.0 mmol/L, 54 mg/dL), whatever the meal context.
    """

    enabled: bool = True
    systolic_crisis: float = Field(default=180, ge=120, le=300)  # ≥ : high priority
    diastolic_crisis: float = Field(default=120, ge=80, le=200)  # ≥ : high priority
    glucose_low: float = Field(default=3.9, ge=2, le=10)  # < : medium priority
    glucose_severe: float = Field(default=3.0, ge=1, le=10)  # < : high priority

    @model_validator(mode="after")
    def _bands_in_order(self) -> Self:
        if self.glucose_severe > self.glucose_low:
            raise ValueError(
                f"glucose_severe ({self.glucose_severe:g}) must not be above glucose_low ({self.glucose_low:g})"
            )
        return self


class BaselineSettings(_Settings):
    """Personal baseline: robust z-scores per daily feature plus a robust covariance envelope."""

    enabled: bool = True
    history_days: int = Field(default=28, ge=7, le=180)
    min_days: int = Field(default=7, ge=5, le=180)
    z_threshold: float = Field(default=2.0, gt=0, le=100)
    min_hours_of_data: int = Field(default=8, ge=1, le=24)
    """A local day counts only when the wristband was worn (heart rate or steps) for at least this many hours."""
    rest_after_steps_min: int = Field(default=12, ge=0, le=120)
    """Resting heart rate is read from minutes with no step in them nor in this many minutes before."""
    min_rest_minutes: int = Field(default=60, ge=1, le=1440)
    """A day's resting heart rate needs at least this many such minutes."""
    envelope_contamination: float = Field(default=0.02, gt=0, lt=0.5)
    # Below these absolute changes a deviation is not worth a visit, however tight the baseline.
    min_change_hr: float = Field(default=8.0, ge=0, le=250)
    min_change_activity: float = Field(default=40.0, ge=0, le=1_000_000)
    min_change_steps: float = Field(default=800.0, ge=0, le=1_000_000)
    min_change_sleep_h: float = Field(default=2.5, ge=0, le=24)


class ActivitySettings(_Settings):
    """Daily rhythm: when the resident is usually up, night hours, how long a quiet spell may last."""

    enabled: bool = True
    day_starts: LocalTime = time(4, 0)
    """Movement after this local time counts as getting up for the day."""
    default_up_by: LocalTime = time(8, 0)
    """"Usually up by" for a resident without enough history of their own."""
    up_by: LocalTime | None = None
    """Fixed "usually up by" (overrides what is learnt)."""
    history_days: int = Field(default=14, ge=3, le=60)
    min_history_days: int = Field(default=5, ge=1, le=60)
    up_by_quantile: float = Field(default=0.9, gt=0, le=1)
    """Learnt "up by": this quantile of the first movement of the day over the history."""
    grace_min: int = Field(default=60, ge=0, le=600)
    active_until: LocalTime = time(21, 0)
    quiet_max_min: int = Field(default=240, ge=30, le=1440)
    """During active hours, no movement for this long is inactivity."""
    night_starts: LocalTime = time(22, 0)
    night_ends: LocalTime = time(6, 0)
    out_of_bed_max_min: int = Field(default=45, ge=5, le=600)
    night_door_lookback_h: int = Field(default=8, ge=1, le=24)
    no_activity_hours: int = Field(default=24, ge=6, le=72)


class DeviceHealthSettings(_Settings):
    """Missed heartbeats, offline home unit, low battery, wristband off the wrist."""

    enabled: bool = True
    missed_heartbeats: int = Field(default=MISSED_HEARTBEATS, ge=1, le=100)  # the pages' "offline" rule too
    home_unit_offline_min: int = Field(default=10, ge=1, le=1440)
    low_battery_pct: int = Field(default=15, ge=1, le=99)
    battery_hysteresis_pct: int = Field(default=5, ge=0, le=50)
    wearable_removed_min: int = Field(default=120, ge=1, le=10080)


class FallSettings(_Settings):
    """Device-detected falls: how long the resident has to say "I'm OK" before the pre-alarm becomes an alarm."""

    recovery_window_s: int = Field(default=45, ge=0, le=300)
    """Products wait 30–60 s; shorter for a resident who cannot reach the button, 0 for no pre-alarm."""
    rejected_priority: Priority = Priority.LOW
    """Priority of a device's fall that the server-side model rejects (it is downgraded, never dropped)."""


class DetectionSettings(_Settings):
    """Everything the detectors can be told about one resident."""

    falls: FallSettings = FallSettings()
    vitals: VitalsSettings = VitalsSettings()
    health_checks: HealthCheckSettings = HealthCheckSettings()
    baseline: BaselineSettings = BaselineSettings()
    activity: ActivitySettings = ActivitySettings()
    device_health: DeviceHealthSettings = DeviceHealthSettings()
    priorities: dict[Cause, Priority] = Field(default_factory=dict)
    """Priority per cause where it differs from ``signals.DEFAULT_PRIORITY``."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.baseline.min_days > self.baseline.history_days:
            raise ValueError("baseline.min_days exceeds baseline.history_days")
        return self

    def priority(self, cause: Cause) -> Priority:
        """The priority of a cause for this resident."""
        return self.priorities.get(cause, DEFAULT_PRIORITY[cause])


DEFAULTS = DetectionSettings()


class SettingsBook:
    """The settings of every resident with overrides; everybody else has the defaults."""

    def __init__(self, overrides: Mapping[int, DetectionSettings]) -> None:
        self._overrides = dict(overrides)

    def for_resident(self, resident_id: int) -> DetectionSettings:
        """This resident's settings."""
        return self._overrides.get(resident_id, DEFAULTS)

    @property
    def overridden(self) -> list[int]:
        """Residents whose settings differ from the defaults."""
        return sorted(self._overrides)


def parse_overrides(overrides: Mapping[str, Any]) -> DetectionSettings:
    """Settings from a JSON object of overrides; raises ``pydantic.ValidationError`` when it is wrong."""
    return DetectionSettings.model_validate(dict(overrides))


async def load_settings(conn: Conn) -> SettingsBook:
    """Every resident's overrides. A stored override that no longer validates is logged and ignored
    (that resident gets the defaults): one bad row must not stop detection for everybody."""
    cursor = await conn.execute("SELECT resident_id, overrides FROM detection_settings")
    book: dict[int, DetectionSettings] = {}
    for resident_id, overrides in await cursor.fetchall():
        try:
            book[resident_id] = parse_overrides(overrides)
        except ValidationError as err:
            log.error("detection settings of resident %s are invalid, using defaults: %s", resident_id, err)
    return SettingsBook(book)


async def get_settings(conn: Conn, *, resident_id: int) -> DetectionSettings:
    """One resident's effective settings (defaults where nothing is overridden, or the override is invalid)."""
    cursor = await conn.execute("SELECT overrides FROM detection_settings WHERE resident_id = %s", (resident_id,))
    row = await cursor.fetchone()
    if row is None:
        return DEFAULTS
    try:
        return parse_overrides(row[0])
    except ValidationError as err:
        log.error("detection settings of resident %s are invalid, using defaults: %s", resident_id, err)
        return DEFAULTS


async def set_overrides(
    conn: Conn, *, resident_id: int, overrides: Mapping[str, Any], updated_by: str | None = None
) -> DetectionSettings:
    """Validate and store a resident's overrides (replacing earlier ones); returns the effective settings."""
    settings = parse_overrides(overrides)
    await conn.execute(
        "INSERT INTO detection_settings (resident_id, overrides, updated_at, updated_by) "
        "VALUES (%s, %s, now(), %s) ON CONFLICT (resident_id) DO UPDATE "
        "SET overrides = excluded.overrides, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        (resident_id, Jsonb(dict(overrides)), updated_by),
    )
    return settings
