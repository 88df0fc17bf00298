"""SQL for the care domain: profiles, assessments, the rules, each resident's standing, visits and their records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg.rows import class_row, dict_row, scalar_row
from psycopg.types.json import Jsonb

from homecare.backend.accounts.repository import ON_CARERS_ROUTE, carers_route
from homecare.storage.connections import Conn


@dataclass(frozen=True, slots=True)
class ProfileRow:
    resident_id: int
    name: str
    conditions: list[str]
    living_situation: list[str] | None
    economic_status: str | None
    disability: str | None
    disability_grade: int | None
    updated_at: datetime | None
    updated_by: str | None


async def profile(conn: Conn, *, resident_id: int) -> ProfileRow | None:
    """The resident's information base (empty fields when none was recorded), or None for no such resident."""
    async with conn.cursor(row_factory=class_row(ProfileRow)) as cur:
        await cur.execute(
            "SELECT r.id AS resident_id, r.display_name AS name, r.conditions, p.living_situation, p.economic_status, "
            "       p.disability, p.disability_grade, p.updated_at, p.updated_by "
            "FROM residents r LEFT JOIN care_profiles p ON p.resident_id = r.id WHERE r.id = %s",
            (resident_id,),
        )
        return await cur.fetchone()


async def save_profile(
    conn: Conn,
    *,
    resident_id: int,
    living_situation: list[str],
    economic_status: str | None,
    disability: str | None,
    disability_grade: int | None,
    conditions: list[str],
    actor: str,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO care_profiles (resident_id, living_situation, economic_status, disability, disability_grade, "
        "    updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (resident_id) DO UPDATE SET living_situation = excluded.living_situation, "
        "    economic_status = excluded.economic_status, disability = excluded.disability, "
        "    disability_grade = excluded.disability_grade, updated_at = excluded.updated_at, "
        "    updated_by = excluded.updated_by",
        (resident_id, living_situation, economic_status, disability, disability_grade, now, actor),
    )
    await conn.execute("UPDATE residents SET conditions = %s WHERE id = %s", (conditions, resident_id))


_ASSESSMENT_COLUMNS = (
    "id, resident_id, assessed_on, assessor, reason, items, coma, dementia, risk_events, self_care, mobility, "
    "mental, perception, total, preliminary_level, level, adjustments, note, recorded_by, recorded_at"
)


async def insert_assessment(conn: Conn, *, values: dict[str, Any]) -> dict[str, Any]:
    """Append an assessment; returns the stored row."""
    values = {**values, "items": Jsonb(values["items"])}
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"INSERT INTO care_assessments ({columns}) VALUES ({placeholders}) RETURNING {_ASSESSMENT_COLUMNS}",
            values,
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def assessments(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    """Every assessment of the resident, newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_ASSESSMENT_COLUMNS} FROM care_assessments WHERE resident_id = %s "
            "ORDER BY assessed_on DESC, id DESC",
            (resident_id,),
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class StandingRow:
    resident_id: int
    level: int | None
    assessed_on: date | None
    economic_status: str | None
    living_situation: list[str]
    vulnerable: bool
    vulnerable_because: list[str]
    visit_frequency: str | None


_STANDING_COLUMNS = (
    "resident_id, level, assessed_on, economic_status, living_situation, vulnerable, vulnerable_because, "
    "visit_frequency"
)


async def standing(conn: Conn, *, resident_id: int) -> StandingRow | None:
    async with conn.cursor(row_factory=class_row(StandingRow)) as cur:
        await cur.execute(f"SELECT {_STANDING_COLUMNS} FROM care_standing WHERE resident_id = %s", (resident_id,))
        return await cur.fetchone()


@dataclass(frozen=True, slots=True)
class SubsidyRow:
    level: int
    economic_status: str | None
    name: str
    monthly_yuan: Decimal


async def subsidies(conn: Conn, *, level: int | None = None, economic_status: str | None = None) -> list[SubsidyRow]:
    """Every subsidy rule, or (given a level) those that level earns with this economic status."""
    query = "SELECT level, economic_status, name, monthly_yuan FROM care_subsidies"
    params: tuple[object, ...] = ()
    if level is not None:
        query += " WHERE level = %s AND (economic_status IS NULL OR economic_status = %s)"
        params = (level, economic_status)
    async with conn.cursor(row_factory=class_row(SubsidyRow)) as cur:
        await cur.execute(query + " ORDER BY level, economic_status NULLS FIRST, name", params)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class PolicyRow:
    vulnerable_from_level: int | None
    weekly_alone_from_level: int
    updated_at: datetime
    updated_by: str


async def policy(conn: Conn) -> PolicyRow:
    async with conn.cursor(row_factory=class_row(PolicyRow)) as cur:
        await cur.execute(
            "SELECT vulnerable_from_level, weekly_alone_from_level, updated_at, updated_by FROM care_policy"
        )
        row = await cur.fetchone()
    assert row is not None, "migration 0013 inserts the one policy row"
    return row


async def vulnerable_categories(conn: Conn) -> list[str]:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT category FROM care_vulnerable_categories ORDER BY category")
        return [str(c) for c in await cur.fetchall()]


async def replace_rules(
    conn: Conn,
    *,
    categories: list[str],
    vulnerable_from_level: int | None,
    weekly_alone_from_level: int,
    subsidies: list[tuple[int, str | None, str, Decimal]],
    actor: str,
    now: datetime,
) -> None:
    """Replace the whole rule set (the caller's transaction)."""
    await conn.execute(
        "UPDATE care_policy SET vulnerable_from_level = %s, weekly_alone_from_level = %s, updated_at = %s, "
        "updated_by = %s",
        (vulnerable_from_level, weekly_alone_from_level, now, actor),
    )
    await conn.execute("DELETE FROM care_vulnerable_categories")
    await conn.execute("DELETE FROM care_subsidies")
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO care_vulnerable_categories (category) VALUES (%s)", [(c,) for c in categories]
        )
        await cur.executemany(
            "INSERT INTO care_subsidies (level, economic_status, name, monthly_yuan) VALUES (%s, %s, %s, %s)",
            subsidies,
        )


# --- visits --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueResident:
    """A vulnerable resident, their home station and how often they are visited."""

    resident_id: int
    station_id: int | None
    visit_frequency: str


async def vulnerable_residents(conn: Conn) -> list[DueResident]:
    async with conn.cursor(row_factory=class_row(DueResident)) as cur:
        await cur.execute(
            "SELECT resident_id, station_id, visit_frequency FROM care_standing WHERE vulnerable ORDER BY resident_id"
        )
        return await cur.fetchall()


async def station_visitors(conn: Conn, *, station_id: int) -> list[tuple[int, int]]:
    """The station's active visitors with their open visits: (user id, planned visits), least loaded first."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT u.id, count(v.id)::int FROM users u "
            "LEFT JOIN care_visits v ON v.visitor_id = u.id AND v.status = 'planned' "
            "WHERE u.role = 'visitor' AND u.station_id = %s AND u.disabled_at IS NULL "
            "GROUP BY u.id ORDER BY count(v.id), u.id",
            (station_id,),
        )
        return [(int(r[0]), int(r[1])) for r in await cur.fetchall()]


async def insert_visit(
    conn: Conn,
    *,
    resident_id: int,
    station_id: int | None,
    visitor_id: int | None,
    frequency: str,
    due_from: date,
    due_by: date,
) -> bool:
    """Plan a visit unless the resident already has one starting that day; whether one was added."""
    cur = await conn.execute(
        "INSERT INTO care_visits (resident_id, station_id, visitor_id, frequency, due_from, due_by) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (resident_id, due_from) DO NOTHING",
        (resident_id, station_id, visitor_id, frequency, due_from, due_by),
    )
    return cur.rowcount == 1


async def month_counts(conn: Conn, *, start: date, end: date) -> tuple[int, int]:
    """(visits, visits without a visitor) whose period starts in [start, end)."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT count(*)::int, count(*) FILTER (WHERE visitor_id IS NULL)::int FROM care_visits "
            "WHERE due_from >= %s AND due_from < %s",
            (start, end),
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


_VISIT_SELECT = """
    SELECT v.id, v.resident_id, r.display_name AS resident_name, r.address, v.station_id, s.name AS station_name,
           v.visitor_id, u.display_name AS visitor_name, v.frequency, v.due_from, v.due_by, v.status,
           (SELECT count(*) FROM welfare_visits w WHERE w.visit_id = v.id)::int AS attempts,
           (SELECT max(w.visited_at) FROM welfare_visits w WHERE w.visit_id = v.id AND w.outcome = 'seen') AS done_at
    FROM care_visits v
    JOIN residents r ON r.id = v.resident_id
    LEFT JOIN stations s ON s.id = v.station_id
    LEFT JOIN users u ON u.id = v.visitor_id
"""


async def visits(
    conn: Conn,
    *,
    visitor_id: int | None = None,
    station_id: int | None = None,
    status: str | None = None,
    due_on_or_before: date | None = None,
    overdue_on: date | None = None,
    open_or_done_since: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Planned visits, earliest due first, filtered by visitor, station, status, the day they are due by (a visit
    whose period has started by then), overdue on a day (still planned after their last day), or still to make or
    made since a time."""
    where: list[str] = ["true"]
    params: list[object] = []
    if visitor_id is not None:
        where.append("v.visitor_id = %s")
        params.append(visitor_id)
    if station_id is not None:
        where.append("v.station_id = %s")
        params.append(station_id)
    if status is not None:
        where.append("v.status = %s")
        params.append(status)
    if due_on_or_before is not None:
        where.append("v.due_from <= %s")
        params.append(due_on_or_before)
    if overdue_on is not None:
        where.append("v.status = 'planned' AND v.due_by < %s")
        params.append(overdue_on)
    if open_or_done_since is not None:
        where.append(
            "(v.status = 'planned' OR EXISTS (SELECT 1 FROM welfare_visits w WHERE w.visit_id = v.id "
            "AND w.outcome = 'seen' AND w.visited_at >= %s))"
        )
        params.append(open_or_done_since)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_VISIT_SELECT} WHERE {' AND '.join(where)} ORDER BY v.due_by, v.id LIMIT %s", [*params, limit]
        )
        return await cur.fetchall()


async def visit(conn: Conn, *, visit_id: int, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_VISIT_SELECT} WHERE v.id = %s" + (" FOR UPDATE OF v" if lock else ""), (visit_id,))
        return await cur.fetchone()


async def assign_visit(conn: Conn, *, visit_id: int, visitor_id: int) -> None:
    await conn.execute("UPDATE care_visits SET visitor_id = %s WHERE id = %s", (visitor_id, visit_id))


async def visitor_station(conn: Conn, *, user_id: int) -> int | None:
    """The station of an active visitor account, or None when the user is not one."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT station_id FROM users WHERE id = %s AND role = 'visitor' AND disabled_at IS NULL", (user_id,)
        )
        found = await cur.fetchone()
        return None if found is None else int(found)


async def insert_record(
    conn: Conn,
    *,
    visit_id: int,
    resident_id: int,
    station_id: int | None,
    visited_at: datetime,
    visitor: str,
    visitor_id: int | None,
    outcome: str,
    checklist: dict[str, Any] | None,
    findings: list[str],
    note: str | None,
    now: datetime,
) -> int:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO welfare_visits (resident_id, visited_at, station_id, visitor, note, visit_id, visitor_id, "
            "    outcome, checklist, findings, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                resident_id,
                visited_at,
                station_id,
                visitor,
                note,
                visit_id,
                visitor_id,
                outcome,
                None if checklist is None else Jsonb(checklist),
                findings,
                now,
            ),
        )
        record_id = await cur.fetchone()
    assert record_id is not None
    return int(record_id)


async def link_incident(conn: Conn, *, record_id: int, incident_id: int) -> None:
    await conn.execute("UPDATE welfare_visits SET incident_id = %s WHERE id = %s", (incident_id, record_id))


async def mark_done(conn: Conn, *, visit_id: int) -> None:
    await conn.execute("UPDATE care_visits SET status = 'done' WHERE id = %s", (visit_id,))


async def records(conn: Conn, *, visit_id: int) -> list[dict[str, Any]]:
    """The records of a visit, newest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, visit_id, visited_at, visitor, outcome, checklist, findings, incident_id, note "
            "FROM welfare_visits WHERE visit_id = %s ORDER BY visited_at DESC, id DESC",
            (visit_id,),
        )
        return await cur.fetchall()


# --- home services and bookings ------------------------------------------------------------------------------

_SERVICE_SELECT = """
    SELECT c.id, c.station_id, s.name AS station_name, c.kind, c.name, c.duration_min, c.price_yuan, c.capacity,
           c.radius_km::float AS radius_km, s.lat AS station_lat, s.lon AS station_lon,
           coalesce((SELECT json_agg(json_build_object('level', x.level, 'economic_status', x.economic_status,
                                                       'yuan', x.yuan::text) ORDER BY x.level, x.economic_status)
                     FROM care_service_subsidies x WHERE x.service_id = c.id), '[]') AS subsidies, c.tasks,
           c.photo_required
    FROM care_services c JOIN stations s ON s.id = c.station_id
"""


async def insert_service(
    conn: Conn, *, values: dict[str, Any], subsidies: list[tuple[int, str | None, Decimal]]
) -> int:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO care_services (station_id, kind, name, duration_min, price_yuan, capacity, radius_km, tasks, "
            "    photo_required) "
            "VALUES (%(station_id)s, %(kind)s, %(name)s, %(duration_min)s, %(price_yuan)s, %(capacity)s, "
            "%(radius_km)s, %(tasks)s, %(photo_required)s) RETURNING id",
            values,
        )
        service_id = await cur.fetchone()
    assert service_id is not None
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO care_service_subsidies (service_id, level, economic_status, yuan) VALUES (%s, %s, %s, %s)",
            [(service_id, *s) for s in subsidies],
        )
    return int(service_id)


async def services(
    conn: Conn, *, service_id: int | None = None, station_id: int | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Active services, by station and name, filtered by id, station or kind."""
    where, params = ["c.active"], []
    for column, value in (("c.id", service_id), ("c.station_id", station_id), ("c.kind", kind)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"{_SERVICE_SELECT} WHERE {' AND '.join(where)} ORDER BY c.station_id, c.name", params)
        return await cur.fetchall()


async def lock_bookings(conn: Conn, *, service_id: int, resident_id: int) -> None:
    """Serialise bookings of one service and of one resident (capacity and overlaps are checked, then written)."""
    await conn.execute("SELECT pg_advisory_xact_lock(7142013, %s)", (service_id,))
    await conn.execute("SELECT pg_advisory_xact_lock(7142014, %s)", (resident_id,))


async def taken_places(
    conn: Conn, *, service_id: int, starts_at: datetime, ends_at: datetime, besides: int | None = None
) -> int:
    """Live bookings of the service overlapping [starts_at, ends_at), other than booking ``besides``."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT count(*) FROM care_bookings WHERE service_id = %s AND status = 'booked' "
            "AND starts_at < %s AND ends_at > %s AND id IS DISTINCT FROM %s",
            (service_id, ends_at, starts_at, besides),
        )
        return int(await cur.fetchone() or 0)


async def overlapping_booking(
    conn: Conn, *, resident_id: int, starts_at: datetime, ends_at: datetime, besides: int | None = None
) -> int | None:
    """The resident's live booking overlapping [starts_at, ends_at) other than booking ``besides``, if any."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT id FROM care_bookings WHERE resident_id = %s AND status = 'booked' "
            "AND starts_at < %s AND ends_at > %s AND id IS DISTINCT FROM %s ORDER BY starts_at LIMIT 1",
            (resident_id, ends_at, starts_at, besides),
        )
        found = await cur.fetchone()
        return None if found is None else int(found)


