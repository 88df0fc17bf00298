"""Models of the station view: the station now, its tasks with what a responder needs at the door, the roster."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from homecare.backend.dispatch.models import StationStatus
from homecare.backend.incidents.models import UtcDatetime


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class TaskResident(_Model):
    """Who the task is for and how to get in."""

    id: int
    name: str
    address: str | None
    access_notes: str | None
    phone: str | None


class StationTaskItem(_Model):
    """One task of the station, with its incident."""

    id: int
    incident_id: int
    status: str = Field(
        description="offered, accepted, en_route, on_scene, or (closed) done, declined, timed_out, withdrawn."
    )
    travel_min: float | None = Field(description="Estimated travel time to the home, minutes.")
    offered_at: UtcDatetime
    accepted_at: UtcDatetime | None
    on_scene_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    responder: str | None
    responder_name: str | None = Field(default=None, description="The responder's display name.")
    note: str | None
    cause: str
    priority: int
    incident_status: str
    opened_at: UtcDatetime
    explanation_en: str
    explanation_zh: str
    resident: TaskResident


class RosterMember(_Model):
    user_id: int
    display_name: str
    phone: str | None
    on_duty: bool
    me: bool = Field(description="The signed-in user.")


class StationView(_Model):
    """What a station's responders see: the station now, its tasks (active first, then today's closed ones)."""

    station: StationStatus
    tasks: list[StationTaskItem]
    roster: list[RosterMember]
    on_duty_count: int
    version: str = Field(description="Also sent as the ETag: poll with If-None-Match to get 304 when unchanged.")
    now: UtcDatetime


class DutyBody(_Model):
    on_duty: bool
