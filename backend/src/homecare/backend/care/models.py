"""Shapes of the care API: the information base, assessments, the administrator's rules, visits and their records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from homecare.backend.care.ability import MAX_TOTAL, Adjustment, Part
from homecare.backend.inputs import Day, Instant, RowId, Text

LivingSituation = Literal["alone", "empty_nest", "left_behind", "special_family"]
"""独居 alone, 空巢 empty nest (no child at home), 留守 left behind (children work far away), 计划生育特殊家庭."""
EconomicStatus = Literal["extreme_poverty", "subsistence", "low_income"]
"""特困 extreme poverty, 低保 subsistence allowance, 低收入 low income."""
Category = Literal[
    "alone", "empty_nest", "left_behind", "special_family", "extreme_poverty", "subsistence", "low_income", "disabled"
]
"""What of the information base can make a resident vulnerable (``disabled``: a disability grade is recorded)."""
Reason = Literal["first", "routine", "change", "review"]
"""Why an assessment was made: the first, the routine yearly one, after a change of condition, a review asked for."""
Frequency = Literal["weekly", "monthly"]
LevelNumber = Annotated[
    int, Field(ge=0, le=4, description="0 能力完好 intact … 4 能力完全丧失 lost (GB/T 42195-2022).")
]
Condition = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProfileIn(_In):
    """The information base of one resident; the whole of it is replaced."""

    living_situation: list[LivingSituation] = Field(default=[], max_length=4)
    economic_status: EconomicStatus | None = None
    disability: Text | None = Field(
        default=None, min_length=1, max_length=200, description="Kind of disability, e.g. 肢体残疾."
    )
    disability_grade: int | None = Field(default=None, ge=1, le=4, description="残疾等级 1 (most severe) to 4.")
    chronic_conditions: list[Condition] = Field(default=[], max_length=30, description="Kept on the resident card.")


class Subsidy(_Out):
    level: LevelNumber
    economic_status: EconomicStatus | None = Field(
        description="Only for residents of this economic status (null: all)."
    )
    name: str
    monthly_yuan: Decimal


class Standing(_Out):
    """Where a resident stands by the latest assessment and the administrator's rules."""

    level: int | None = Field(description="The latest assessment's level, or null before any.")
    assessed_on: date | None
    vulnerable: bool
    vulnerable_because: list[str] = Field(description="Categories from the rules, ability_level, or enrolment.")
    visit_frequency: Frequency | None
    subsidies: list[Subsidy] = Field(description="What the latest level (and economic status) earns.")


class Assessment(_Out):
    """One ability assessment, as recorded; never changed afterwards."""

    id: int
    resident_id: int
    assessed_on: date
    assessor: str
    reason: Reason
    items: dict[str, int]
    coma: bool
    dementia: bool
    risk_events: int
    parts: dict[Part, int]
    total: int = Field(description=f"0-{MAX_TOTAL}.")
    preliminary_level: int = Field(description="The level of the total alone.")
    level: int = Field(description="After the standard's adjustments (coma, dementia, risk events).")
    adjustments: list[Adjustment]
    note: str | None
    recorded_by: str
    recorded_at: datetime


class AssessmentIn(_In):
    """An assessment to record: every one of the 26 items of GB/T 42195-2022 with its score."""

    assessed_on: Day
    assessor: Text = Field(min_length=1, max_length=100, description="Who assessed (评估员).")
    reason: Reason = "routine"
    items: dict[Annotated[str, StringConstraints(max_length=40)], Annotated[int, Field(ge=0, le=4)]] = Field(
        max_length=40,
        description="Item code → score; GET /api/care/assessment-items lists the codes and their highest scores.",
    )
    coma: bool = Field(default=False, description="In a coma: level 4 whatever the score.")
    dementia: bool = Field(default=False, description="Diagnosed dementia or another mental disorder (F00-F99).")
    risk_events: int = Field(default=0, ge=0, le=1000, description="Falls, wandering, choking, self-harm in 30 days.")
    note: Text | None = Field(default=None, max_length=2000)


class AssessmentItem(_Out):
    code: str
    part: Part
    max_score: int