async def insert_booking(conn: Conn, *, values: dict[str, Any]) -> int:
    columns = ", ".join(values)
    placeholders = ", ".join(f"%({name})s" for name in values)
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(f"INSERT INTO care_bookings ({columns}) VALUES ({placeholders}) RETURNING id", values)
        booking_id = await cur.fetchone()
    assert booking_id is not None
    return int(booking_id)


_BOOKING_COLUMNS = (
    "id, resident_id, service_id, starts_at, ends_at, status, channel, price_yuan, subsidy_yuan, copay_yuan, "
    "booked_by, booked_at, cancelled_at, cancelled_by, cancel_reason, series_id, carer_id, "
    "(SELECT count(*) FROM care_booking_changes c WHERE c.booking_id = care_bookings.id)::int AS changes, "
    "(SELECT u.display_name FROM users u WHERE u.id = care_bookings.carer_id) AS carer_name, "
    "(SELECT v.checked_in_at FROM care_service_visits v WHERE v.booking_id = care_bookings.id) AS checked_in_at, "
    "(SELECT v.checked_out_at FROM care_service_visits v WHERE v.booking_id = care_bookings.id) AS checked_out_at, "
    "(SELECT v.outcome FROM care_service_visits v WHERE v.booking_id = care_bookings.id) AS outcome"
)


