"""Incident lifecycle: signals open or fold into incidents; every transition is attributed, stored and fed live."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from homecare.backend.accounts.models import Actor
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.devices.repository import queue_resident_command
from homecare.backend.incidents import IncidentNotFound, InvalidTransition
from homecare.backend.incidents import repository as repo
from homecare.backend.incidents.models import (
    CLOSED,
    Change,
    Incident,
    IncidentDetail,
    Outcome,
    Status,
    why,
)
from homecare.backend.incidents.policy import Audience, Escalation, FamilyStep
from homecare.backend.residents.access import open_resident
from homecare.contracts.messages import DeviceKind, Track
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)

TRACK_INTERVAL_S: Final = 15
TRACK_FOR_S: Final = 2 * 3600
"""While an alarm of its wearer is open a GPS watch sends a fix every 15 s, for at most 2 h should the stop be lost."""
SYSTEM: Final = "system"
RESIDENT: Final = "resident"  # the resident, through a device ("I'm OK")

# Which statuses each operator action may start from.
_ACKNOWLEDGEABLE: Final = frozenset({Status.PRE_ALARM, Status.OPEN})
_CALLABLE: Final = frozenset({Status.OPEN, Status.ACKNOWLEDGED})
_CANCELLABLE: Final = frozenset({Status.PRE_ALARM, Status.OPEN, Status.ACKNOWLEDGED, Status.IN_CALL})


@dataclass(frozen=True, slots=True)
class Applied:
    """What a signal did: the incident it touched (if any) and the kind of change."""

    incident_id: int | None
    change: str  # opened, folded, cancelled, noted, ignored


# --- the building blocks every change goes through -------------------------------------------------


async def load_for_update(conn: Conn, *, incident_id: int) -> Incident:
    """The incident, inside a transaction that holds the incident-writes lock."""
    await repo.lock_incident_writes(conn)
    incident = await repo.get_incident(conn, incident_id=incident_id)
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


async def record(
    conn: Conn,
    *,
    incident: Incident,
    now: datetime,
    actor: str,
    change: str,
    to: Status | None = None,
    reason: str | None = None,
    because: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Apply ``fields`` (and the new status), store the attributed transition and append the feed row.

    ``reason`` is a person's own words (a note); ``because`` the platform's, as a code with parameters (``why``).
    A step that does not change the status (an escalation, a note) is stored as a transition from the status
    to itself, so the audit trail holds every step in one place.
    """
    status = to or incident.status
    if to is not None:
        fields["status"] = to.value
    if fields:
        await repo.update_incident(conn, incident_id=incident.id, **fields)
    await repo.insert_transition(
        conn,
        incident_id=incident.id,
        at=now,
        from_status=incident.status.value,
        to_status=status.value,
        actor=actor,
        reason=reason,
        detail={"change": change, **(detail or {}), **({"why": because} if because else {})},
    )
    await repo.append_change(conn, incident_id=incident.id, at=now, change=change)


async def track_watches(conn: Conn, *, incident: Incident, tracking: bool) -> None:
    """Tell the resident's GPS watches (a ``track`` command) to send fixes often now that this alarm is open, or,
    when it closed and no other alarm of theirs is open, to return to their own schedule."""
    if not tracking and await repo.other_alarm_open(conn, resident_id=incident.resident_id, incident_id=incident.id):
        return
    body = Track(interval_s=TRACK_INTERVAL_S, for_s=TRACK_FOR_S if tracking else 0, incident_id=incident.id)
    await queue_resident_command(
        conn,
        resident_id=incident.resident_id,
        incident_id=incident.id,
        body=body.model_dump(mode="json"),
        kind=DeviceKind.GPS_WATCH.value,
    )


async def notify(conn: Conn, *, escalation: Escalation, incident: Incident, audience: Audience, reason: str) -> int:
    """Ask the notifications package to tell someone, in this transaction; how many messages were queued.
    0 means nobody was told (no recipient, or the notifier failed): callers record that as a problem."""
    if escalation.notify is None:
        return 0
    try:
        async with conn.transaction():  # a savepoint: a notifier failure must not undo the incident change
            return await escalation.notify(conn, incident_id=incident.id, audience=audience, reason=reason)
    except Exception:
        log.exception("could not enqueue a %s notification for incident %d", audience, incident.id)
        return 0


def told(audience: str, count: int) -> dict[str, Any]:
    """The reason for a notification step: who was told, or — a problem the operator must see — nobody."""
    return why("told" if count else "nobody_told", audience=audience, n=count)


