"""HTTP routes for the messages sent about an incident and their delivery attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from homecare.backend.deps import ConnDep, StaffActor
from homecare.backend.notifications import IncidentNotFound, NotificationNotFound, NotRetryable, service
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
    incident_id: Annotated[int, Query(ge=1, le=2**63 - 1, description="The incident's id.")],
) -> list[Notification]:
    try:
        return await service.incident_notifications(conn, actor=actor.name, incident_id=incident_id)
    except IncidentNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err


@router.post(
    "/{notification_id}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Give a failed message one more attempt",
    responses={404: {"description": "No such message."}, 409: {"description": "The message has not failed."}},
)
async def retry_notification(
    actor: StaffActor,
    conn: ConnDep,
    notification_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The message's (delivery) id.")],
) -> None:
    try:
        await service.retry_notification(conn, actor=actor.name, notification_id=notification_id)
    except NotificationNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    except NotRetryable as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
