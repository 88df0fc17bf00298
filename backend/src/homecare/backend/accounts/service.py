"""Sign-in and sessions, and account administration (who may open which resident: ``residents.access``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import psycopg

from homecare.backend.accounts import (
    Forbidden,
    InvalidAccount,
    LoginRefused,
    NotAuthenticated,
    TooManyAttempts,
    UserNotFound,
)
from homecare.backend.accounts import repository as repo
from homecare.backend.accounts.models import (
    STATION_ROLES,
    Actor,
    Language,
    NewUser,
    Role,
    User,
    UserPatch,
)
from homecare.backend.accounts.passwords import hash_password, needs_rehash, verify_password
from homecare.backend.settings import Settings
from homecare.backend.zones import find_zone
from homecare.storage.connections import Conn

SESSION_TOUCH_EVERY = timedelta(minutes=1)
"""A session's last_seen_at is written at most this often, not on every request."""


def token_hash(token: str) -> bytes:
    """What the database keeps of a session cookie."""
    return hashlib.sha256(token.encode()).digest()


def _check_timezone(zone: str) -> None:
    if find_zone(zone) is None:
        raise InvalidAccount(f"unknown time zone {zone!r}")


async def login(
    conn: Conn,
    *,
    settings: Settings,
    username: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    now: datetime,
) -> str:
    """Check the password and open a session; returns the cookie value. Failures are counted and rate-limited by
    address: too many for one name pause that name from that address, too many from an address pause the address.
    The account is never locked, so a guesser cannot keep an operator out of the call centre."""
    name = username.strip().lower()
    since = now - timedelta(seconds=settings.login_window_s)
    by_name, by_ip, oldest = await repo.recent_failures(conn, username=name, ip=ip, since=since)
    if by_name >= settings.login_max_failures or by_ip >= settings.login_max_failures_per_ip:
        wait = settings.login_window_s if oldest is None else (oldest - since).total_seconds()
        raise TooManyAttempts(max(1, int(wait) + 1))
    found = await repo.credentials(conn, username=name)
    ok = verify_password(None if found is None else found.password_hash, password)
    if found is None or not ok or found.disabled:
        await repo.record_attempt(conn, username=name, ip=ip, succeeded=False, at=now)
        raise LoginRefused("wrong user name or password")
    await repo.record_attempt(conn, username=name, ip=ip, succeeded=True, at=now)
    if needs_rehash(found.password_hash):
        await repo.update_user(conn, user_id=found.id, changes={"password_hash": hash_password(password)})
    token = secrets.token_urlsafe(32)
    await repo.insert_session(
        conn,
        token_hash=token_hash(token),
        user_id=found.id,
        now=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=ip,
        user_agent=None if user_agent is None else user_agent[:300],
    )
    return token


async def logout(conn: Conn, *, token: str, now: datetime) -> None:
    await repo.end_session(conn, token_hash=token_hash(token), now=now)


async def session_actor(conn: Conn, *, settings: Settings, token: str, now: datetime) -> Actor:
    """The user behind a session cookie; raises NotAuthenticated when it ended, expired or idled out."""
    digest = token_hash(token)
    found = await repo.session_user(
        conn, token_hash=digest, now=now, idle_since=now - timedelta(minutes=settings.session_idle_minutes)
    )
    if found is None:
        raise NotAuthenticated("the session has ended; sign in again")
    if now - found.last_seen_at >= SESSION_TOUCH_EVERY:
        await repo.touch_session(conn, token_hash=digest, now=now)
    language: Language = "en" if found.language == "en" else "zh"
    return Actor(
        name=found.username,
        role=Role(found.role),
        user_id=found.user_id,
        display_name=found.display_name,
        station_id=found.station_id,
        language=language,
        timezone=found.timezone,
    )


async def update_me(conn: Conn, *, actor: Actor, language: Language | None, timezone: str | None) -> None:
    if actor.user_id is None:
        raise Forbidden("the service token has no preferences to change")
    changes: dict[str, object] = {}
    if language is not None:
        changes["language"] = language
    if timezone is not None:
        _check_timezone(timezone)
        changes["timezone"] = timezone
    if changes:
        await repo.update_user(conn, user_id=actor.user_id, changes=changes)


async def change_password(
    conn: Conn, *, actor: Actor, current: str, new: str, keep_token: str | None, now: datetime
) -> None:
    """Change one's own password after checking the current one; other sessions end."""
    if actor.user_id is None:
        raise Forbidden("the service token has no password")
    found = await repo.credentials(conn, username=actor.name)
    if found is None or not verify_password(found.password_hash, current):
        raise LoginRefused("the current password is wrong")
    await repo.update_user(
        conn, user_id=actor.user_id, changes={"password_hash": hash_password(new), "password_changed_at": now}
    )
    await repo.end_user_sessions(
        conn, user_id=actor.user_id, now=now, keep=None if keep_token is None else token_hash(keep_token)
    )


async def create_user(conn: Conn, *, new: NewUser) -> User:
    """Add an account; a taken name or a responder without a station is refused."""
    _check_timezone(new.timezone)
    if new.role in STATION_ROLES and new.station_id is None:
        raise InvalidAccount(f"a {new.role.value} belongs to a station: give station_id")
    try:
        async with conn.transaction():
            return await repo.insert_user(
                conn,
                username=new.username,
                display_name=new.display_name,
                role=new.role,
                password_hash=hash_password(new.password),
                station_id=new.station_id,
                phone=new.phone,
                email=new.email,
                language=new.language,
                timezone=new.timezone,
            )
    except psycopg.errors.UniqueViolation as err:
        raise InvalidAccount(f"the user name {new.username!r} is taken") from err
    except psycopg.errors.ForeignKeyViolation as err:
        raise InvalidAccount(f"station {new.station_id} does not exist") from err


async def update_user(conn: Conn, *, actor: Actor, user_id: int, patch: UserPatch, now: datetime) -> User:
    """Change an account. Disabling it or setting a password ends its sessions; the last admin stays."""
    current = await repo.get_user(conn, user_id=user_id)
    if current is None:
        raise UserNotFound(f"user {user_id} does not exist")
    changes: dict[str, object] = patch.model_dump(exclude_unset=True, exclude={"password", "disabled", "role"})
    if patch.role is not None:
        changes["role"] = patch.role.value
    if patch.password is not None:
        changes["password_hash"] = hash_password(patch.password)
        changes["password_changed_at"] = now
    if patch.disabled is not None:
        changes["disabled_at"] = now if patch.disabled else None
    losing_admin = current.role is Role.ADMIN and (patch.disabled or (patch.role not in (None, Role.ADMIN)))
    if losing_admin and user_id == actor.user_id:
        raise InvalidAccount("you cannot disable or demote your own administrator account")
    if not changes:
        return current
    try:
        async with conn.transaction():
            updated = await repo.update_user(conn, user_id=user_id, changes=changes)
            assert updated is not None
            if losing_admin and await repo.count_admins(conn) == 0:
                raise InvalidAccount("the last administrator cannot be disabled or demoted")
            if patch.disabled or patch.password is not None:
                await repo.end_user_sessions(conn, user_id=user_id, now=now)
    except psycopg.errors.CheckViolation as err:
        raise InvalidAccount("responders, visitors and carers belong to a station: give station_id") from err
    except psycopg.errors.ForeignKeyViolation as err:
        raise InvalidAccount(f"station {patch.station_id} does not exist") from err
    return updated