async def tell_family_if_policy_says(
    conn: Conn, *, escalation: Escalation, incident: Incident, step: FamilyStep, now: datetime, notice: str
) -> None:
    """Tell the family when the policy says so at this step; ``notice`` is the message's reason code
    (``homecare.backend.notifications.messages.REASONS``). The trail says whether anyone was told."""
    policy = escalation.policies.named(incident.policy, incident.priority)
    if step not in policy.family_at:
        return
    count = await notify(conn, escalation=escalation, incident=incident, audience="family", reason=notice)
    await repo.insert_transition(
        conn,
        incident_id=incident.id,
        at=now,
        from_status=incident.status.value,
        to_status=incident.status.value,
        actor=SYSTEM,
        reason=None,
        detail={
            "change": "notified" if count else "not_notified",
            "audience": "family",
            "step": step.value,
            "notified": {"family": count},
            "policy": policy.name,
            "why": told("family", count),
        },
    )


async def _close_open_work(conn: Conn, *, incident_id: int, now: datetime, task_status: str) -> None:
    await repo.cancel_timers(
        conn, incident_id=incident_id, kinds=["recovery", "acknowledge", "station_accept"], now=now
    )
    await conn.execute(
        "UPDATE station_tasks SET status = CASE WHEN status = 'offered' THEN 'withdrawn' ELSE %s END, "
        "closed_at = %s WHERE incident_id = %s AND status IN ('offered', 'accepted', 'en_route', 'on_scene')",
        (task_status, now, incident_id),
    )


async def _start_acknowledge_clock(conn: Conn, *, escalation: Escalation, incident: Incident, now: datetime) -> None:
    policy = escalation.policies.named(incident.policy, incident.priority)
    await repo.add_timer(
        conn,
        incident_id=incident.id,
        kind="acknowledge",
        due_at=now + timedelta(seconds=policy.acknowledge.within_s),
        now=now,
    )


# --- signals -------------------------------------------------------------------------------------


async def apply_signal(conn: Conn, *, signal: Signal, now: datetime, escalation: Escalation) -> Applied:
    """Turn a detector's signal into an incident change, in one transaction (a savepoint inside the caller's).

    ALARM and PRE_ALARM open an incident, or fold into the resident's open incident of that cause
    (count and last seen; a more urgent repeat raises the priority). CANCEL cancels a pre-alarm that is
    still counting down; once the alarm stands it only adds the resident's word as a note, because a
    human has to close it. CLEAR adds a note; a human still resolves.
    """
    async with conn.transaction():
        await repo.lock_incident_writes(conn)
        existing = await _find_open_of_kind(conn, resident_id=signal.resident_id, cause=signal.cause)
        detail = {
            "signal": signal.kind.value,
            "event_id": signal.event_id,
            "device_id": signal.device_id,
            "detected_at": signal.detected_at.isoformat(),
        }
        actor = "device" if signal.event_id is not None else SYSTEM
        if signal.kind in (SignalKind.ALARM, SignalKind.PRE_ALARM):
            if existing is None:
                return Applied(
                    await _open(conn, signal=signal, now=now, escalation=escalation, actor=actor, detail=detail),
                    "opened",
                )
            await _fold(conn, incident=existing, signal=signal, now=now, actor=actor, detail=detail)
            return Applied(existing.id, "folded")
        if existing is None:
            return Applied(None, "ignored")
        late = existing.recovery_deadline is not None and now > existing.recovery_deadline
        if signal.kind is SignalKind.CANCEL and existing.status is Status.PRE_ALARM and late:
            # "I'm OK" after the window (its timer had not fired yet): the alarm stands, with her word noted.
            await raise_alarm(conn, incident=existing, now=existing.recovery_deadline or now, escalation=escalation)
            existing = await _get(conn, existing.id)
        if signal.kind is SignalKind.CANCEL and existing.status is Status.PRE_ALARM:
            await _close_open_work(conn, incident_id=existing.id, now=now, task_status="done")
            await record(
                conn,
                incident=existing,
                now=now,
                actor=RESIDENT,
                change="cancelled",
                to=Status.CANCELLED,
                because=why("cancelled_in_window", zh=signal.explanation_zh, en=signal.explanation_en),
                detail=detail,
                closed_at=now,
                outcome=Outcome.CANCELLED_BY_RESIDENT.value,
            )
            return Applied(existing.id, "cancelled")
        code = "resident_ok" if signal.kind is SignalKind.CANCEL else "cleared"
        await record(
            conn,
            incident=existing,
            now=now,
            actor=actor if signal.kind is SignalKind.CLEAR else RESIDENT,
            change="noted",
            because=why(code, zh=signal.explanation_zh, en=signal.explanation_en),
            detail=detail,
            last_seen_at=now,
        )
        return Applied(existing.id, "noted")


