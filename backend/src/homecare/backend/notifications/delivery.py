"""The delivery worker: sends due outbox rows under a row lock, retries with backoff, records every attempt.

A row is sent inside the transaction that locked it (``FOR UPDATE SKIP LOCKED``) and marked sent in
that same transaction, so concurrent senders — in this process or another backend — never send one
row at the same time, and a sent row is never picked again. On stop, senders finish the message in
hand and exit; pending rows wait in the table for the next start. The one window left is a crash
after the other side accepted a message and before the commit: the row is then sent again after the
restart (at least once, never lost); receivers can recognise the repeat by its delivery id
(``X-Homecare-Delivery``, or the e-mail's ``Message-ID``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from homecare.backend.metrics import BackendMetrics
from homecare.backend.notifications import PermanentDeliveryError, TransientDeliveryError
from homecare.backend.notifications import repository as repo
from homecare.backend.notifications.channels import Channel, OutboundMessage
from homecare.backend.notifications.mail import SmtpChannel
from homecare.backend.notifications.service import relay_changes, sync_subscriptions
from homecare.backend.notifications.settings import NotificationSettings
from homecare.backend.notifications.webhooks import WebhookChannel

log = logging.getLogger(__name__)


async def deliver_one(
    pool: AsyncConnectionPool[Any],
    *,
    settings: NotificationSettings,
    channels: Mapping[str, Channel],
    metrics: BackendMetrics,
) -> bool:
    """Send the oldest due message, if any, and record the outcome; whether there was one."""
    async with pool.connection() as conn, conn.transaction():
        row = await repo.claim_due(conn)
        if row is None:
            return False
        attempt = row.attempts + 1
        started = datetime.now(UTC)
        message = OutboundMessage(
            delivery_id=row.id,
            attempt=attempt,
            incident_id=row.incident_id,
            audience=row.audience,
            recipient=row.recipient,
            reason=row.reason,
            subject=row.subject,
            body=row.body,
            payload=row.payload,
        )
        ok, permanent = False, False
        channel = channels.get(row.channel)
        try:
            if channel is None:
                raise PermanentDeliveryError(f"no {row.channel} channel is configured")
            detail = await channel.send(message)
            ok = True
        except PermanentDeliveryError as err:
            detail, permanent = str(err), True
        except TransientDeliveryError as err:
            detail = str(err)
        except Exception as err:  # a bug in a channel must not stop the worker; retried like a transient error
            log.exception("notification %d: the %s channel failed unexpectedly", row.id, row.channel)
            detail = f"{type(err).__name__}: {err}"
        retry_in: float | None = None
        if not ok and not permanent and attempt < settings.max_attempts:
            retry_in = settings.backoff_s(attempt)
        if not ok:
            log.warning(
                "notification %d to %s (%s) attempt %d failed: %s%s",
                row.id,
                row.recipient,
                row.channel,
                attempt,
                detail,
                f"; retry in {retry_in:.1f} s" if retry_in is not None else "; giving up",
            )
        await repo.record_attempt(
            conn,
            outbox_id=row.id,
            attempt=attempt,
            started_at=started,
            ok=ok,
            permanent=permanent,
            detail=detail,
            retry_in_s=retry_in,
        )
    result = "delivered" if ok else "retry" if retry_in is not None else "failed"
    metrics.notifications.labels(row.channel, result).inc()  # once the attempt is on record
    return True


async def _pause(stop_event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop_event.wait(), timeout=seconds)


async def _sender(
    pool: AsyncConnectionPool[Any],
    *,
    settings: NotificationSettings,
    channels: Mapping[str, Channel],
    metrics: BackendMetrics,
    stop_event: asyncio.Event,
) -> None:
    while not stop_event.is_set():
        try:
            busy = await deliver_one(pool, settings=settings, channels=channels, metrics=metrics)
        except (psycopg.Error, PoolTimeout) as err:
            log.warning("notification delivery: database unavailable (%s); retrying", err)
            busy = False
        if not busy:
            await _pause(stop_event, settings.poll_interval_s)


async def _relay(pool: AsyncConnectionPool[Any], *, settings: NotificationSettings, stop_event: asyncio.Event) -> None:
    while not stop_event.is_set():
        try:
            async with pool.connection() as conn:
                read = await relay_changes(conn)
        except (psycopg.Error, PoolTimeout) as err:
            log.warning("incident change relay: database unavailable (%s); retrying", err)
            read = 0
        if not read:
            await _pause(stop_event, settings.poll_interval_s)


async def run_delivery(
    pool: AsyncConnectionPool[Any],
    *,
    settings: NotificationSettings,
    metrics: BackendMetrics,
    stop_event: asyncio.Event,
    channels: Mapping[str, Channel] | None = None,
) -> None:
    """Send notifications until ``stop_event`` is set; started in the app's lifespan.

    Writes the configured subscriptions first, then runs ``settings.concurrency`` senders and, when a
    webhook endpoint subscribes to incident changes, the change relay. ``channels`` adds or replaces
    channels by name (an SMS adapter, say); e-mail and webhook channels are built from the settings.
    """
    while not stop_event.is_set():
        try:
            async with pool.connection() as conn:
                await sync_subscriptions(conn, settings=settings)
            break
        except (psycopg.Error, PoolTimeout) as err:
            log.warning("notification subscriptions not written (%s); retrying", err)
            await _pause(stop_event, settings.poll_interval_s)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        available: dict[str, Channel] = {
            "email": SmtpChannel(settings),
            "webhook": WebhookChannel(settings, client),
        }
        available.update(channels or {})
        async with asyncio.TaskGroup() as group:
            for n in range(settings.concurrency):
                group.create_task(
                    _sender(pool, settings=settings, channels=available, metrics=metrics, stop_event=stop_event),
                    name=f"notification-sender-{n}",
                )
            if any("changes" in w.audiences for w in settings.webhooks):
                group.create_task(_relay(pool, settings=settings, stop_event=stop_event), name="incident-change-relay")
