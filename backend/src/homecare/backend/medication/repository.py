"""SQL for medication: schedules, the doses as they come due, their confirmation, escalation and adherence."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from psycopg.rows import dict_row

from homecare.storage.connections import Conn

_SCHEDULE_COLUMNS = (
    "id, resident_id, medicine, dose, times, with_food, starts_on, ends_on, confirm_window_min, station_after_min, "
    "created_by, created_at, stopped_at"
)
_WINDOW = "coalesce(make_interval(mins => s.confirm_window_min), %(window)s::interval)"
"""A dose's confirmation window: its schedule's own, else the platform's (``window``)."""
_STATION_AFTER = "coalesce(make_interval(mins => s.station_after_min), %(station_after)s::interval)"
"""How long after the family the station is told: the schedule's own, else the platform's (``station_after``)."""
_DOSE_SQL = (
    """
SELECT m.id, m.schedule_id, s.medicine, s.dose, m.due_at, m.reminded_at, m.home_units, m.confirmed_at,
       m.confirmed_by, m.family_told_at, m.family_told, m.station_told_at, m.incident_id,
       CASE WHEN m.confirmed_at IS NOT NULL THEN 'taken'
            WHEN m.due_at + """
    + _WINDOW
    + """ <= %(now)s THEN 'missed' ELSE 'pending' END AS state
FROM medication_doses m JOIN medication_schedules s ON s.id = m.schedule_id
"""
)