async def _fold(
    conn: Conn, *, incident: Incident, signal: Signal, now: datetime, actor: str, detail: dict[str, Any]
) -> None:
    """A repeat of the open incident's alarm: counted on the incident and on ONE trail line, which always holds
    the number of repeats and the latest words (a reading every 30 s must not bury the record); a repeat
    that is more urgent raises the priority, a line of its own."""
    count = incident.repeat_count + 1
    fields: dict[str, Any] = {"repeat_count": count, "last_seen_at": now}
    raised = signal.priority < incident.priority
    if raised:
        fields["priority"] = int(signal.priority)
    await repo.update_incident(conn, incident_id=incident.id, **fields)
    repeats = count - 1
    line = {
        "change": "folded",
        **detail,
        "repeats": repeats,
        "last_at": now.isoformat(),
        "why": why("repeats", n=repeats, at=now.isoformat(), zh=signal.explanation_zh, en=signal.explanation_en),
    }
    if not await repo.update_fold_line(conn, incident_id=incident.id, detail=line):
        await repo.insert_transition(
            conn,
            incident_id=incident.id,
            at=now,
            from_status=incident.status.value,
            to_status=incident.status.value,
            actor=actor,
            reason=None,
            detail=line,
        )
    if raised:
        await repo.insert_transition(
            conn,
            incident_id=incident.id,
            at=now,
            from_status=incident.status.value,
            to_status=incident.status.value,
            actor=actor,
            reason=None,
            detail={"change": "reprioritised", "why": why("priority_raised", priority=int(signal.priority))},
        )
    await repo.append_change(conn, incident_id=incident.id, at=now, change="folded")


# Causes that describe one happening seen by different devices: the wristband's fall and the ceiling
# radar's fall of the same person are one incident for the operator, not two.
SAME_HAPPENING: Final = (frozenset({Cause.FALL, Cause.FALL_CONFIRMED}),)


async def _find_open_of_kind(conn: Conn, *, resident_id: int, cause: Cause) -> Incident | None:
    """The resident's open incident of this cause, or of a cause that names the same happening."""
    kin = next((group for group in SAME_HAPPENING if cause in group), frozenset({cause}))
    for candidate in sorted(kin, key=lambda c: c is not cause):  # its own cause first
        existing = await repo.find_open(conn, resident_id=resident_id, cause=candidate.value)
        if existing is not None:
            return existing
    return None


async def _open(
    conn: Conn, *, signal: Signal, now: datetime, escalation: Escalation, actor: str, detail: dict[str, Any]
) -> int:
    policy = escalation.policies.for_priority(int(signal.priority))
    window = signal.recovery_window_s if signal.kind is SignalKind.PRE_ALARM else None
    pre_alarm = window is not None and window > 0
    deadline = now + timedelta(seconds=window) if pre_alarm and window is not None else None
    incident_id = await repo.insert_incident(
        conn,
        resident_id=signal.resident_id,
        cause=signal.cause.value,
        priority=int(signal.priority),
        status=(Status.PRE_ALARM if pre_alarm else Status.OPEN).value,
        explanation_en=signal.explanation_en,
        explanation_zh=signal.explanation_zh,
        opened_at=now,
        alarm_at=None if pre_alarm else now,
        recovery_deadline=deadline,
        last_seen_at=now,
        device_id=signal.device_id,
        event_id=signal.event_id,
        policy=policy.name,
    )
    incident = await repo.get_incident(conn, incident_id=incident_id)
    assert incident is not None
    await repo.insert_transition(
        conn,
        incident_id=incident_id,
        at=now,
        from_status=None,
        to_status=incident.status.value,
        actor=actor,
        reason=None,
        detail={
            "change": "opened",
            "policy": policy.name,
            **detail,
            "why": why("signal", zh=signal.explanation_zh, en=signal.explanation_en),
        },
    )
    await repo.append_change(conn, incident_id=incident_id, at=now, change="opened")
    if deadline is not None:
        await repo.add_timer(conn, incident_id=incident_id, kind="recovery", due_at=deadline, now=now)
    else:
        await _start_acknowledge_clock(conn, escalation=escalation, incident=incident, now=now)
        await tell_family_if_policy_says(
            conn, escalation=escalation, incident=incident, step=FamilyStep.ALARM, now=now, notice="alarm"
        )
        await track_watches(conn, incident=incident, tracking=True)
    return incident_id


