"""SQL for users, sessions, login attempts and family links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from psycopg import sql
from psycopg.rows import class_row, scalar_row

from homecare.backend.accounts.models import FamilyLink, Role, Sharing, User
from homecare.storage.connections import Conn

_USER_COLUMNS = (
    "id, username, display_name, role, station_id, phone, email, language, timezone, on_duty, "
    "disabled_at IS NOT NULL AS disabled, created_at"
)


@dataclass(frozen=True, slots=True)
class SessionUser:
    """The user behind a live session, with the session's own times."""

    user_id: int
    username: str
    display_name: str
    role: str
    station_id: int | None
    language: str
    timezone: str
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    id: int
    password_hash: str
    disabled: bool


async def credentials(conn: Conn, *, username: str) -> Credentials | None:
    async with conn.cursor(row_factory=class_row(Credentials)) as cur:
        await cur.execute(
            "SELECT id, password_hash, disabled_at IS NOT NULL AS disabled FROM users WHERE username = %s",
            (username,),
        )
        return await cur.fetchone()


async def insert_user(
    conn: Conn,
    *,
    username: str,
    display_name: str,
    role: Role,
    password_hash: str,
    station_id: int | None,
    phone: str | None,
    email: str | None,
    language: str,
    timezone: str,
) -> User:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(
            "INSERT INTO users (username, display_name, role, password_hash, station_id, phone, email, language, "
            f"timezone) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}",
            (username, display_name, role.value, password_hash, station_id, phone, email, language, timezone),
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def get_user(conn: Conn, *, user_id: int) -> User | None:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
        return await cur.fetchone()


async def list_users(conn: Conn, *, role: Role | None = None, station_id: int | None = None) -> list[User]:
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE (%(role)s::text IS NULL OR role = %(role)s) "
            "AND (%(station)s::int IS NULL OR station_id = %(station)s) ORDER BY role, display_name, id",
            {"role": None if role is None else role.value, "station": station_id},
        )
        return await cur.fetchall()


async def update_user(conn: Conn, *, user_id: int, changes: dict[str, Any]) -> User | None:
    """Set the given columns (names come from code, never from the request)."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)) for column in changes
    )
    query = sql.SQL("UPDATE users SET {} WHERE id = %(id)s RETURNING " + _USER_COLUMNS).format(assignments)
    async with conn.cursor(row_factory=class_row(User)) as cur:
        await cur.execute(query, {**changes, "id": user_id})
        return await cur.fetchone()


async def count_admins(conn: Conn) -> int:
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL")
        return int(await cur.fetchone() or 0)


async def record_attempt(conn: Conn, *, username: str, ip: str | None, succeeded: bool, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO login_attempts (at, username, ip, succeeded) VALUES (%s, %s, %s, %s)",
        (at, username, ip, succeeded),
    )


async def recent_failures(
    conn: Conn, *, username: str, ip: str | None, since: datetime
) -> tuple[int, int, datetime | None]:
    """Failures for the name from this address since the name's last success, failures from the address under any
    name, and the oldest failure counted."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT (SELECT count(*) FROM login_attempts a WHERE a.username = %(u)s "
            "        AND a.ip IS NOT DISTINCT FROM %(ip)s AND NOT a.succeeded "
            "        AND a.at >= greatest(%(since)s, (SELECT coalesce(max(s.at), %(since)s) FROM login_attempts s "
            "                                         WHERE s.username = %(u)s AND s.succeeded))), "
            "       (SELECT count(*) FROM login_attempts WHERE ip = %(ip)s AND NOT succeeded AND at >= %(since)s), "
            "       (SELECT min(at) FROM login_attempts WHERE ip IS NOT DISTINCT FROM %(ip)s AND NOT succeeded "
            "        AND at >= %(since)s)",
            {"u": username, "ip": ip, "since": since},
        )
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2]


async def insert_session(
    conn: Conn,
    *,
    token_hash: bytes,
    user_id: int,
    now: datetime,
    expires_at: datetime,
    ip: str | None,
    user_agent: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (token_hash, user_id, now, now, expires_at, ip, user_agent),
    )


async def session_user(conn: Conn, *, token_hash: bytes, now: datetime, idle_since: datetime) -> SessionUser | None:
    """The user of a session that has not ended, expired or idled out, whose account is enabled."""
    async with conn.cursor(row_factory=class_row(SessionUser)) as cur:
        await cur.execute(
            "SELECT u.id AS user_id, u.username, u.display_name, u.role, u.station_id, u.language, u.timezone, "
            "       s.last_seen_at, s.expires_at "
            "FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = %s AND s.ended_at IS NULL AND s.expires_at > %s AND s.last_seen_at > %s "
            "  AND u.disabled_at IS NULL",
            (token_hash, now, idle_since),
        )
        return await cur.fetchone()


