"""Models of the family status page: the residents followed, the headline state with its reasons, history, sleep."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.incidents.models import Outcome, UtcDatetime
from homecare.contracts.messages import MealContext


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class FollowedResident(_Model):
    """A resident the signed-in family member follows, and what the resident shares with them."""

    resident_id: int
    display_name: str
    relation: str | None
    timezone: str
    share_status: bool
    share_vitals: bool
    share_activity: bool
    share_incidents: bool
    share_location: bool


State = Literal["help_on_the_way", "needs_attention", "all_well"]
ReasonCode = Literal[
    "help_on_the_way",
    "responder_on_scene",
    "emergency_on_the_way",
    "incident",
    "device_offline",
    "low_battery",
    "no_activity",
]
ActivitySource = Literal["motion", "door", "bed", "steps", "activity"]


class Reason(_Model):
    """Why the state is what it is; the page words it in the reader's language."""

    code: ReasonCode
    cause: str | None = Field(default=None, description="The incident's cause, for incident reasons.")
    service: str | None = Field(default=None, description="medical, police or fire: who is coming (120/110/119).")
    device_kind: str | None = None
    battery: int | None = None
    since: UtcDatetime | None = None


class LastActivity(_Model):
    at: UtcDatetime
    source: ActivitySource


class TodayVsUsual(_Model):
    """Steps so far today (the resident's local day) against the median of the same part of the day before."""

    metric: Literal["steps"] = "steps"
    today: float
    usual: float | None = Field(
        description="Median over the days with data among the last 14; null with fewer than 3 such days."
    )
    usual_days: int


BaselineFeature = Literal["night_hr", "resting_hr", "activity", "steps", "sleep_h"]


class BaselineDeviation(_Model):
    """One way a day departed from the resident's usual: the feature is the code, the rest its parameters."""

    feature: BaselineFeature
    value: float
    usual: float = Field(description="The median of the feature over the baseline's days.")
    spread: float = Field(description="Its robust standard deviation.")
    days: int = Field(description="Days in a row it has lasted, the judged day included.")


class BaselineDay(_Model):
    day: date
    value: float


class BaselineChange(_Model):
    """The last day judged against the resident's personal baseline was unusual: what changed, worded by the
    page in the reader's language, and the daily values of the first change for its chart."""

    day: date = Field(description="The local day judged.")
    overall: bool = Field(description="No single feature is far off, but the combination is.")
    deviations: list[BaselineDeviation]
    series: list[BaselineDay] = Field(description="The first deviation's feature per local day, oldest first.")


class FamilyDevice(_Model):
    kind: str
    online: bool
    battery: int | None
    charging: bool | None
    last_seen_at: UtcDatetime | None


class LatestBloodPressure(_Model):
    """The latest home blood-pressure check."""

    systolic: float = Field(description="mmHg")
    diastolic: float = Field(description="mmHg")
    pulse: float | None = Field(description="beats/min, when the cuff counted it")
    at: UtcDatetime


class LatestGlucose(_Model):
    """The latest home glucose check."""

    mmol_per_l: float
    meal: MealContext
    at: UtcDatetime


class HealthChecks(_Model):
    """The latest blood pressure and glucose of the last 30 days (None: no check in that time)."""

    blood_pressure: LatestBloodPressure | None
    glucose: LatestGlucose | None


class FamilyStatus(_Model):
    """The status page at a glance."""

    resident_id: int
    display_name: str
    timezone: str
    state: State
    reasons: list[Reason]
    last_activity: LastActivity | None
    today: TodayVsUsual | None = Field(description="Only when the resident shares activity.")
    baseline: BaselineChange | None = Field(
        default=None, description="Only when the resident shares vitals and their last judged day was unusual."
    )
    health_checks: HealthChecks | None = Field(default=None, description="Only when the resident shares vitals.")
    devices: list[FamilyDevice]
    now: UtcDatetime


class FamilyIncident(_Model):
    """An incident as the family sees it: what, when, and how it ended — never the operators' notes."""

    id: int
    cause: str
    status: str
    opened_at: UtcDatetime
    dispatched_at: UtcDatetime | None
    on_scene_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    outcome: Outcome | None
    station_name: str | None = Field(description="The station that accepted and sent someone, if one did.")
    emergency_service: str | None = Field(description="medical, police or fire, if they said they were coming.")


class Night(_Model):
    night_of: date = Field(description="The local date of the morning the night ends on.")
    hours: float | None = Field(description="Hours in bed between 18:00 and 12:00; null: no bed events.")
    in_bed_at: UtcDatetime | None
    up_at: UtcDatetime | None


class Sleep(_Model):
    """Nightly time in bed, from the bed sensor's exit and return events."""

    resident_id: int
    basis: Literal["bed_sensor"] = "bed_sensor"
    nights: list[Night]
