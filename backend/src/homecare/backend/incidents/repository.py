"""SQL for incidents, their transitions, the change feed and the escalation timers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import class_row, dict_row, scalar_row
from psycopg.types.json import Jsonb

from homecare.backend.incidents.models import ALARMS, Change, Incident, StationTask, Transition, Trigger
from homecare.storage.connections import Conn
from homecare.storage.migrate import LOCK_NAMESPACE

INCIDENTS_LOCK: Final = 30

_INCIDENT_COLUMNS: Final = """
    i.id, i.resident_id, r.display_name AS resident_name, i.cause, i.priority, i.status, i.explanation_en,
    i.explanation_zh, i.opened_at, i.alarm_at, i.recovery_deadline, i.acknowledged_at, i.acknowledged_by,
    i.dispatched_at, i.on_scene_at, i.closed_at, i.outcome, i.station_id, i.last_seen_at, i.repeat_count,
    i.device_id, i.event_id, i.escalation_level, i.policy, i.attention
"""
_UPDATABLE: Final = frozenset(
    {
        "priority",
        "status",
        "explanation_en",
        "explanation_zh",
        "alarm_at",
        "recovery_deadline",
        "acknowledged_at",
        "acknowledged_by",
        "dispatched_at",
        "on_scene_at",
        "closed_at",
        "outcome",
        "station_id",
        "last_seen_at",
        "repeat_count",
        "escalation_level",
        "attention",
    }
)


async def lock_incident_writes(conn: Conn) -> None:
    """Serialise every transaction that changes incidents, until it commits.

    Two reasons: feed ids (bigserial) then commit in id order, so a client resuming after id N can never
    miss a change that commits later with a smaller id; and the one-open-per-cause check cannot race.
    Incident changes are a few per second at most, so one lock costs nothing measurable.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, INCIDENTS_LOCK))


async def get_incident(conn: Conn, *, incident_id: int) -> Incident | None:
    async with conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents i JOIN residents r ON r.id = i.resident_id WHERE i.id = %s",
            (incident_id,),
        )
        return await cur.fetchone()


async def find_open(conn: Conn, *, resident_id: int, cause: str) -> Incident | None:
    """The resident's open (not resolved or cancelled) incident of this cause, if any."""
    async with conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents i JOIN residents r ON r.id = i.resident_id "
            "WHERE i.resident_id = %s AND i.cause = %s AND i.status NOT IN ('resolved', 'cancelled')",
            (resident_id, cause),
        )
        return await cur.fetchone()


async def other_alarm_open(conn: Conn, *, resident_id: int, incident_id: int) -> bool:
    """Whether an incident of the resident other than this one is an alarm now."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT FROM incidents WHERE resident_id = %s AND id <> %s AND status = ANY(%s))",
        (resident_id, incident_id, ALARMS),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def insert_incident(conn: Conn, **fields: Any) -> int:
    names = list(fields)
    query = sql.SQL("INSERT INTO incidents ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(map(sql.Identifier, names)), sql.SQL(", ").join(sql.Placeholder() * len(names))
    )
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(query, [fields[name] for name in names])
        incident_id = await cur.fetchone()
    assert incident_id is not None
    return int(incident_id)


async def update_incident(conn: Conn, *, incident_id: int, **fields: Any) -> None:
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    query = sql.SQL("UPDATE incidents SET {} WHERE id = {}").format(
        sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in fields),
        sql.Placeholder("_id"),
    )
    await conn.execute(query, {**fields, "_id": incident_id})


async def insert_transition(
    conn: Conn,
    *,
    incident_id: int,
    at: datetime,
    from_status: str | None,
    to_status: str,
    actor: str,
    reason: str | None,
    detail: dict[str, Any] | None,
) -> None:
    await conn.execute(
        "INSERT INTO incident_transitions (incident_id, at, from_status, to_status, actor, reason, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (incident_id, at, from_status, to_status, actor, reason, None if detail is None else Jsonb(detail)),
    )


async def update_fold_line(conn: Conn, *, incident_id: int, detail: dict[str, Any]) -> bool:
    """Rewrite the incident's one line of folded repeats with the latest count and words; False when it has none."""
    cursor = await conn.execute(
        "UPDATE incident_transitions SET detail = %s WHERE id = (SELECT id FROM incident_transitions "
        "WHERE incident_id = %s AND detail->>'change' = 'folded' ORDER BY id DESC LIMIT 1)",
        (Jsonb(detail), incident_id),
    )
    return cursor.rowcount > 0


async def append_change(conn: Conn, *, incident_id: int, at: datetime, change: str) -> None:
    """Append the incident as it now is to the feed, in the caller's transaction."""
    incident = await get_incident(conn, incident_id=incident_id)
    assert incident is not None
    tasks = await tasks_of(conn, incident_id=incident_id)
    snapshot = {**incident.model_dump(mode="json"), "tasks": [t.model_dump(mode="json") for t in tasks]}
    await conn.execute(
        "INSERT INTO incident_changes (incident_id, at, change, snapshot) VALUES (%s, %s, %s, %s)",
        (incident_id, at, change, Jsonb(snapshot)),
    )