class Profile(_Out):
    """A resident's information base, standing and every assessment, newest first."""

    resident_id: int
    name: str
    living_situation: list[LivingSituation]
    economic_status: EconomicStatus | None
    disability: str | None
    disability_grade: int | None
    chronic_conditions: list[str]
    updated_at: datetime | None
    updated_by: str | None
    standing: Standing
    assessments: list[Assessment]


class SubsidyRule(_In):
    level: LevelNumber
    economic_status: EconomicStatus | None = None
    name: Text = Field(min_length=1, max_length=100, examples=["护理补贴"])
    monthly_yuan: Annotated[
        Decimal,
        Field(ge=0, le=100000, max_digits=10, decimal_places=2),
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100000, "multipleOf": 0.01}),
    ] = Field(description="Yuan a month, to the fen; a number or a decimal string.")


class CareRulesIn(_In):
    """The rules an administrator keeps; the whole set is replaced at once."""

    vulnerable_categories: list[Category] = Field(max_length=8)
    vulnerable_from_level: int | None = Field(
        ge=1, le=4, description="An assessed level this bad or worse makes a resident vulnerable (null: never alone)."
    )
    weekly_alone_from_level: LevelNumber = Field(
        description="A vulnerable resident living alone at this level or worse is visited weekly, else monthly."
    )
    subsidies: list[SubsidyRule] = Field(max_length=100)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        keys = [(s.level, s.economic_status, s.name) for s in self.subsidies]
        if len(set(keys)) != len(keys):
            raise PydanticCustomError("duplicate_subsidy", "a subsidy is listed twice for one level and status")
        return self


class CareRules(_Out):
    vulnerable_categories: list[Category]
    vulnerable_from_level: int | None
    weekly_alone_from_level: int
    subsidies: list[Subsidy]
    updated_at: datetime
    updated_by: str


# --- welfare visit rounds ------------------------------------------------------------------------------------

Mood = Literal["good", "low", "distressed"]
Health = Literal["well", "complaint", "unwell"]


class Wellbeing(_In):
    """How the resident is: every field is required, the first value of each is the reassuring one."""

    mood: Mood
    health: Health
    eating: Literal["normal", "poor"]
    medication: Literal["taken", "missed", "none_prescribed"]
    hygiene: Literal["ok", "neglected"]
    lonely: Literal["no", "yes"]


class HomeSafety(_In):
    """The home's safety: every field is required."""

    gas: Literal["safe", "no_gas", "hazard"]
    electrics: Literal["safe", "hazard"]
    fall_hazards: Literal["none", "present"]
    smoke_alarm: Literal["working", "faulty", "absent"]
    heating_cooling: Literal["adequate", "inadequate"]
    food_supply: Literal["adequate", "short"]
    home_unit: Literal["working", "faulty"]


class Checklist(_In):
    wellbeing: Wellbeing
    home_safety: HomeSafety


class VisitRecordIn(_In):
    """What the visitor found. A visit where the resident was seen needs the checklist; "not at home" has none."""

    visited_at: Instant
    outcome: Literal["seen", "not_home"]
    checklist: Checklist | None = None
    note: Text | None = Field(default=None, max_length=2000)
    open_incident: bool = Field(
        default=False, description="Raise an incident for the call centre (always for not_home and urgent findings)."
    )

    @model_validator(mode="after")
    def _checklist_when_seen(self) -> Self:
        if self.outcome == "seen" and self.checklist is None:
            raise PydanticCustomError("checklist_required", "a visit where the resident was seen needs the checklist")
        if self.outcome == "not_home" and self.checklist is not None:
            raise PydanticCustomError("checklist_not_home", "nobody was seen: leave the checklist out")
        return self


class VisitRecord(_Out):
    id: int
    visit_id: int | None
    visited_at: datetime
    visitor: str
    outcome: Literal["seen", "not_home"] | None
    checklist: Checklist | None
    findings: list[str] = Field(description="section.item:value of every answer that is not the reassuring one.")
    incident_id: int | None
    note: str | None