async def bookings(
    conn: Conn,
    *,
    booking_id: int | None = None,
    resident_id: int | None = None,
    series_id: int | None = None,
    lock: bool = False,
) -> list[dict[str, Any]]:
    """Bookings by id, of a resident or of a series, soonest first."""
    where, params = [], []
    for column, value in (("id", booking_id), ("resident_id", resident_id), ("series_id", series_id)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_BOOKING_COLUMNS} FROM care_bookings WHERE {' AND '.join(where) or 'true'} "
            "ORDER BY starts_at, id" + (" FOR UPDATE" if lock else ""),
            params,
        )
        return await cur.fetchall()


async def cancel_booking(conn: Conn, *, booking_id: int, actor: str, reason: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE care_bookings SET status = 'cancelled', cancelled_at = %s, cancelled_by = %s, cancel_reason = %s "
        "WHERE id = %s",
        (now, actor, reason, booking_id),
    )


async def home(conn: Conn, *, resident_id: int) -> tuple[float, float] | None:
    """Where the resident lives (lat, lon), when known."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT lat, lon FROM residents WHERE id = %s AND lat IS NOT NULL", (resident_id,))
        row = await cur.fetchone()
    return None if row is None else (float(row[0]), float(row[1]))


async def join_series(conn: Conn, *, booking_ids: list[int]) -> None:
    """Make the bookings one recurring series, named by the first."""
    await conn.execute("UPDATE care_bookings SET series_id = %s WHERE id = ANY(%s)", (min(booking_ids), booking_ids))


async def move_booking(
    conn: Conn, *, booking_id: int, starts_at: datetime, ends_at: datetime, actor: str, reason: str, now: datetime
) -> None:
    """Move a booking to another time and record the change with its reason."""
    await conn.execute(
        "INSERT INTO care_booking_changes (booking_id, changed_at, changed_by, from_starts, to_starts, reason) "
        "SELECT id, %s, %s, starts_at, %s, %s FROM care_bookings WHERE id = %s",
        (now, actor, starts_at, reason, booking_id),
    )
    await conn.execute(
        "UPDATE care_bookings SET starts_at = %s, ends_at = %s WHERE id = %s", (starts_at, ends_at, booking_id)
    )


async def resident_timezone(conn: Conn, *, resident_id: int) -> str:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT timezone FROM residents WHERE id = %s", (resident_id,))
        return str(await cur.fetchone())


# --- carer visits --------------------------------------------------------------------------------------------


async def active_carer_station(conn: Conn, *, user_id: int) -> int | None:
    """The station of an active carer account, or None when the user is not one."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT station_id FROM users WHERE id = %s AND role = 'carer' AND disabled_at IS NULL", (user_id,)
        )
        found = await cur.fetchone()
        return None if found is None else int(found)