async def raise_alarm(conn: Conn, *, incident: Incident, now: datetime, escalation: Escalation) -> None:
    """The recovery window ran out without "I'm OK": the pre-alarm becomes an alarm (timer's transaction)."""
    await record(
        conn,
        incident=incident,
        now=now,
        actor=SYSTEM,
        change="alarm",
        to=Status.OPEN,
        because=why("no_im_ok"),
        alarm_at=now,
    )
    await _start_acknowledge_clock(conn, escalation=escalation, incident=incident, now=now)
    await tell_family_if_policy_says(
        conn, escalation=escalation, incident=incident, step=FamilyStep.ALARM, now=now, notice="alarm"
    )
    await track_watches(conn, incident=incident, tracking=True)


async def reprioritise(
    conn: Conn,
    *,
    incident_id: int,
    priority: int,
    now: datetime,
    actor: str,
    because: dict[str, Any],
    detail: dict[str, Any] | None = None,
) -> None:
    """Change the priority (a model confirmed or rejected a fall), keeping the incident in front of people."""
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status in CLOSED:
            return
        await record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="reprioritised",
            because=because,
            detail=detail,
            priority=priority,
        )


# --- operator actions ----------------------------------------------------------------------------


def _refuse(incident: Incident, action: str, allowed: frozenset[Status]) -> InvalidTransition:
    return InvalidTransition(
        f"cannot {action} incident {incident.id}: it is {incident.status.value}; "
        f"allowed from {', '.join(sorted(s.value for s in allowed))}"
    )


async def acknowledge(conn: Conn, *, incident_id: int, actor: str, now: datetime, note: str | None = None) -> Incident:
    """An operator takes the incident: the acknowledge clock stops (as does a running recovery countdown)."""
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status not in _ACKNOWLEDGEABLE:
            raise _refuse(incident, "acknowledge", _ACKNOWLEDGEABLE)
        await repo.cancel_timers(conn, incident_id=incident_id, kinds=["acknowledge", "recovery"], now=now)
        await record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="acknowledged",
            to=Status.ACKNOWLEDGED,
            reason=note,
            acknowledged_at=now,
            acknowledged_by=actor,
            alarm_at=incident.alarm_at or now,
        )
    return await _get(conn, incident_id)


async def start_call(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    note: str | None = None,
    because: dict[str, Any] | None = None,
) -> Incident:
    """The operator calls the home (acknowledging it, if nobody has)."""
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status not in _CALLABLE:
            raise _refuse(incident, "start a call on", _CALLABLE)
        fields: dict[str, Any] = {}
        if incident.acknowledged_at is None:
            await repo.cancel_timers(conn, incident_id=incident_id, kinds=["acknowledge"], now=now)
            fields = {"acknowledged_at": now, "acknowledged_by": actor}
        await record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="in_call",
            to=Status.IN_CALL,
            reason=note,
            because=because,
            **fields,
        )
    return await _get(conn, incident_id)


async def add_note(conn: Conn, *, incident_id: int, actor: str, note: str, now: datetime) -> Incident:
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        await record(conn, incident=incident, now=now, actor=actor, change="noted", reason=note)
    return await _get(conn, incident_id)


async def _close(
    conn: Conn,
    *,
    incident: Incident,
    actor: str,
    now: datetime,
    escalation: Escalation,
    note: str | None,
    step: Literal[FamilyStep.RESOLVED, FamilyStep.CANCELLED],
    outcome: Outcome,
    detail: dict[str, Any] | None = None,
) -> None:
    """Close an incident held for update as ``step`` says (resolved or cancelled, the status and the trail's change
    of that name): its open station work done, the family told when the policy says so at that step, the resident's
    watches back to their own schedule."""
    await _close_open_work(conn, incident_id=incident.id, now=now, task_status="done")
    await record(
        conn,
        incident=incident,
        now=now,
        actor=actor,
        change=step.value,
        to=Status(step.value),
        reason=note,
        detail=detail,
        closed_at=now,
        outcome=outcome.value,
        attention=None,
    )
    closed = await _get(conn, incident.id)
    await tell_family_if_policy_says(
        conn, escalation=escalation, incident=closed, step=step, now=now, notice=step.value
    )
    if incident.status is not Status.PRE_ALARM:  # a pre-alarm never started the watch tracking
        await track_watches(conn, incident=closed, tracking=False)


