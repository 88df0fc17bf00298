"""What every detector produces: a signal with a cause, a priority and a short human explanation."""

from __future__ import annotations

import enum
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from homecare.contracts.messages import Priority


class Cause(enum.StrEnum):
    """Why an incident exists. One open incident per resident and cause; repeats fold into it."""

    SOS = "sos"
    FALL = "fall"  # device-detected, not (yet) confirmed: starts as a pre-alarm
    FALL_CONFIRMED = "fall_confirmed"  # confirmed by the server-side model or a ceiling/radar sensor
    SMOKE = "smoke"
    WATER_LEAK = "water_leak"
    VITALS_SPO2 = "vitals_spo2"
    VITALS_PULSE = "vitals_pulse"
    VITALS_RESPIRATION = "vitals_respiration"
    VITALS_TEMPERATURE = "vitals_temperature"
    BLOOD_PRESSURE_CRISIS = "blood_pressure_crisis"  # a home blood-pressure check in the hypertensive crisis band
    HYPOGLYCAEMIA = "hypoglycaemia"  # a home glucose check below the resident's band
    WELFARE = "welfare"  # a deviation from the resident's personal baseline
    INACTIVITY = "inactivity"  # no movement during the usual active hours
    NOT_BACK_IN_BED = "not_back_in_bed"
    NIGHT_DOOR = "night_door"  # front door open at night (wandering)
    LEFT_SAFE_ZONE = "left_safe_zone"  # a GPS watch's fixes are outside every safe zone that applies now
    NO_ACTIVITY_DAY = "no_activity_day"
    DEVICE_OFFLINE = "device_offline"  # missed heartbeats / presence offline
    LOW_BATTERY = "low_battery"
    WEARABLE_REMOVED = "wearable_removed"
    HOME_UNIT_OFFLINE = "home_unit_offline"
    VISIT_FINDING = "visit_finding"  # a welfare visitor found the resident not at home, unwell or the home unsafe
    CARER_VISIT = "carer_visit"  # a carer delivering a booked service found the resident not at home or unwell
    CARER_NON_ARRIVAL = "carer_non_arrival"  # a booked service visit not checked in in time after its start
    MISSED_DOSE = "missed_dose"  # a medication dose not confirmed taken, after the family was told


DEFAULT_PRIORITY: Final[dict[Cause, Priority]] = {
    Cause.SOS: Priority.CRITICAL,
    Cause.FALL: Priority.CRITICAL,
    Cause.FALL_CONFIRMED: Priority.CRITICAL,
    Cause.SMOKE: Priority.CRITICAL,
    Cause.WATER_LEAK: Priority.HIGH,
    Cause.VITALS_SPO2: Priority.HIGH,
    Cause.VITALS_PULSE: Priority.HIGH,
    Cause.VITALS_RESPIRATION: Priority.HIGH,
    Cause.VITALS_TEMPERATURE: Priority.MEDIUM,
    Cause.BLOOD_PRESSURE_CRISIS: Priority.HIGH,
    Cause.HYPOGLYCAEMIA: Priority.HIGH,
    Cause.WELFARE: Priority.LOW,
    Cause.INACTIVITY: Priority.HIGH,
    Cause.NOT_BACK_IN_BED: Priority.MEDIUM,
    Cause.NIGHT_DOOR: Priority.HIGH,
    Cause.LEFT_SAFE_ZONE: Priority.HIGH,
    Cause.NO_ACTIVITY_DAY: Priority.HIGH,
    Cause.DEVICE_OFFLINE: Priority.MEDIUM,
    Cause.LOW_BATTERY: Priority.LOW,
    Cause.WEARABLE_REMOVED: Priority.LOW,
    Cause.HOME_UNIT_OFFLINE: Priority.MEDIUM,
    Cause.VISIT_FINDING: Priority.HIGH,
    Cause.CARER_VISIT: Priority.HIGH,
    Cause.CARER_NON_ARRIVAL: Priority.MEDIUM,
    Cause.MISSED_DOSE: Priority.MEDIUM,
}


class SignalKind(enum.StrEnum):
    """How a signal enters the incident lifecycle."""

    ALARM = "alarm"  # opens (or folds into) an incident at once
    PRE_ALARM = "pre_alarm"  # opens a pre-alarm with a recovery countdown (device-detected fall)
    CANCEL = "cancel"  # the resident's "I'm OK": cancels the open pre-alarm/alarm of this cause
    CLEAR = "clear"  # the condition is gone (vitals back in range, device back online): may auto-resolve


class Signal(BaseModel):
    """A detector's finding about one resident; the incidents service turns it into an incident change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resident_id: int = Field(ge=1)
    cause: Cause
    kind: SignalKind = SignalKind.ALARM
    priority: Priority
    explanation_en: str = Field(
        min_length=1, max_length=300, examples=["No movement since 07:10; usually up by 06:45."]
    )
    explanation_zh: str = Field(min_length=1, max_length=300, examples=["07:10 起无活动；平时 06:45 前起床。"])
    detected_at: AwareDatetime
    device_id: int | None = None
    event_id: int | None = Field(default=None, description="The stored device event behind it, if any.")
    recovery_window_s: int | None = Field(
        default=None, ge=0, le=300, description="For a pre-alarm: how long the resident has to cancel."
    )