async def save_carer_code(conn: Conn, *, user_id: int, code: str, actor: str, now: datetime) -> None:
    """Give the carer this code, replacing their old one (a code another carer holds raises UniqueViolation)."""
    await conn.execute(
        "INSERT INTO care_carer_codes (user_id, code, issued_at, issued_by) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (user_id) DO UPDATE SET code = excluded.code, issued_at = excluded.issued_at, "
        "issued_by = excluded.issued_by",
        (user_id, code, now, actor),
    )


async def carer_of_code(conn: Conn, *, code: str) -> int | None:
    """The active carer holding this code."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT c.user_id FROM care_carer_codes c JOIN users u ON u.id = c.user_id "
            "WHERE c.code = %s AND u.role = 'carer' AND u.disabled_at IS NULL",
            (code,),
        )
        found = await cur.fetchone()
        return None if found is None else int(found)


async def wrong_codes_before(conn: Conn, *, event_id: int, window: timedelta) -> int:
    """The carer codes typed at the same home unit as this event within ``window`` before it (by when the platform
    received them) that matched no active carer."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT count(*) FROM events this JOIN events e ON e.device_id = this.device_id "
            "WHERE this.id = %s AND e.id < this.id AND e.kind = 'carer_present' "
            "  AND e.received_at >= this.received_at - %s "
            "  AND NOT EXISTS (SELECT 1 FROM care_carer_codes c JOIN users u ON u.id = c.user_id "
            "                  WHERE c.code = e.carer_code AND u.role = 'carer' AND u.disabled_at IS NULL)",
            (event_id, window),
        )
        return int(await cur.fetchone() or 0)


