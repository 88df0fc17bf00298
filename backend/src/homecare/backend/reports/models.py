"""Response models of the reports API; times are given in the report's time zone."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.care.models import CarerFigures

# The answer targets (the shares within 60 s and 180 s) are the escalation policy's: incidents/escalation_policy.yaml.
WELFARE_TARGET: Final = 1.0  # the city plans: every vulnerable resident visited every month
HEALTH_MANAGEMENT_TARGET: Final = 0.95  # the plans' 老年人健康管理率: at least 95 % of older people


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(_Model):
    """Local calendar days [start_date, end_date], both included, in a time zone; start/end are the instants."""

    start_date: date
    end_date: date
    timezone: str = Field(examples=["Asia/Shanghai"])
    start: datetime = Field(description="Local midnight starting start_date.")
    end: datetime = Field(description="Local midnight after end_date (exclusive).")


class AcknowledgeFigures(_Model):
    """Time from alarm to an operator's acknowledgement."""

    alarms: int = Field(description="Incidents whose alarm time lies in the period.")
    counted: int = Field(
        description="Alarms the shares are computed over: every acknowledged alarm, plus every alarm left "
        "unacknowledged for more than 60 s (closed without acknowledgement, or still waiting)."
    )
    acknowledged: int
    unacknowledged: int = Field(description="Counted alarms nobody acknowledged (all of them are breaches).")
    withdrawn: int = Field(
        description="Alarms closed (or still waiting) within 60 s without acknowledgement: not counted."
    )
    median_s: float | None = Field(description="Median over acknowledged alarms.")
    p90_s: float | None = Field(description="90th percentile (linear interpolation) over acknowledged alarms.")
    within_60s: int
    within_180s: int
    share_within_60s: float | None = Field(description="within_60s / counted.")
    share_within_180s: float | None = Field(description="within_180s / counted.")
    target_within_60s: float = Field(description="The share to answer within the target (the escalation policy's).")
    target_within_180s: float = Field(description="The share to answer within the limit (the escalation policy's).")
    answer_target_s: int = Field(description="The answer target in seconds, 60 in the shipped escalation policy.")
    answer_limit_s: int = Field(description="The answer limit in seconds, 180 in the shipped escalation policy.")
    meets_60s_target: bool | None
    meets_180s_target: bool | None


class OnSceneFigures(_Model):
    """Time from alarm to a responder on scene."""

    count: int = Field(description="Alarms in the period with a responder on scene.")
    median_s: float | None
    p90_s: float | None


class GroupFigures(_Model):
    """Response figures of one operator or one station."""

    key: str = Field(description="The operator (acknowledged_by), or the station's name.")
    station_id: int | None = None
    alarms: int
    acknowledged: int
    median_ack_s: float | None
    p90_ack_s: float | None
    share_within_60s: float | None = Field(description="Over this group's acknowledged alarms.")
    share_within_180s: float | None
    on_scene: int
    median_on_scene_s: float | None
    p90_on_scene_s: float | None


class Breach(_Model):
    """A counted alarm not acknowledged within 60 s."""

    incident_id: int
    resident_id: int
    resident_name: str
    cause: str
    priority: int
    status: str
    alarm_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="The operator who acknowledged it late, if anyone did.")
    acknowledged_by_name: str | None = Field(default=None, description="That operator's display name.")
    wait_s: float = Field(description="Alarm to acknowledgement, or to closing / now when never acknowledged.")
    missed_180s: bool = Field(description="Also missed the 180 s target.")
    station_id: int | None
    station_name: str | None


class ResponseTimes(_Model):
    """Time to acknowledge and time to on-scene over a period, overall, per operator and per station."""

    period: Period
    acknowledge: AcknowledgeFigures
    on_scene: OnSceneFigures
    by_operator: list[GroupFigures] = Field(description="Per operator, over the alarms they acknowledged.")
    by_station: list[GroupFigures] = Field(
        description="Per station: the one dispatched, or else the home's own station."
    )
    breaches: list[Breach] = Field(description="Every counted alarm not acknowledged within 60 s, oldest first.")


class ResidentCoverage(_Model):
    """One enrolled resident's devices and when they were last heard from."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None
    devices: int
    devices_online: int
    covered: bool = Field(description="At least one device was online in the window.")
    last_seen_at: datetime | None


class Coverage(_Model):
    """Share of enrolled residents (at least one active device) whose devices were online in the window."""

    at: datetime
    window_hours: int
    timezone: str
    enrolled: int
    covered: int = Field(description="Residents with at least one device online in the window.")
    fully_covered: int = Field(description="Residents all of whose devices were online in the window.")
    online_now: int = Field(
        description="Residents all of whose devices are online now, by the devices page's rule (heard from within "
        "their missed-heartbeat allowance, the connection not gone since)."
    )
    share_covered: float | None
    share_fully_covered: float | None
    gaps: list[ResidentCoverage] = Field(description="Residents with at least one silent device.")


class UnvisitedResident(_Model):
    """A vulnerable resident with no welfare visit in the month."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None
    last_visit_at: datetime | None = Field(description="Their latest visit before the month, if any.")


class WelfareVisits(_Model):
    """The monthly welfare-visit rate of residents flagged vulnerable."""

    month: str = Field(examples=["2026-11"])
    timezone: str
    start: datetime
    end: datetime
    vulnerable: int
    visited: int
    rate: float | None = Field(description="visited / vulnerable.")
    target: float = WELFARE_TARGET
    meets_target: bool | None
    not_visited: list[UnvisitedResident]


class UncheckedResident(_Model):
    """A resident with no home health check in the period."""

    resident_id: int
    resident_name: str
    station_id: int | None
    station_name: str | None


class HealthManagement(_Model):
    """The health-management rate (老年人健康管理率): the share of residents with a home health check (a blood
    pressure or a glucose reading) in the period."""

    period: Period
    residents: int = Field(description="Residents on the books before the period ended.")
    checked: int = Field(description="Of them, those with at least one blood-pressure or glucose reading in it.")
    rate: float | None = Field(description="checked / residents.")
    target: float = HEALTH_MANAGEMENT_TARGET
    meets_target: bool | None
    not_checked: list[UncheckedResident]


class ServiceQuality(_Model):
    """The month's home-service visits per providing station and carer: late arrivals, short and missed visits, and
    the on-time rate."""

    month: str = Field(examples=["2026-11"])
    timezone: str
    start: datetime
    end: datetime
    lines: list[CarerFigures] = Field(description="Each providing station's total line, then one line per carer.")
