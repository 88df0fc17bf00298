"""Incident vocabulary (statuses, outcomes) and the models the API and the live feed carry."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from homecare.backend.inputs import Text


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class Status(enum.StrEnum):
    """Where an incident is in its lifecycle."""

    PRE_ALARM = "pre_alarm"
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_CALL = "in_call"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


CLOSED: Final = frozenset({Status.RESOLVED, Status.CANCELLED})
ALARMS: Final = sorted(status.value for status in Status if status not in CLOSED and status is not Status.PRE_ALARM)
"""Incidents that are alarms now: a pre-alarm (a fall waiting for the resident to recover) is not one yet."""

Attention = Literal["dispatch_failed"]
"""What is left to do that the platform could not do: nobody is on the way after a dispatch failed."""


def why(code: str, **params: Any) -> dict[str, Any]:
    """A reason the platform writes for people, as a code with its parameters (never words in one language):
    kept in a transition's ``detail`` and worded in the reader's language by the pages (``why.<code>`` in
    ``web/static/js/labels.js``). Parameters named ``zh`` and ``en`` carry a detector's own words in both."""
    return {"code": code, "params": params}


class Outcome(enum.StrEnum):
    """How an incident ended."""

    FALSE_ALARM = "false_alarm"
    NO_INJURY = "no_injury"
    TREATED_AT_HOME = "treated_at_home"
    AMBULANCE = "ambulance"
    HOSPITAL = "hospital"
    DECEASED = "deceased"
    CANCELLED_BY_RESIDENT = "cancelled_by_resident"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Incident(_Model):
    """An incident as the queue, the detail screen and the live feed show it."""

    id: int
    resident_id: int
    resident_name: str | None = None
    cause: str
    priority: int = Field(description="1 is the most urgent (SCAIP).")
    status: Status
    explanation_en: str
    explanation_zh: str
    opened_at: UtcDatetime
    alarm_at: UtcDatetime | None
    recovery_deadline: UtcDatetime | None
    acknowledged_at: UtcDatetime | None
    acknowledged_by: str | None
    dispatched_at: UtcDatetime | None
    on_scene_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    outcome: Outcome | None
    station_id: int | None
    last_seen_at: UtcDatetime
    repeat_count: int
    device_id: int | None
    event_id: int | None
    escalation_level: int
    policy: str | None
    attention: Attention | None = Field(
        default=None, description="dispatch_failed: nobody is on the way after a dispatch; it heads the queue."
    )


class Transition(_Model):
    """One attributed step of the lifecycle (or an escalation, a note, a notification)."""

    id: int
    at: UtcDatetime
    from_status: str | None
    to_status: str
    actor: str
    actor_name: str | None = Field(default=None, description="The acting user's display name; None for the platform.")
    reason: str | None
    detail: dict[str, Any] | None


class StationTask(_Model):
    """A station asked to send a responder for an incident."""

    id: int
    incident_id: int
    station_id: int
    station_name: str | None = None
    status: str
    travel_min: float | None
    offered_at: UtcDatetime
    accepted_at: UtcDatetime | None
    on_scene_at: UtcDatetime | None
    closed_at: UtcDatetime | None
    responder: str | None
    responder_name: str | None = Field(default=None, description="The responder's display name.")
    note: str | None


class Trigger(_Model):
    """What raised the incident: the detector's signal, and the device and stored event behind it (if any).
    The detector's own words are the incident's ``explanation_en``/``explanation_zh``."""

    signal: str | None = Field(description="alarm or pre_alarm, as the detector raised it.")
    detected_at: UtcDatetime | None
    device_id: int | None
    device_uid: str | None
    device_kind: str | None
    event_id: int | None
    event_kind: str | None
    event_at: UtcDatetime | None = Field(description="The device's own time of the event.")
    received_at: UtcDatetime | None = Field(description="When the gateway stored it.")
    room: str | None
    confidence: float | None = Field(description="The device's confidence, for a detected fall.")


class IncidentDetail(_Model):
    """Everything about one incident: the incident, its audit trail, its station tasks and what triggered it."""

    incident: Incident
    transitions: list[Transition]
    tasks: list[StationTask]
    trigger: Trigger | None = None


class Change(_Model):
    """One row of the live feed: what happened to which incident, and the incident afterwards."""

    id: int = Field(description="The feed cursor: resume with ?after=<the last id seen>.")
    incident_id: int
    at: UtcDatetime
    change: str
    snapshot: dict[str, Any]


class ChangeCursor(_Model):
    id: int = Field(description="The newest change id (0: none yet); follow the feed with ?after=<id>.")


Actor = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=100,
        description="On whose behalf the service token acts; a signed-in user always acts as themselves.",
        examples=["operator Li Na"],
    ),
]
Note = Annotated[Text, Field(min_length=1, max_length=2000)]


class ActBody(_Model):
    """Who does it, and optionally why."""

    actor: Actor | None = None
    note: Text | None = Field(default=None, max_length=2000)


class NoteBody(_Model):
    actor: Actor | None = None
    note: Note


class NotifyFamilyBody(_Model):
    actor: Actor | None = None
    note: Text | None = Field(
        default=None,
        max_length=1000,
        description="Words for the family (quoted in the message); default: the current stage.",
    )


class ResolveBody(_Model):
    actor: Actor | None = None
    outcome: Outcome
    note: Text | None = Field(default=None, max_length=2000)