async def assign_carer(conn: Conn, *, booking_id: int, carer_id: int) -> None:
    await conn.execute("UPDATE care_bookings SET carer_id = %s WHERE id = %s", (carer_id, booking_id))


_CARER_VISIT_COLUMNS = """
    b.id AS booking_id, b.resident_id, r.display_name AS resident_name, r.address, b.service_id,
           c.name AS service_name, c.kind AS service_kind, c.tasks, c.station_id, s.name AS station_name,
           b.starts_at, b.ends_at, b.status, b.carer_id, u.display_name AS carer_name,
           v.checked_in_at, v.home_unit_in_at, v.phone_in_at, v.phone_in_m, v.home_unit_out_at, v.checked_out_at,
           v.phone_out_m, v.outcome, v.checklist, v.note, v.incident_id, b.non_arrival_at, b.non_arrival_incident_id,
           c.photo_required, p.taken_at AS photo_taken_at
"""
_CARER_VISIT_FROM = """
    FROM care_bookings b
    JOIN residents r ON r.id = b.resident_id
    JOIN care_services c ON c.id = b.service_id
    JOIN stations s ON s.id = c.station_id
    LEFT JOIN users u ON u.id = b.carer_id
    LEFT JOIN care_service_visits v ON v.booking_id = b.id
    LEFT JOIN care_visit_photos p ON p.booking_id = b.id
"""
_CARER_VISIT_SELECT = f"SELECT {_CARER_VISIT_COLUMNS} {_CARER_VISIT_FROM}"


async def carer_visit(conn: Conn, *, booking_id: int, lock: bool = False) -> dict[str, Any] | None:
    """One booking as a carer's visit; ``lock`` holds the booking until the transaction ends."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_CARER_VISIT_SELECT} WHERE b.id = %s" + (" FOR UPDATE OF b" if lock else ""), (booking_id,)
        )
        return await cur.fetchone()


async def carer_visits(
    conn: Conn, *, carer_id: int, since: datetime, until: datetime, now: datetime
) -> list[dict[str, Any]]:
    """The visits on the carer's route (their day is [since, until)), in the order they start."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_CARER_VISIT_SELECT} WHERE {ON_CARERS_ROUTE} ORDER BY b.starts_at, b.id",
            carers_route(carer_id, since, until, now),
        )
        return await cur.fetchall()