class Visit(_Out):
    """A planned welfare visit."""

    id: int
    resident_id: int
    resident_name: str
    address: str | None
    station_id: int | None
    station_name: str | None
    visitor_id: int | None
    visitor_name: str | None
    frequency: Frequency
    due_from: date
    due_by: date
    status: Literal["planned", "done"]
    overdue: bool = Field(description="Still planned after its last day (in the caller's zone).")
    attempts: int = Field(description="Records so far (a not-at-home call is one).")
    done_at: datetime | None


class RoundIn(_In):
    month: Annotated[str, StringConstraints(pattern=r"^2[01]\d{2}-(0[1-9]|1[0-2])$")] | None = Field(
        default=None, description="YYYY-MM in the caller's zone (default: this month).", examples=["2026-12"]
    )


class Round(_Out):
    """What generating a month's round did."""

    month: str
    vulnerable: int
    created: int = Field(description="Visits added now (existing ones are kept).")
    planned: int = Field(description="Visits of the month in all.")
    unassigned: int = Field(description="Visits of the month with no visitor (the station has none).")


class AssignIn(_In):
    visitor_id: RowId


class Contact(_Out):
    name: str
    relation: str | None
    phone: str | None


class ResidentBrief(_Out):
    """What a visitor needs about the person: who, where, how to get in, health, who to call."""

    id: int
    name: str
    age: int | None
    sex: str | None
    address: str | None
    phone: str | None
    access_notes: str | None
    conditions: list[str]
    mobility: str | None
    language: str | None
    contacts: list[Contact]


class VisitCard(_Out):
    """One visit as the visitor opens it: the resident's card, their standing, and the records so far."""

    visit: Visit
    resident: ResidentBrief
    standing: Standing
    living_situation: list[LivingSituation]
    records: list[VisitRecord]


# --- home services and bookings ------------------------------------------------------------------------------

Task = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ServiceKind = Literal["meal", "bathing", "cleaning", "escort", "nursing", "rehabilitation"]
"""助餐 meals, 助浴 bathing, 助洁 cleaning, 助医 escort to the doctor, 上门护理 nursing, 康复 rehabilitation."""
Yuan = Annotated[
    Decimal,
    Field(ge=0, le=100000, max_digits=10, decimal_places=2),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100000, "multipleOf": 0.01}),
]


class ServiceSubsidyIn(_In):
    level: LevelNumber
    economic_status: EconomicStatus | None = Field(default=None, description="Only for this status (null: all).")
    yuan: Yuan


class ServiceIn(_In):
    """A service of a station's catalogue."""

    station_id: RowId
    kind: ServiceKind
    name: Text = Field(min_length=1, max_length=100, examples=["午餐送餐"])
    duration_min: int = Field(ge=5, le=480)
    price_yuan: Yuan
    capacity: int = Field(ge=1, le=1000, description="Bookings that may run at the same time.")
    radius_km: float = Field(
        ge=0.01, le=100, description="Homes this far from the station (straight line) are served; to 10 m."
    )
    subsidies: list[ServiceSubsidyIn] = Field(default=[], max_length=50)
    tasks: list[Task] = Field(
        default=[], max_length=20, description="The checklist the carer ticks at check-out.", examples=[["送餐到桌"]]
    )
    photo_required: bool = Field(default=False, description="A visit done is checked out with a photo.")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.tasks)) != len(self.tasks):
            raise PydanticCustomError("duplicate_task", "a task is listed twice")
        keys = [(s.level, s.economic_status) for s in self.subsidies]
        if len(set(keys)) != len(keys):
            raise PydanticCustomError("duplicate_subsidy", "a subsidy is listed twice for one level and status")
        return self


class ServiceSubsidy(_Out):
    level: int
    economic_status: EconomicStatus | None
    yuan: Decimal


class Service(_Out):
    id: int
    station_id: int
    station_name: str
    kind: ServiceKind
    name: str
    duration_min: int
    price_yuan: Decimal
    capacity: int
    radius_km: float
    subsidies: list[ServiceSubsidy]
    tasks: list[str]
    photo_required: bool


class Quote(_Out):
    """What the resident pays, before confirming: the price, the subsidy their level earns, the co-payment."""

    price_yuan: Decimal
    subsidy_yuan: Decimal
    copay_yuan: Decimal