async def touch_session(conn: Conn, *, token_hash: bytes, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = %s WHERE token_hash = %s", (now, token_hash))


async def end_session(conn: Conn, *, token_hash: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE sessions SET ended_at = %s WHERE token_hash = %s AND ended_at IS NULL", (now, token_hash)
    )


async def end_user_sessions(conn: Conn, *, user_id: int, now: datetime, keep: bytes | None = None) -> None:
    await conn.execute(
        "UPDATE sessions SET ended_at = %s WHERE user_id = %s AND ended_at IS NULL AND token_hash IS DISTINCT FROM %s",
        (now, user_id, keep),
    )


async def upsert_family_link(
    conn: Conn,
    *,
    user_id: int,
    resident_id: int,
    relation: str | None,
    sharing: Sharing,
    recorded_by: str,
    now: datetime,
) -> FamilyLink:
    async with conn.cursor(row_factory=class_row(FamilyLink)) as cur:
        await cur.execute(
            "INSERT INTO family_links (user_id, resident_id, relation, share_status, share_vitals, share_activity, "
            "  share_incidents, share_location, consent_recorded_at, consent_recorded_by) "
            "VALUES (%(user)s, %(resident)s, %(relation)s, %(share_status)s, %(share_vitals)s, %(share_activity)s, "
            "        %(share_incidents)s, %(share_location)s, %(now)s, %(by)s) "
            "ON CONFLICT (user_id, resident_id) DO UPDATE SET relation = excluded.relation, "
            "  share_status = excluded.share_status, share_vitals = excluded.share_vitals, "
            "  share_activity = excluded.share_activity, share_incidents = excluded.share_incidents, "
            "  share_location = excluded.share_location, "
            "  consent_recorded_at = excluded.consent_recorded_at, consent_recorded_by = excluded.consent_recorded_by "
            "RETURNING user_id, resident_id, relation, share_status, share_vitals, share_activity, share_incidents, "
            "          share_location, consent_recorded_at, consent_recorded_by",
            {
                "user": user_id,
                "resident": resident_id,
                "relation": relation,
                "now": now,
                "by": recorded_by,
                **sharing.model_dump(),
            },
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def family_links(conn: Conn, *, user_id: int | None = None, resident_id: int | None = None) -> list[FamilyLink]:
    async with conn.cursor(row_factory=class_row(FamilyLink)) as cur:
        await cur.execute(
            "SELECT user_id, resident_id, relation, share_status, share_vitals, share_activity, share_incidents, "
            "       share_location, consent_recorded_at, consent_recorded_by FROM family_links "
            "WHERE (%(user)s::int IS NULL OR user_id = %(user)s) "
            "  AND (%(resident)s::int IS NULL OR resident_id = %(resident)s) ORDER BY resident_id, user_id",
            {"user": user_id, "resident": resident_id},
        )
        return await cur.fetchall()


async def delete_family_link(conn: Conn, *, user_id: int, resident_id: int) -> bool:
    cur = await conn.execute("DELETE FROM family_links WHERE user_id = %s AND resident_id = %s", (user_id, resident_id))
    return cur.rowcount > 0


async def visitor_sees(conn: Conn, *, user_id: int, resident_id: int) -> bool:
    """Whether the visitor has a welfare visit to the resident still to make, or recorded one in the last 12 hours."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT EXISTS (SELECT 1 FROM care_visits v WHERE v.visitor_id = %(u)s AND v.resident_id = %(r)s "
            "               AND (v.status = 'planned' OR EXISTS (SELECT 1 FROM welfare_visits w "
            "                    WHERE w.visit_id = v.id AND w.recorded_at > now() - interval '12 hours')))",
            {"u": user_id, "r": resident_id},
        )
        return bool(await cur.fetchone())


EARLIEST_CHECK_IN: Final = timedelta(hours=1)  # before the visit's start: a carer may come a little early

# A carer's route (``b`` a booking, ``v`` its visit once begun): their live bookings starting in the carer's day
# [since, until), due within the hour (check-in is open though the day has turned) or begun and not yet ended
# (a visit across midnight stays until its check-out; one left open is let go of after a day).
ON_CARERS_ROUTE = """
    b.carer_id = %(carer)s AND b.status = 'booked'
    AND ((b.starts_at >= %(since)s AND b.starts_at < %(until)s)
         OR (b.starts_at >= %(now)s AND b.starts_at < %(now)s + %(early)s)
         OR (v.checked_in_at IS NOT NULL AND v.checked_out_at IS NULL AND b.starts_at > %(now)s - interval '1 day'))
"""


def carers_route(carer_id: int, since: datetime, until: datetime, now: datetime) -> dict[str, Any]:
    """The parameters of ON_CARERS_ROUTE."""
    return {"carer": carer_id, "since": since, "until": until, "now": now, "early": EARLIEST_CHECK_IN}


async def carer_sees(
    conn: Conn, *, carer_id: int, resident_id: int, since: datetime, until: datetime, now: datetime
) -> bool:
    """Whether a visit to the resident is on the carer's route (their day is [since, until))."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT EXISTS (SELECT 1 FROM care_bookings b LEFT JOIN care_service_visits v ON v.booking_id = b.id "
            f"WHERE {ON_CARERS_ROUTE} AND b.resident_id = %(resident)s)",
            {**carers_route(carer_id, since, until, now), "resident": resident_id},
        )
        return bool(await cur.fetchone())


async def responder_sees(conn: Conn, *, station_id: int, resident_id: int) -> bool:
    """Whether the resident belongs to the station or has an incident with a task sent to it."""
    async with conn.cursor(row_factory=scalar_row) as cur:
        await cur.execute(
            "SELECT EXISTS (SELECT 1 FROM residents WHERE id = %(r)s AND station_id = %(s)s) "
            "    OR EXISTS (SELECT 1 FROM station_tasks t JOIN incidents i ON i.id = t.incident_id "
            "               WHERE i.resident_id = %(r)s AND t.station_id = %(s)s)",
            {"r": resident_id, "s": station_id},
        )
        return bool(await cur.fetchone())