async def _rows(conn: Conn, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def insert_schedule(
    conn: Conn,
    *,
    resident_id: int,
    medicine: str,
    dose: str,
    times: list[time],
    with_food: bool | None,
    starts_on: date,
    ends_on: date | None,
    created_by: str,
    now: datetime,
    confirm_window_min: int | None = None,
    station_after_min: int | None = None,
) -> dict[str, Any]:
    rows = await _rows(
        conn,
        "INSERT INTO medication_schedules (resident_id, medicine, dose, times, with_food, starts_on, ends_on, "
        "confirm_window_min, station_after_min, created_by, created_at) VALUES (%(resident_id)s, %(medicine)s, "
        "%(dose)s, %(times)s, %(with_food)s, %(starts_on)s, %(ends_on)s, %(confirm_window_min)s, "
        f"%(station_after_min)s, %(created_by)s, %(now)s) RETURNING {_SCHEDULE_COLUMNS}",
        {
            "resident_id": resident_id,
            "medicine": medicine,
            "dose": dose,
            "times": times,
            "with_food": with_food,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "confirm_window_min": confirm_window_min,
            "station_after_min": station_after_min,
            "created_by": created_by,
            "now": now,
        },
    )
    return rows[0]


async def schedules(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        f"SELECT {_SCHEDULE_COLUMNS} FROM medication_schedules WHERE resident_id = %(r)s ORDER BY id",
        {"r": resident_id},
    )


async def schedule(conn: Conn, *, schedule_id: int) -> dict[str, Any] | None:
    rows = await _rows(
        conn, f"SELECT {_SCHEDULE_COLUMNS} FROM medication_schedules WHERE id = %(id)s", {"id": schedule_id}
    )
    return rows[0] if rows else None


async def stop_schedule(conn: Conn, *, schedule_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE medication_schedules SET stopped_at = %s WHERE id = %s AND stopped_at IS NULL", (now, schedule_id)
    )


async def new_due_doses(conn: Conn, *, now: datetime, since: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Doses of running schedules that came due in (since, now] and have no row yet, with what a reminder says and
    their confirmation window. Times of day are the resident's local times; a schedule counts only doses due after
    it was made."""
    return await _rows(
        conn,
        f"""
        SELECT s.id AS schedule_id, s.resident_id, s.medicine, s.dose, s.with_food, x.due, {_WINDOW} AS window
        FROM medication_schedules s JOIN residents r ON r.id = s.resident_id
        CROSS JOIN LATERAL unnest(s.times) AS t(tod)
        CROSS JOIN LATERAL (VALUES ((%(now)s AT TIME ZONE r.timezone)::date),
                                   ((%(now)s AT TIME ZONE r.timezone)::date - 1)) AS d(day)
        CROSS JOIN LATERAL (SELECT (d.day + t.tod) AT TIME ZONE r.timezone AS due) AS x
        WHERE d.day >= s.starts_on AND (s.ends_on IS NULL OR d.day <= s.ends_on)
          AND x.due > %(since)s AND x.due <= %(now)s AND x.due >= s.created_at
          AND (s.stopped_at IS NULL OR x.due < s.stopped_at)
          AND NOT EXISTS (SELECT 1 FROM medication_doses m WHERE m.schedule_id = s.id AND m.due_at = x.due)
        ORDER BY x.due, s.id
        """,
        {"now": now, "since": since, "window": window},
    )


async def insert_dose(
    conn: Conn, *, schedule_id: int, resident_id: int, due_at: datetime, reminded_at: datetime | None, home_units: int
) -> None:
    await conn.execute(
        "INSERT INTO medication_doses (schedule_id, resident_id, due_at, reminded_at, home_units) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (schedule_id, due_at) DO NOTHING",
        (schedule_id, resident_id, due_at, reminded_at, home_units),
    )


async def unconfirmed(
    conn: Conn, *, now: datetime, window: timedelta, station_after: timedelta, since: datetime, family_told: bool
) -> list[dict[str, Any]]:
    """Unconfirmed doses due since ``since`` whose confirmation window has passed, not yet told to the family
    (``family_told`` False), or told to the family and past the wait for the station but not yet told to it (True);
    locked for the caller's transaction. ``window`` and ``station_after`` are the platform's, for schedules that
    set none of their own."""
    stage = (
        "m.family_told_at IS NOT NULL AND m.station_told_at IS NULL "
        f"AND m.due_at + {_WINDOW} + {_STATION_AFTER} < %(now)s"
        if family_told
        else f"m.family_told_at IS NULL AND m.due_at + {_WINDOW} < %(now)s"
    )
    return await _rows(
        conn,
        "SELECT m.id, m.schedule_id, m.resident_id, m.due_at, s.medicine, s.dose, r.display_name, r.timezone "
        "FROM medication_doses m JOIN medication_schedules s ON s.id = m.schedule_id "
        "JOIN residents r ON r.id = m.resident_id "
        f"WHERE m.confirmed_at IS NULL AND m.due_at >= %(since)s AND {stage} "
        "ORDER BY m.due_at, m.id FOR UPDATE OF m SKIP LOCKED",
        {"now": now, "window": window, "station_after": station_after, "since": since},
    )


async def mark_family_told(conn: Conn, *, dose_id: int, at: datetime, told: int) -> None:
    await conn.execute(
        "UPDATE medication_doses SET family_told_at = %s, family_told = %s WHERE id = %s", (at, told, dose_id)
    )


async def mark_station_told(conn: Conn, *, dose_id: int, at: datetime, incident_id: int | None) -> None:
    await conn.execute(
        "UPDATE medication_doses SET station_told_at = %s, incident_id = %s WHERE id = %s", (at, incident_id, dose_id)
    )


async def confirm(
    conn: Conn, *, schedule_id: int, resident_id: int, due_at: datetime, at: datetime, event_id: int, by: str
) -> dict[str, Any] | None:
    """Record a dose as taken (the first confirmation counts); a dose confirmed before the platform reminded is
    added. None when ``due_at`` is not one of the schedule's dose times."""
    rows = await _rows(
        conn,
        """
        INSERT INTO medication_doses (schedule_id, resident_id, due_at, confirmed_at, confirmed_event_id, confirmed_by)
        SELECT s.id, s.resident_id, %(due)s, %(at)s, %(event)s, %(by)s
        FROM medication_schedules s JOIN residents r ON r.id = s.resident_id
        WHERE s.id = %(schedule)s AND s.resident_id = %(resident)s
          AND (%(due)s AT TIME ZONE r.timezone)::time = ANY (s.times)
        ON CONFLICT (schedule_id, due_at) DO UPDATE SET
            confirmed_at = coalesce(medication_doses.confirmed_at, excluded.confirmed_at),
            confirmed_event_id = coalesce(medication_doses.confirmed_event_id, excluded.confirmed_event_id),
            confirmed_by = coalesce(medication_doses.confirmed_by, excluded.confirmed_by)
        RETURNING id, confirmed_event_id = %(event)s AS first, incident_id
        """,
        {"schedule": schedule_id, "resident": resident_id, "due": due_at, "at": at, "event": event_id, "by": by},
    )
    return rows[0] if rows else None


async def doses(
    conn: Conn, *, resident_id: int, since: datetime, now: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """The resident's doses due since ``since``, newest first; missed once their window passed before ``now``."""
    return await _rows(
        conn,
        _DOSE_SQL + "WHERE m.resident_id = %(r)s AND m.due_at >= %(since)s ORDER BY m.due_at DESC, m.id DESC",
        {"r": resident_id, "since": since, "now": now, "window": window},
    )


async def adherence(
    conn: Conn, *, resident_id: int | None, since: datetime, until: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """Per resident with a dose due in [since, until): their station, doses due (confirmed, or past their window)
    and confirmed."""
    return await _rows(
        conn,
        f"""
        SELECT r.id AS resident_id, r.display_name, st.id AS station_id, st.name AS station_name, count(*) AS due,
               count(m.confirmed_at) AS confirmed
        FROM medication_doses m JOIN residents r ON r.id = m.resident_id
        JOIN medication_schedules s ON s.id = m.schedule_id
        LEFT JOIN stations st ON st.id = r.station_id
        WHERE m.due_at >= %(since)s AND m.due_at < %(until)s
          AND (m.confirmed_at IS NOT NULL OR m.due_at + {_WINDOW} <= %(until)s)
          AND (%(resident)s::int IS NULL OR m.resident_id = %(resident)s::int)
        GROUP BY r.id, st.id ORDER BY r.id
        """,
        {"since": since, "until": until, "window": window, "resident": resident_id},
    )