class Offer(_Out):
    """A service that can come at the time asked: nearest first."""

    service: Service
    travel_min: float = Field(description="Estimated travel from the station to the home.")
    free_places: int = Field(description="Places left at that time.")
    quote: Quote


class BookingIn(_In):
    resident_id: RowId
    service_id: RowId
    starts_at: Instant


class SeriesIn(BookingIn):
    """A recurring booking: the same local time on these weekdays, from starts_at's day up to ``until``."""

    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        min_length=1, max_length=7, description="0 Monday … 6 Sunday.", examples=[[0, 1, 2, 3, 4]]
    )
    until: Day = Field(description="The last local day of the series (at most 92 days after the first).")


class CancelIn(_In):
    reason: Text = Field(min_length=1, max_length=500)


class MoveIn(_In):
    starts_at: Instant
    reason: Text = Field(min_length=1, max_length=500)


class Booking(_Out):
    id: int
    resident_id: int
    service: Service
    starts_at: datetime
    ends_at: datetime
    status: Literal["booked", "cancelled"]
    channel: Literal["family", "hotline", "station"]
    quote: Quote
    booked_by: str
    booked_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    series_id: int | None = Field(description="The first booking of its recurring series; null for a one-off.")
    changes: int = Field(description="How often it was moved to another time.")
    carer_id: int | None = Field(description="The carer who delivers it; null until one is assigned.")
    carer_name: str | None
    checked_in_at: datetime | None = Field(description="When the carer checked in (home unit or phone).")
    checked_out_at: datetime | None
    outcome: Outcome | None
    ratings: list[Rating] = Field(description="The family's and the resident's ratings of the visit.")
    complaints: list[Complaint]


# --- ratings and complaints ------------------------------------------------------------------------------------

Rater = Literal["family", "resident"]
"""Who a rating or complaint is from: a linked family member, or the resident (recorded by the call centre or the
providing station)."""
ComplaintCategory = Literal["late", "missed", "incomplete", "attitude", "safety", "charge", "other"]
"""Why: came late, did not come, tasks left undone, the carer's attitude, safety, the charge, something else."""


class RatingIn(_In):
    """A rating of a checked-out visit: once per rater (each family member; the resident once)."""

    stars: int = Field(ge=1, le=5, description="1 (very poor) … 5 (very good).")
    comment: Text | None = Field(default=None, min_length=1, max_length=1000)


class Rating(_Out):
    booking_id: int
    rater: Rater
    stars: int
    comment: str | None
    rated_at: datetime
    recorded_by: str = Field(description="The account that gave it (for the resident: who typed it in).")


class ComplaintIn(_In):
    category: ComplaintCategory
    text: Text = Field(min_length=1, max_length=2000)


class Complaint(_Out):
    """A complaint about a booked visit, as the providing station sees it."""

    id: int
    booking_id: int
    resident_id: int
    resident_name: str
    service_name: str
    station_id: int
    station_name: str
    carer_id: int | None
    carer_name: str | None
    starts_at: datetime
    raised_by: Rater
    category: ComplaintCategory
    text: str
    raised_at: datetime
    recorded_by: str


# --- carer visits --------------------------------------------------------------------------------------------

Outcome = Literal["completed", "not_home", "unwell"]
"""How a carer's visit ended: the service delivered, nobody at home, or the resident unwell (both raise an incident)."""


class CarerIn(_In):
    carer_id: RowId


class CarerCode(_Out):
    """A carer's code for the home units, shown once to hand over; a new one replaces it."""

    user_id: int
    code: str
    issued_at: datetime


