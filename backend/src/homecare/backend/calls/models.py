"""Calls as the API shows them: the record on the incident, what the console needs to place one, callbacks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from homecare.backend.calls.settings import IceServer
from homecare.backend.inputs import RowId, Text


class CallState(enum.StrEnum):
    CALLING = "calling"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


class CallOutcome(enum.StrEnum):
    COMPLETED = "completed"
    REFUSED = "refused"
    FAILED = "failed"
    DROPPED = "dropped"
    NO_ANSWER = "no_answer"


class Call(BaseModel):
    """One call on an incident's record."""

    id: str
    incident_id: int
    resident_id: int
    device_uid: str
    started_by: str
    started_by_name: str | None = Field(default=None, description="The caller's display name.")
    video: bool
    state: CallState
    outcome: CallOutcome | None
    ended_by: str | None = Field(description="Who hung up: a user name, 'home_unit', or 'system'.")
    end_reason: str | None
    started_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None = Field(description="Talk time, answer to end; None when never answered.")
    recorded: bool


class PlacedCall(BaseModel):
    """A call just placed: the record and where the console's browser signals."""

    call: Call
    signal_path: str = Field(description="The WebSocket path the console opens for the offer/answer exchange.")
    ice_servers: list[IceServer]


class Contact(BaseModel):
    id: int
    name: str
    relation: str | None
    phone: str | None


class CallSetup(BaseModel):
    """What the console's call panel needs before calling: ICE servers, whether video is allowed, whom to ring."""

    ice_servers: list[IceServer]
    home_unit: str | None = Field(description="The uid of the home unit a call goes to; None: the home has none.")
    home_unit_online: bool | None = Field(
        default=None,
        description="Whether the home unit is online now (the devices page's rule); None: never heard from.",
    )
    home_unit_last_contact: datetime | None = None
    video_consented: bool
    recording: bool = Field(description="Calls are recorded for audit in this deployment.")
    contacts: list[Contact]


class StartCallBody(BaseModel):
    video: bool = Field(default=False, description="Ask for the home unit's camera; only with the resident's consent.")
    auto_answer: bool = Field(default=True, description="The home unit answers by itself (after an alarm).")


class HangupBody(BaseModel):
    reason: Text | None = Field(default=None, max_length=500)


class FamilyCallbackBody(BaseModel):
    contact_id: RowId
    outcome: Literal["reached", "no_answer"]
    note: Text | None = Field(default=None, max_length=500)
