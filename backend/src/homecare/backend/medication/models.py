"""What the medication API takes and answers: schedules, doses and adherence figures."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from homecare.backend.inputs import Day, LocalTime, Text

DoseState = Literal["pending", "taken", "missed"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleIn(_Model):
    """A medicine a resident takes: what, how much, at which local times of day, with or without food."""

    medicine: Text = Field(min_length=1, max_length=100, examples=["二甲双胍 Metformin"])
    dose: Text = Field(min_length=1, max_length=60, examples=["500 mg"])
    times: list[LocalTime] = Field(
        min_length=1, max_length=12, description="Local times of day (the resident's zone).", examples=[["08:00"]]
    )
    with_food: bool | None = Field(default=None, description="True: with food; false: without; null: either.")
    starts_on: Day
    ends_on: Day | None = None
    confirm_window_min: int | None = Field(
        default=None,
        ge=1,
        le=720,
        description="Minutes after a dose is due before the family is told it was not confirmed (null: the "
        "platform's HOMECARE_DOSE_CONFIRM_WINDOW_MIN); shorter for a time-critical medicine.",
    )
    station_after_min: int | None = Field(
        default=None,
        ge=1,
        le=720,
        description="Minutes after the family was told before a missed_dose incident opens for the operators and "
        "the station (null: the platform's HOMECARE_DOSE_STATION_AFTER_MIN).",
    )

    @field_validator("times")
    @classmethod
    def _distinct_minutes(cls, times: list[time]) -> list[time]:
        if any(t.second or t.microsecond for t in times):
            raise ValueError("give times to the minute, e.g. 08:00")
        if len(set(times)) != len(times):
            raise ValueError("each time of day once")
        return sorted(times)

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, ends_on: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if ends_on is not None and starts_on is not None and ends_on < starts_on:
            raise ValueError("must not be before starts_on")
        return ends_on


class Schedule(_Model):
    id: int
    resident_id: int
    medicine: str
    dose: str
    times: list[time]
    with_food: bool | None
    starts_on: date
    ends_on: date | None
    confirm_window_min: int | None
    station_after_min: int | None
    created_by: str
    created_at: datetime
    stopped_at: datetime | None


class Dose(_Model):
    """One dose as it came due, and what became of it; the screens state only these facts."""

    id: int
    schedule_id: int
    medicine: str
    dose: str
    due_at: datetime
    state: DoseState = Field(description="taken (confirmed), missed (not confirmed in the window) or pending.")
    reminded_at: datetime | None
    home_units: int = Field(description="How many home units were sent the reminder.")
    confirmed_at: datetime | None
    confirmed_by: Literal["home_unit", "pill_dispenser"] | None
    family_told_at: datetime | None
    family_told: int | None = Field(description="How many family addresses the message went to (0: nobody to tell).")
    station_told_at: datetime | None
    incident_id: int | None


class Adherence(_Model):
    """Doses confirmed over doses due in a period (a dose still inside its window is not counted yet)."""

    resident_id: int
    display_name: str
    station_id: int | None = Field(default=None, description="The resident's community station, if any.")
    station_name: str | None = None
    since: datetime
    until: datetime
    due: int
    confirmed: int
    share: float | None = Field(description="confirmed / due, or null when nothing was due.")


class ResidentMedication(_Model):
    """A resident's medicines, their 30-day adherence and the doses of the last days."""

    resident_id: int
    schedules: list[Schedule]
    adherence: Adherence
    recent: list[Dose]
