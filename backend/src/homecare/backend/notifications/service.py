"""Deciding who is told what: notify_incident enqueues messages in the caller's transaction; reads for the API."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from homecare.backend.notifications import IncidentNotFound, NotificationNotFound, NotRetryable
from homecare.backend.notifications import repository as repo
from homecare.backend.notifications.messages import compose, compose_missed_dose
from homecare.backend.notifications.models import Attempt, Notification
from homecare.backend.notifications.repository import NewMessage
from homecare.backend.notifications.settings import NotificationSettings
from homecare.backend.residents.repository import record_access
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)

Audience = Literal["family", "staff", "supervisor"]
CHANGE_BATCH: Final = 200
MAX_REASON: Final = 1000


async def notify_incident(conn: Conn, *, incident_id: int, audience: Audience, reason: str) -> int:
    """Enqueue one message per recipient of ``audience`` about the incident, atomically with the caller's work;
    how many were queued (0: nobody to tell, which the caller records as a problem, never as done).

    family: the resident's contacts with ``notify`` set and an e-mail address (each address once);
    staff / supervisor: the subscribed e-mail addresses and webhook endpoints (from the notification
    settings, written to ``notification_subscriptions`` when the delivery worker starts).
    ``reason`` is a code (``messages.REASONS``: alarm, escalated, dispatched, no_station, emergency_medical, …),
    shown translated in the subject, or free text, quoted in the body (the subject then names the incident's
    stage). The content is rendered now, from the incident as this
    transaction sees it. Nothing is sent here: the delivery worker sends after the caller commits, and
    nothing at all if the caller rolls back. Raises ``IncidentNotFound``.
    """
    reason = reason.strip()[:MAX_REASON] or "alarm"
    async with conn.transaction():  # a savepoint inside the caller's transaction, or a transaction of its own
        incident = await repo.incident_snapshot(conn, incident_id=incident_id)
        if incident is None:
            raise IncidentNotFound(incident_id)
        if audience == "family":
            emails = await repo.family_emails(conn, resident_id=incident.resident_id)
            recipients = [("email", address) for address in emails]
        else:
            recipients = await repo.subscribers(conn, audience=audience)
        if not recipients:
            log.warning("incident %d: nobody to notify in audience %s (%s)", incident_id, audience, reason)
            return 0
        composed = compose(incident, audience=audience, reason=reason)
        await repo.enqueue(
            conn,
            messages=[
                NewMessage(
                    incident_id=incident_id,
                    audience=audience,
                    channel=channel,
                    recipient=address,
                    reason=reason,
                    subject=composed.subject,
                    body=composed.body,
                    payload=composed.payload,
                )
                for channel, address in recipients
            ],
        )
        return len(recipients)


async def notify_family_of_dose(
    conn: Conn, *, dose_id: int, resident_id: int, resident_name: str, medicine: str, due_at: datetime, zone: ZoneInfo
) -> int:
    """Enqueue a message about a medication dose nobody confirmed to each of the resident's notified family
    addresses, in the caller's transaction; how many (0: nobody to tell, which the dose records as such)."""
    emails = await repo.family_emails(conn, resident_id=resident_id)
    composed = compose_missed_dose(resident_name=resident_name, medicine=medicine, due_at=due_at, zone=zone)
    await repo.enqueue(
        conn,
        messages=[
            NewMessage(
                incident_id=None,
                dose_id=dose_id,
                audience="family",
                channel="email",
                recipient=address,
                reason="missed_dose",
                subject=composed.subject,
                body=composed.body,
                payload={**composed.payload, "resident_id": resident_id, "dose_id": dose_id},
            )
            for address in emails
        ],
    )
    return len(emails)


async def sync_subscriptions(conn: Conn, *, settings: NotificationSettings) -> None:
    """Write the configured staff/supervisor recipients and change subscribers to the database."""
    rows: list[tuple[str, str, str]] = [("staff", "email", a) for a in settings.staff_emails]
    rows += [("supervisor", "email", a) for a in settings.supervisor_emails]
    rows += [(audience, "webhook", w.name) for w in settings.webhooks for audience in sorted(w.audiences)]
    async with conn.transaction():
        await repo.replace_config_subscriptions(conn, rows=rows)


async def relay_changes(conn: Conn, *, batch: int = CHANGE_BATCH) -> int:
    """Enqueue a webhook per new incident change for each endpoint subscribed to changes; how many changes read.

    The cursor row is locked for the transaction, so two backends never relay the same change twice.
    """
    async with conn.transaction():
        last_id = await repo.lock_changes_cursor(conn)
        changes = await repo.changes_after(conn, after_id=last_id, limit=batch)
        if not changes:
            return 0
        subscribed = await repo.subscribers(conn, audience="changes")
        endpoints = [address for channel, address in subscribed if channel == "webhook"]
        await repo.enqueue(
            conn,
            messages=[
                NewMessage(
                    incident_id=change.incident_id,
                    audience="changes",
                    channel="webhook",
                    recipient=endpoint,
                    reason=change.change,
                    subject=f"incident {change.incident_id}: {change.change}",
                    body="",
                    payload={
                        "type": "incident.change",
                        "change_id": change.id,
                        "change": change.change,
                        "at": change.at.isoformat(),
                        "incident": change.snapshot,
                    },
                )
                for change in changes
                for endpoint in endpoints
            ],
        )
        await repo.move_changes_cursor(conn, last_id=changes[-1].id)
        return len(changes)


async def retry_notification(conn: Conn, *, actor: str, notification_id: int) -> None:
    """Give a failed message one more attempt (after fixing an address or the SMTP settings, say); logged.

    Raises ``NotificationNotFound``, or ``NotRetryable`` unless the message has failed.
    """
    async with conn.transaction():
        before = await repo.requeue_failed(conn, outbox_id=notification_id)
        if before is None:
            raise NotificationNotFound(notification_id)
        if before != "failed":
            raise NotRetryable(f"notification {notification_id} is {before}; only a failed one can be retried")
        await record_access(
            conn, actor=actor, resident_id=None, action="notifications.retry", detail={"id": notification_id}
        )


async def incident_notifications(conn: Conn, *, actor: str, incident_id: int) -> list[Notification]:
    """Every message about an incident with its delivery attempts, oldest first; the read is logged
    against the resident (the list shows their family's addresses). Raises ``IncidentNotFound``."""
    async with conn.transaction():
        incident = await repo.incident_snapshot(conn, incident_id=incident_id)
        if incident is None:
            raise IncidentNotFound(incident_id)
        rows = await repo.outbox_for_incident(conn, incident_id=incident_id)
        attempts = await repo.attempts_for(conn, outbox_ids=[r.id for r in rows])
        await record_access(
            conn,
            actor=actor,
            resident_id=incident.resident_id,
            action="notifications.list",
            detail={"incident_id": incident_id},
        )
    by_row: dict[int, list[Attempt]] = {}
    for a in attempts:
        by_row.setdefault(a.outbox_id, []).append(
            Attempt(
                attempt=a.attempt,
                started_at=a.started_at,
                finished_at=a.finished_at,
                ok=a.ok,
                permanent=a.permanent,
                detail=a.detail,
            )
        )
    return [
        Notification(
            id=r.id,
            incident_id=incident_id,
            audience=r.audience,
            channel=r.channel,
            recipient=r.recipient,
            reason=r.reason,
            subject=r.subject,
            status=r.status,
            attempts=r.attempts,
            created_at=r.created_at,
            next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
            sent_at=r.sent_at,
            failed_at=r.failed_at,
            last_error=r.last_error,
            history=by_row.get(r.id, []),
        )
        for r in rows
    ]
