"""Durable escalation timers: a countdown ends, nobody acknowledged, a station did not accept."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from homecare.backend.dispatch import service as dispatch
from homecare.backend.incidents import repository as repo
from homecare.backend.incidents import service
from homecare.backend.incidents.models import Status, why
from homecare.backend.incidents.policy import Escalation, FamilyStep
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)


async def fire_due_timers(conn: Conn, *, now: datetime, escalation: Escalation, limit: int = 100) -> int:
    """Fire every timer due at ``now``, each in its own transaction; how many fired.

    A timer is claimed (marked fired) in the transaction that acts on it, so after a crash it either
    fired with its effects or is still pending: none is lost and none fires twice. The incident-writes
    lock is taken first, the order every incident transaction uses, so this cannot deadlock with them.
    """
    fired = 0
    for _ in range(limit):
        async with conn.transaction():
            await repo.lock_incident_writes(conn)
            timer = await repo.claim_due_timer(conn, now=now)
            if timer is None:
                return fired
            incident = await repo.get_incident(conn, incident_id=timer.incident_id)
            assert incident is not None
            if timer.kind == "recovery" and incident.status is Status.PRE_ALARM:
                await service.raise_alarm(conn, incident=incident, now=now, escalation=escalation)
            elif timer.kind == "acknowledge" and incident.status is Status.OPEN:
                await _unacknowledged(conn, incident_id=incident.id, step=timer.step, now=now, escalation=escalation)
            elif timer.kind == "station_accept" and timer.task_id is not None:
                await dispatch.time_out_task(conn, task_id=timer.task_id, now=now, escalation=escalation)
            fired += 1
    return fired


async def _unacknowledged(conn: Conn, *, incident_id: int, step: int, now: datetime, escalation: Escalation) -> None:
    incident = await service.load_for_update(conn, incident_id=incident_id)
    policy = escalation.policies.named(incident.policy, incident.priority)
    rule = policy.acknowledge
    waited = int((now - (incident.alarm_at or incident.opened_at)).total_seconds())
    notified = {
        a: await service.notify(conn, escalation=escalation, incident=incident, audience=a, reason="escalated")
        for a in rule.alert
    }
    await service.record(
        conn,
        incident=incident,
        now=now,
        actor=service.SYSTEM,
        change="escalated",
        because=why("unacknowledged", waited=waited, within=rule.within_s),
        detail={"step": step + 1, "audiences": list(rule.alert), "notified": notified, "policy": policy.name},
        escalation_level=incident.escalation_level + 1,
    )
    if step == 0:
        await service.tell_family_if_policy_says(
            conn, escalation=escalation, incident=incident, step=FamilyStep.UNACKNOWLEDGED, now=now, notice="escalated"
        )
    if step < rule.max_repeats:
        await repo.add_timer(
            conn,
            incident_id=incident.id,
            kind="acknowledge",
            step=step + 1,
            now=now,
            due_at=now + timedelta(seconds=rule.repeat_every_s),
        )