async def queue(conn: Conn, *, limit: int, include_pre_alarms: bool) -> list[Incident]:
    """Open incidents: those nobody is on the way for after a failed dispatch first, then most urgent, oldest."""
    statuses = ["open", "acknowledged", "in_call", "dispatched", "on_scene"]
    if include_pre_alarms:
        statuses.append("pre_alarm")
    async with conn.cursor(row_factory=class_row(Incident)) as cur:
        await cur.execute(
            f"SELECT {_INCIDENT_COLUMNS} FROM incidents i JOIN residents r ON r.id = i.resident_id "
            "WHERE i.status = ANY(%s) ORDER BY i.attention IS NULL, i.priority, i.opened_at, i.id LIMIT %s",
            (statuses, limit),
        )
        return await cur.fetchall()


async def last_change_id(conn: Conn) -> int:
    """The newest feed id (0 when there is none): where a client that has just read the queue follows from."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT coalesce(max(id), 0) FROM incident_changes")
        return int(await cur.fetchone() or 0)


async def transitions_of(conn: Conn, *, incident_id: int) -> list[Transition]:
    async with conn.cursor(row_factory=class_row(Transition)) as cur:
        await cur.execute(
            "SELECT t.id, t.at, t.from_status, t.to_status, t.actor, u.display_name AS actor_name, t.reason, t.detail "
            "FROM incident_transitions t LEFT JOIN users u ON u.username = t.actor "
            "WHERE t.incident_id = %s ORDER BY t.id",
            (incident_id,),
        )
        return await cur.fetchall()


async def tasks_of(conn: Conn, *, incident_id: int) -> list[StationTask]:
    async with conn.cursor(row_factory=class_row(StationTask)) as cur:
        await cur.execute(
            "SELECT t.id, t.incident_id, t.station_id, s.name AS station_name, t.status, t.travel_min, "
            "t.offered_at, t.accepted_at, t.on_scene_at, t.closed_at, t.responder, u.display_name AS responder_name, "
            "t.note FROM station_tasks t JOIN stations s ON s.id = t.station_id "
            "LEFT JOIN users u ON u.username = t.responder WHERE t.incident_id = %s ORDER BY t.id",
            (incident_id,),
        )
        return await cur.fetchall()


async def trigger_of(conn: Conn, *, incident_id: int) -> Trigger | None:
    """The signal recorded when the incident opened, with its device and stored event."""
    async with conn.cursor(row_factory=class_row(Trigger)) as cur:
        await cur.execute(
            "SELECT o.detail->>'signal' AS signal, (o.detail->>'detected_at')::timestamptz AS detected_at, "
            "       d.id AS device_id, d.uid AS device_uid, d.kind AS device_kind, e.id AS event_id, "
            "       e.kind AS event_kind, e.ts AS event_at, e.received_at, e.room, e.confidence "
            "FROM incidents i LEFT JOIN devices d ON d.id = i.device_id LEFT JOIN events e ON e.id = i.event_id "
            "LEFT JOIN LATERAL (SELECT t.detail FROM incident_transitions t WHERE t.incident_id = i.id "
            "                   ORDER BY t.id LIMIT 1) o ON true WHERE i.id = %s",
            (incident_id,),
        )
        return await cur.fetchone()


async def changes_after(conn: Conn, *, after: int, limit: int) -> list[Change]:
    async with conn.cursor(row_factory=class_row(Change)) as cur:
        await cur.execute(
            "SELECT id, incident_id, at, change, snapshot FROM incident_changes WHERE id > %s ORDER BY id LIMIT %s",
            (after, limit),
        )
        return await cur.fetchall()


# --- timers ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimerRow:
    id: int
    incident_id: int
    kind: str
    due_at: datetime
    step: int
    task_id: int | None


async def add_timer(
    conn: Conn,
    *,
    incident_id: int,
    kind: str,
    due_at: datetime,
    now: datetime,
    step: int = 0,
    task_id: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO incident_timers (incident_id, kind, due_at, step, task_id, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (incident_id, kind, due_at, step, task_id, now),
    )


async def cancel_timers(
    conn: Conn, *, incident_id: int, kinds: list[str], now: datetime, task_id: int | None = None
) -> None:
    await conn.execute(
        "UPDATE incident_timers SET cancelled_at = %s WHERE incident_id = %s AND kind = ANY(%s) "
        "AND fired_at IS NULL AND cancelled_at IS NULL AND (%s::bigint IS NULL OR task_id = %s::bigint)",
        (now, incident_id, kinds, task_id, task_id),
    )


async def claim_due_timer(conn: Conn, *, now: datetime) -> TimerRow | None:
    """The earliest due timer, locked and marked fired in the caller's transaction (others skip it)."""
    async with conn.cursor(row_factory=class_row(TimerRow)) as cur:
        await cur.execute(
            "UPDATE incident_timers SET fired_at = %(now)s WHERE id = ("
            " SELECT id FROM incident_timers WHERE fired_at IS NULL AND cancelled_at IS NULL"
            " AND due_at <= %(now)s ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
            " RETURNING id, incident_id, kind, due_at, step, task_id",
            {"now": now},
        )
        return await cur.fetchone()


async def count_due_timers(conn: Conn, *, now: datetime) -> int:
    """How many timers are due at ``now`` and not yet fired (the pipeline fires them within a pass)."""
    cur = await conn.execute(
        "SELECT count(*) FROM incident_timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= %s",
        (now,),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def pending_timers(conn: Conn, *, incident_id: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, kind, due_at, step, task_id FROM incident_timers WHERE incident_id = %s "
            "AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at",
            (incident_id,),
        )
        return await cur.fetchall()