class PhoneProof(_In):
    """Where the carer's phone is (WGS-84): within the set distance of the home it proves the carer is there."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CheckOutIn(PhoneProof):
    """The end of a visit: the outcome, every task of the service ticked done or not, and notes."""

    outcome: Outcome
    checklist: dict[Task, bool] | None = Field(
        default=None, max_length=20, description="Each task of the service → done; none when nobody was at home."
    )
    note: Text | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _checklist_unless_not_home(self) -> Self:
        if self.outcome != "not_home" and self.checklist is None:
            raise PydanticCustomError("checklist_required", "a visit made needs the checklist of the service's tasks")
        if self.outcome == "not_home" and self.checklist is not None:
            raise PydanticCustomError("checklist_not_home", "nobody was at home: leave the checklist out")
        return self


class CarerVisit(_Out):
    """A booked service visit as its carer delivers it: the booking, and its check-in and check-out."""

    booking_id: int
    resident_id: int
    resident_name: str
    address: str | None
    service_id: int
    service_name: str
    service_kind: ServiceKind
    tasks: list[str]
    station_id: int
    station_name: str
    starts_at: datetime
    ends_at: datetime
    status: Literal["booked", "cancelled"]
    carer_id: int | None
    carer_name: str | None
    checked_in_at: datetime | None = Field(description="The first proof: the home unit's code or the phone.")
    home_unit_in_at: datetime | None
    phone_in_at: datetime | None
    phone_in_m: float | None = Field(description="How far the phone was from the home at check-in, metres.")
    home_unit_out_at: datetime | None
    checked_out_at: datetime | None
    phone_out_m: float | None
    outcome: Outcome | None
    checklist: dict[str, bool] | None
    note: str | None
    incident_id: int | None
    non_arrival_at: datetime | None = Field(description="When it was alerted as not arrived (carer non-arrival).")
    non_arrival_incident_id: int | None
    photo_required: bool = Field(description="The service needs a photo at check-out.")
    photo_taken_at: datetime | None = Field(description="When the carer's photo of the visit was taken; null: none.")


class CarerVisitCard(_Out):
    """One visit as the carer opens it: the visit and the resident's card."""

    visit: CarerVisit
    resident: ResidentBrief


class CarerFigures(_Out):
    """Visits that started in the period, for one carer of a providing station, or the station in all."""

    station_id: int
    station_name: str
    carer_id: int | None = Field(description="Null on a station's total line, or for visits without a carer.")
    carer_name: str | None
    provider_total: bool = Field(description="The line sums the station's visits (every carer).")
    visits: int
    checked_in: int
    missed: int = Field(description="Not checked in by the non-arrival time after the start.")
    late: int = Field(description="Checked in after the non-arrival time.")
    late_min_avg: float | None = Field(description="How late those arrivals were on average, minutes after the start.")
    checked_out: int
    short: int = Field(description="At home for less than the share of the booked duration a visit must last.")
    ratings: int = Field(description="Ratings of these visits, by family and residents.")
    rating_avg: float | None = Field(description="Their average stars (1–5); null without a rating.")
    complaints: int = Field(description="Complaints about these visits.")
    on_time_rate: float | None = Field(
        description="Of the visits due by now (checked in, or missed), the share checked in by the non-arrival time."
    )


VisitState = Literal["booked", "late", "missed", "in_progress", "done", "short"]
"""Where a visit of the day stands: booked (not started yet), late (started, no check-in yet, within the non-arrival
time), missed (no check-in by then: carer non-arrival), in progress, done, and short (done, at home for less than the
share of the booked time)."""


class BoardVisit(CarerVisit):
    """A visit of the day on the service board, with where it stands."""

    state: VisitState
    left_at: datetime | None = Field(description="When the carer left: the first check-out, home unit or phone.")
    late_min: int | None = Field(description="How many minutes after the start a late arrival checked in.")


class BoardCarer(_Out):
    carer_id: int | None = Field(description="Null for the visits not given to a carer yet.")
    carer_name: str | None
    visits: list[BoardVisit]


class BoardProvider(_Out):
    station_id: int
    station_name: str
    counts: dict[VisitState, int] = Field(description="The provider's visits of the day by state.")
    carers: list[BoardCarer]


class ServiceBoard(_Out):
    """Today's home-service visits per providing station and carer, the open non-arrivals first."""

    day: date = Field(description="The day shown, in the reader's zone.")
    non_arrivals: list[BoardVisit] = Field(description="Visits not checked in by the non-arrival time, earliest first.")
    providers: list[BoardProvider]
    version: str = Field(description="Also sent as the ETag: poll with If-None-Match to get 304 when unchanged.")
