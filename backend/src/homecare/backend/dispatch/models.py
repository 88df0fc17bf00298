"""Models of the dispatch API: station suggestions, task actions, stations and the coverage report."""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.incidents.models import Actor
from homecare.backend.inputs import RowId, Text


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class StationSuggestion(_Model):
    """A station that could respond, best first; ``available`` ones are on duty with capacity."""

    station_id: int
    code: str
    name: str
    travel_min: float = Field(description="Estimated travel time to the home, minutes (-1: home not located).")
    home: bool = Field(description="The station the home belongs to.")
    available: bool
    why: dict[str, Any] = Field(
        description="Why it can or cannot take it, as a code and its parameters (the pages word it): open, "
        "on_call {people, opens, closes} (out of hours, its people on call), closed {opens, closes}, "
        "at_capacity {active, capacity}, switched_off, did_not_accept (it declined this incident or let it time out).",
        examples=[{"code": "closed", "params": {"opens": "08:00", "closes": "20:00"}}],
    )


class DispatchBody(_Model):
    actor: Actor | None = None
    station_id: RowId | None = Field(default=None, description="Default: the first suggested available station.")
    note: Text | None = Field(default=None, max_length=2000)


EmergencyService = Literal["medical", "police", "fire"]
EmergencyAnswer = Literal["sent", "advice", "refused", "no_answer"]


class EmergencyOption(_Model):
    """An emergency service the operator can call: 120 medical, 110 police, 119 fire."""

    service: EmergencyService
    number: str
    by_cause: bool = Field(description="The one the incident's cause calls for (listed first).")


class EmergencyBody(_Model):
    actor: Actor | None = None
    service: EmergencyService | None = Field(default=None, description="Default: the one the cause calls for.")
    answer: EmergencyAnswer = Field(
        description="What they answered: sent (someone is on the way), advice (advice by phone only), refused, "
        "no_answer. Anything but sent leaves the incident with nobody on the way."
    )
    note: Text | None = Field(default=None, max_length=2000)


class TaskBody(_Model):
    actor: Actor | None = None
    note: Text | None = Field(default=None, max_length=2000)


class StationStatus(_Model):
    """A station and its state now: on duty, its active tasks, whether it can take one more (the dispatch view;
    the station as administrators keep it is ``homecare.backend.enrolment.models.Station``)."""

    id: int
    code: str
    name: str
    address: str
    phone: str | None
    lat: float
    lon: float
    capacity: int
    opens: time
    closes: time
    timezone: str
    on_duty: bool
    active_tasks: int
    available_now: bool


class HomeOutside(_Model):
    resident_id: int
    display_name: str
    nearest_station_id: int | None
    travel_min: float | None = Field(description="To the nearest station; null when there is no station.")


class CoverageReport(_Model):
    """Which homes fall outside the 15-minute circle of every station (by the travel-time model)."""

    threshold_min: float
    model: str
    residents_located: int
    residents_unlocated: int
    covered: int
    share_covered: float
    outside: list[HomeOutside]


class MapHome(_Model):
    resident_id: int
    name: str
    lat: float
    lon: float
    station_id: int | None


class MapStation(_Model):
    id: int
    name: str
    lat: float
    lon: float
    on_duty: bool
    capacity: int
    active_tasks: int
    available_now: bool


class MapIncident(_Model):
    id: int
    resident_id: int
    cause: str
    priority: int
    status: str


class MapView(_Model):
    """What the operators' map draws: homes, stations with their 15-minute circles, open incidents."""

    coverage_min: float
    radius_m: float = Field(description="Straight-line radius of the coverage circle by the travel-time model.")
    model: str
    homes: list[MapHome] = Field(description="Located homes only.")
    stations: list[MapStation]
    incidents: list[MapIncident] = Field(description="Open incidents at located homes.")