async def non_arrivals(conn: Conn, *, station_id: int | None, since: datetime) -> list[dict[str, Any]]:
    """Visits (of one providing station if given) alerted as not arrived since ``since`` and still not checked in."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_CARER_VISIT_SELECT} WHERE b.status = 'booked' AND b.non_arrival_at >= %s AND v.booking_id IS NULL "
            "AND (%s::int IS NULL OR c.station_id = %s) ORDER BY b.starts_at, b.id",
            (since, station_id, station_id),
        )
        return await cur.fetchall()


async def presence_booking(
    conn: Conn, *, carer_id: int, resident_id: int, at: datetime, margin: timedelta
) -> int | None:
    """The carer's live booking at the resident's that ``at`` falls in (widened by ``margin`` each side) and whose
    home-unit check-out is still to come, the one starting nearest to ``at``; locked."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT b.id FROM care_bookings b LEFT JOIN care_service_visits v ON v.booking_id = b.id "
            "WHERE b.carer_id = %(carer)s AND b.resident_id = %(resident)s AND b.status = 'booked' "
            "AND b.starts_at - %(margin)s <= %(at)s AND b.ends_at + %(margin)s >= %(at)s "
            "AND v.home_unit_out_at IS NULL "
            "ORDER BY abs(extract(epoch FROM b.starts_at - %(at)s)), b.id LIMIT 1 FOR UPDATE OF b",
            {"carer": carer_id, "resident": resident_id, "at": at, "margin": margin},
        )
        found = await cur.fetchone()
        return None if found is None else int(found)


async def check_in(
    conn: Conn,
    *,
    booking_id: int,
    carer_id: int,
    at: datetime,
    home_unit_event: int | None = None,
    phone_m: float | None = None,
) -> None:
    """Record a proof of arrival, by the home unit (its event) or the phone (its distance from the home); the
    check-in time is the first proof's."""
    by_phone = phone_m is not None
    await conn.execute(
        "INSERT INTO care_service_visits (booking_id, carer_id, checked_in_at, home_unit_in_at, home_unit_in_event, "
        "    phone_in_at, phone_in_m) VALUES (%(b)s, %(c)s, %(at)s, %(hu_at)s, %(event)s, %(ph_at)s, %(m)s) "
        "ON CONFLICT (booking_id) DO UPDATE SET "
        "    checked_in_at = LEAST(care_service_visits.checked_in_at, excluded.checked_in_at), "
        "    home_unit_in_at = coalesce(care_service_visits.home_unit_in_at, excluded.home_unit_in_at), "
        "    home_unit_in_event = coalesce(care_service_visits.home_unit_in_event, excluded.home_unit_in_event), "
        "    phone_in_at = coalesce(care_service_visits.phone_in_at, excluded.phone_in_at), "
        "    phone_in_m = coalesce(care_service_visits.phone_in_m, excluded.phone_in_m)",
        {
            "b": booking_id,
            "c": carer_id,
            "at": at,
            "hu_at": None if by_phone else at,
            "event": home_unit_event,
            "ph_at": at if by_phone else None,
            "m": phone_m,
        },
    )


async def home_unit_out(conn: Conn, *, booking_id: int, at: datetime) -> None:
    await conn.execute("UPDATE care_service_visits SET home_unit_out_at = %s WHERE booking_id = %s", (at, booking_id))


async def check_out(
    conn: Conn,
    *,
    booking_id: int,
    at: datetime,
    phone_m: float,
    outcome: str,
    checklist: dict[str, bool] | None,
    note: str | None,
) -> None:
    await conn.execute(
        "UPDATE care_service_visits SET checked_out_at = %s, phone_out_m = %s, outcome = %s, checklist = %s, "
        "note = %s WHERE booking_id = %s",
        (at, phone_m, outcome, None if checklist is None else Jsonb(checklist), note, booking_id),
    )


async def save_photo(conn: Conn, *, booking_id: int, content_type: str, image: bytes, at: datetime, actor: str) -> None:
    """Keep the visit's photo, replacing an earlier one."""
    await conn.execute(
        "INSERT INTO care_visit_photos (booking_id, content_type, image, taken_at, taken_by) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (booking_id) DO UPDATE SET content_type = excluded.content_type, "
        "image = excluded.image, taken_at = excluded.taken_at, taken_by = excluded.taken_by",
        (booking_id, content_type, image, at, actor),
    )


async def photo(conn: Conn, *, booking_id: int) -> tuple[str, bytes] | None:
    """The visit's photo: its content type and bytes."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT content_type, image FROM care_visit_photos WHERE booking_id = %s", (booking_id,))
        row = await cur.fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))


async def photographed_visits(conn: Conn, *, station_id: int | None, since: datetime) -> list[dict[str, Any]]:
    """Visits (of one providing station if given) checked out since ``since`` with a photo, latest first."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_CARER_VISIT_SELECT} WHERE p.booking_id IS NOT NULL AND v.checked_out_at >= %s "
            "AND (%s::int IS NULL OR c.station_id = %s) ORDER BY v.checked_out_at DESC, b.id",
            (since, station_id, station_id),
        )
        return await cur.fetchall()


