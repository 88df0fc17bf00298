"""Response models of the notifications read API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Attempt(_Model):
    """One delivery attempt."""

    attempt: int
    started_at: datetime
    finished_at: datetime
    ok: bool
    permanent: bool = Field(description="The failure cannot be fixed by retrying.")
    detail: str | None = Field(description="The other side's answer, or the error.")


class Notification(_Model):
    """One message to one recipient and what became of it."""

    id: int = Field(description="Delivery id; webhooks carry it as X-Homecare-Delivery.")
    incident_id: int
    audience: str = Field(examples=["family"])
    channel: str = Field(examples=["email"])
    recipient: str = Field(description="E-mail address or webhook endpoint name.")
    reason: str
    subject: str
    status: str = Field(description="pending, sent or failed.")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None
    history: list[Attempt]