async def resolve(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    outcome: Outcome,
    now: datetime,
    escalation: Escalation,
    note: str | None = None,
) -> Incident:
    """Close the incident with its outcome; open station work is closed (offers withdrawn)."""
    if outcome is Outcome.CANCELLED_BY_RESIDENT:
        raise InvalidTransition("use cancel for an incident the resident called off")
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status in CLOSED:
            raise InvalidTransition(f"incident {incident_id} is already {incident.status.value}")
        await _close(
            conn,
            incident=incident,
            actor=actor,
            now=now,
            escalation=escalation,
            note=note,
            step=FamilyStep.RESOLVED,
            outcome=outcome,
            detail={"outcome": outcome.value},
        )
    return await _get(conn, incident_id)


async def cancel(
    conn: Conn, *, incident_id: int, actor: str, now: datetime, escalation: Escalation, note: str | None = None
) -> Incident:
    """Record that the resident called it off (told the operator, say); recorded as the operator's action."""
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status not in _CANCELLABLE:
            raise _refuse(incident, "cancel", _CANCELLABLE)
        await _close(
            conn,
            incident=incident,
            actor=actor,
            now=now,
            escalation=escalation,
            note=note,
            step=FamilyStep.CANCELLED,
            outcome=Outcome.CANCELLED_BY_RESIDENT,
        )
    return await _get(conn, incident_id)


# Which notification reason code names each stage, when the operator tells the family without words of their own.
_STAGE_REASON: Final = {
    Status.OPEN: "alarm",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.IN_CALL: "acknowledged",
    Status.DISPATCHED: "dispatched",
    Status.ON_SCENE: "on_scene",
    Status.RESOLVED: "resolved",
    Status.CANCELLED: "cancelled",
}


async def tell_family_now(
    conn: Conn,
    *,
    incident_id: int,
    actor: str,
    now: datetime,
    escalation: Escalation,
    note: str | None = None,
) -> Incident:
    """The operator tells the family now, whatever the policy says; recorded on the audit trail with how many
    messages were queued, or as a problem when nobody could be told. Refused during a pre-alarm: the resident
    may still call it off."""
    async with conn.transaction():
        incident = await load_for_update(conn, incident_id=incident_id)
        if incident.status is Status.PRE_ALARM:
            raise InvalidTransition(f"cannot tell the family about incident {incident_id}: it is still a pre-alarm")
        words = note.strip() if note and note.strip() else None
        reason = words or _STAGE_REASON[incident.status]
        count = await notify(conn, escalation=escalation, incident=incident, audience="family", reason=reason)
        await record(
            conn,
            incident=incident,
            now=now,
            actor=actor,
            change="family_notified" if count else "not_notified",
            reason=words,
            because=told("family", count),
            detail={"audience": "family", "notified": {"family": count}},
        )
    return await _get(conn, incident_id)


# --- reads ---------------------------------------------------------------------------------------


async def _get(conn: Conn, incident_id: int) -> Incident:
    incident = await repo.get_incident(conn, incident_id=incident_id)
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


async def get_incident(conn: Conn, *, incident_id: int) -> Incident:
    return await _get(conn, incident_id)


async def incident_detail(conn: Conn, *, incident_id: int, actor: Actor) -> IncidentDetail:
    """The incident with its audit trail, tasks and trigger; opening it is an opening of the resident's record."""
    async with conn.transaction():
        incident = await _get(conn, incident_id)
        await open_resident(
            conn,
            actor=actor,
            resident_id=incident.resident_id,
            action="incident.detail",
            detail={"incident_id": incident_id},
        )
        transitions = await repo.transitions_of(conn, incident_id=incident_id)
        tasks = await repo.tasks_of(conn, incident_id=incident_id)
        trigger = await repo.trigger_of(conn, incident_id=incident_id)
    return IncidentDetail(incident=incident, transitions=transitions, tasks=tasks, trigger=trigger)


async def open_queue(conn: Conn, *, limit: int = 200, include_pre_alarms: bool = True) -> list[Incident]:
    """The operators' queue: open incidents by priority, then age."""
    return await repo.queue(conn, limit=limit, include_pre_alarms=include_pre_alarms)


async def changes_after(conn: Conn, *, after: int, limit: int = 500) -> list[Change]:
    return await repo.changes_after(conn, after=after, limit=limit)


async def last_change_id(conn: Conn) -> int:
    return await repo.last_change_id(conn)