async def link_visit_incident(conn: Conn, *, booking_id: int, incident_id: int) -> None:
    await conn.execute(
        "UPDATE care_service_visits SET incident_id = %s WHERE booking_id = %s", (incident_id, booking_id)
    )


async def unstarted_visits(conn: Conn, *, due_before: datetime, since: datetime) -> list[dict[str, Any]]:
    """Live bookings that started in [since, due_before) without a check-in and without an alert yet; locked, those
    another pipeline holds skipped."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"{_CARER_VISIT_SELECT} WHERE b.status = 'booked' AND b.non_arrival_at IS NULL AND b.starts_at < %s "
            "AND b.starts_at >= %s AND v.booking_id IS NULL ORDER BY b.starts_at, b.id FOR UPDATE OF b SKIP LOCKED",
            (due_before, since),
        )
        return await cur.fetchall()


async def mark_non_arrival(conn: Conn, *, booking_id: int, at: datetime, incident_id: int | None) -> None:
    await conn.execute(
        "UPDATE care_bookings SET non_arrival_at = %s, non_arrival_incident_id = %s WHERE id = %s",
        (at, incident_id, booking_id),
    )


_LEFT_AT = "LEAST(v.checked_out_at, v.home_unit_out_at)"
"""When the carer left: the first check-out, the home unit's or the phone's."""
_SHORT = f"{_LEFT_AT} - v.checked_in_at < (b.ends_at - b.starts_at) * %(short)s"
"""A visit at home for less than ``short`` of its booked duration."""


async def board_visits(
    conn: Conn,
    *,
    station_id: int | None,
    since: datetime,
    until: datetime,
    now: datetime,
    late_after: timedelta,
    short_share: float,
) -> list[dict[str, Any]]:
    """Live bookings (of one providing station if given) starting in [since, until), by station, carer and start,
    each with its state at ``now`` (see ``VisitState``), when the carer left and how late a late arrival was."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"""
            SELECT {_CARER_VISIT_COLUMNS},
                {_LEFT_AT} AS left_at,
                CASE WHEN v.checked_in_at > b.starts_at + %(late)s
                     THEN round(extract(epoch FROM v.checked_in_at - b.starts_at) / 60)::int END AS late_min,
                CASE WHEN v.booking_id IS NULL THEN
                          CASE WHEN %(now)s < b.starts_at THEN 'booked'
                               WHEN %(now)s < b.starts_at + %(late)s THEN 'late' ELSE 'missed' END
                     WHEN {_LEFT_AT} IS NULL THEN 'in_progress'
                     WHEN {_SHORT} THEN 'short' ELSE 'done' END AS state
            {_CARER_VISIT_FROM}
            WHERE b.status = 'booked' AND b.starts_at >= %(since)s AND b.starts_at < %(until)s
              AND (%(station)s::int IS NULL OR c.station_id = %(station)s)
            ORDER BY c.station_id, u.display_name NULLS LAST, b.carer_id, b.starts_at, b.id
            """,
            {
                "late": late_after,
                "now": now,
                "since": since,
                "until": until,
                "station": station_id,
                "short": short_share,
            },
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class CarerFiguresRow:
    station_id: int
    station_name: str
    carer_id: int | None
    carer_name: str | None
    provider_total: bool
    visits: int
    checked_in: int
    missed: int
    late: int
    late_min_avg: float | None
    checked_out: int
    short: int
    ratings: int
    rating_avg: float | None
    complaints: int
    on_time_rate: float | None


async def carer_figures(
    conn: Conn,
    *,
    since: datetime,
    until: datetime | None,
    now: datetime,
    late_after: timedelta,
    short_share: float,
    station_id: int | None = None,
) -> list[CarerFiguresRow]:
    """Live bookings due to start in [since, until) (no end when None) that started before ``now`` or were checked
    in early, per providing station (one, if given) and carer, and per station in all: checked in, missed (no
    check-in ``late_after`` past the start), late (checked in more than ``late_after`` after the start, and by how
    much on average), checked out, short (at home less than ``short_share`` of the booked duration), their ratings
    (how many, the average stars) and complaints."""
    async with conn.cursor(row_factory=class_row(CarerFiguresRow)) as cur:
        await cur.execute(
            f"""
            SELECT c.station_id, min(s.name) AS station_name, b.carer_id, min(u.display_name) AS carer_name,
                   GROUPING(b.carer_id) = 1 AS provider_total,
                   count(*)::int AS visits,
                   count(v.booking_id)::int AS checked_in,
                   count(*) FILTER (WHERE v.booking_id IS NULL AND b.starts_at + %(late)s <= %(now)s)::int AS missed,
                   count(*) FILTER (WHERE v.checked_in_at > b.starts_at + %(late)s)::int AS late,
                   (avg(extract(epoch FROM v.checked_in_at - b.starts_at) / 60)
                       FILTER (WHERE v.checked_in_at > b.starts_at + %(late)s))::float AS late_min_avg,
                   count({_LEFT_AT})::int AS checked_out,
                   count(*) FILTER (WHERE {_SHORT})::int AS short,
                   (count(*) FILTER (WHERE v.checked_in_at <= b.starts_at + %(late)s))::float
                       / NULLIF(count(v.booking_id)
                                + count(*) FILTER (WHERE v.booking_id IS NULL
                                                   AND b.starts_at + %(late)s <= %(now)s), 0) AS on_time_rate,
                   coalesce(sum(rt.n), 0)::int AS ratings,
                   (sum(rt.stars)::float / nullif(sum(rt.n), 0)) AS rating_avg,
                   coalesce(sum(k.n), 0)::int AS complaints
            FROM care_bookings b
            JOIN care_services c ON c.id = b.service_id
            JOIN stations s ON s.id = c.station_id
            LEFT JOIN users u ON u.id = b.carer_id
            LEFT JOIN care_service_visits v ON v.booking_id = b.id
            LEFT JOIN LATERAL (SELECT count(*) AS n, sum(stars) AS stars FROM care_visit_ratings
                               WHERE booking_id = b.id) rt ON true
            LEFT JOIN LATERAL (SELECT count(*) AS n FROM care_complaints WHERE booking_id = b.id) k ON true
            WHERE b.status = 'booked' AND b.starts_at >= %(since)s
              AND (%(until)s::timestamptz IS NULL OR b.starts_at < %(until)s)
              AND (b.starts_at < %(now)s OR v.booking_id IS NOT NULL)
              AND (%(station)s::int IS NULL OR c.station_id = %(station)s)
            GROUP BY GROUPING SETS ((c.station_id), (c.station_id, b.carer_id))
            ORDER BY c.station_id, GROUPING(b.carer_id) DESC, b.carer_id NULLS LAST
            """,
            {
                "late": late_after,
                "now": now,
                "since": since,
                "until": until,
                "short": short_share,
                "station": station_id,
            },
        )
        return await cur.fetchall()


# --- ratings and complaints ----------------------------------------------------------------------------------


async def insert_rating(conn: Conn, *, values: dict[str, Any]) -> None:
    """Store a rating (a second one by the same rater raises UniqueViolation)."""
    await conn.execute(
        "INSERT INTO care_visit_ratings (booking_id, rater, family_user, stars, comment, rated_at, recorded_by) "
        "VALUES (%(booking_id)s, %(rater)s, %(family_user)s, %(stars)s, %(comment)s, %(rated_at)s, %(recorded_by)s)",
        values,
    )


async def ratings(conn: Conn, *, booking_id: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT booking_id, rater, stars, comment, rated_at, recorded_by FROM care_visit_ratings "
            "WHERE booking_id = %s ORDER BY rated_at, id",
            (booking_id,),
        )
        return await cur.fetchall()


async def insert_complaint(conn: Conn, *, values: dict[str, Any]) -> int:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "INSERT INTO care_complaints (booking_id, raised_by, family_user, category, text, raised_at, recorded_by) "
            "VALUES (%(booking_id)s, %(raised_by)s, %(family_user)s, %(category)s, %(text)s, %(raised_at)s, "
            "%(recorded_by)s) RETURNING id",
            values,
        )
        complaint_id = await cur.fetchone()
    assert complaint_id is not None
    return int(complaint_id)


async def complaints(
    conn: Conn,
    *,
    complaint_id: int | None = None,
    booking_id: int | None = None,
    station_id: int | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    """Complaints with their visit, resident, providing station and carer: by id, of a booking, or of a providing
    station raised since a time; newest first."""
    where, params = [], []
    for clause, value in (
        ("k.id = %s", complaint_id),
        ("k.booking_id = %s", booking_id),
        ("c.station_id = %s", station_id),
        ("k.raised_at >= %s", since),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT k.id, k.booking_id, b.resident_id, r.display_name AS resident_name, c.name AS service_name, "
            "       c.station_id, s.name AS station_name, b.carer_id, u.display_name AS carer_name, b.starts_at, "
            "       k.raised_by, k.category, k.text, k.raised_at, k.recorded_by "
            "FROM care_complaints k JOIN care_bookings b ON b.id = k.booking_id "
            "JOIN residents r ON r.id = b.resident_id JOIN care_services c ON c.id = b.service_id "
            "JOIN stations s ON s.id = c.station_id LEFT JOIN users u ON u.id = b.carer_id "
            f"WHERE {' AND '.join(where) or 'true'} ORDER BY k.raised_at DESC, k.id DESC",
            params,
        )
        return await cur.fetchall()
