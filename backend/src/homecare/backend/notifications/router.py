"""HTTP routes for the messages sent about an incident and their delivery attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from homecare.backend.deps import ConnDep, StaffActor
from homecare.backend.inputs import BigRowId
from homecare.backend.notifications import service
from homecare.backend.notifications.models import Notification

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get(
    "",
    summary="Messages about an incident (family, staff, supervisor, webhooks) and their delivery",
    responses={404: {"description": "No such incident."}},
)
async def list_notifications(
    actor: StaffActor,
    conn: ConnDep,
    incident_id: Annotated[BigRowId, Query(description="The incident's id.")],
) -> list[Notification]:
    return await service.incident_notifications(conn, actor=actor.name, incident_id=incident_id)


@router.post(
    "/{notification_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Give a failed message one more attempt",
    responses={404: {"description": "No such message."}, 409: {"description": "The message has not failed."}},
)
async def retry_notification(
    actor: StaffActor,
    conn: ConnDep,
    notification_id: Annotated[BigRowId, Path(description="The message's (delivery) id.")],
) -> None:
    await service.retry_notification(conn, actor=actor.name, notification_id=notification_id)
