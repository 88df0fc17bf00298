"""Accounts through the real API: sign-in, sessions that end, rate limiting, roles, administration, the CLI."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from homecare.backend.accounts.passwords import hash_password, verify_password
from tests.support.backend import AUTH, Backend, start_backend
from tests.support.world import World, signed_in


@pytest.fixture
async def backend(database_url: str, amqtt_url: str, world: World) -> AsyncIterator[Backend]:
    running = await start_backend(database_url, login_max_failures=3, session_idle_minutes=30)
    yield running
    await running.stop()


def test_passwords_are_argon2id_and_verify() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse batterY")
    assert not verify_password(None, "anything")


async def test_sign_in_sets_an_http_only_strict_cookie_and_me_answers(backend: Backend, world: World) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        credentials = {"username": "Operator", "password": world.password("operator")}
        response = await http.post("/api/auth/login", json=credentials)
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        me = (await http.get("/api/auth/me")).json()
        assert me["username"] == "operator"
        assert me["role"] == "operator"
        assert me["language"] == "zh"

        assert (await http.post("/api/auth/logout")).status_code == 204
        assert (await http.get("/api/auth/me")).status_code == 401


async def test_wrong_passwords_are_refused_then_paused(
    backend: Backend, world: World, db: psycopg.AsyncConnection
) -> None:
    async with httpx.AsyncClient(base_url=backend.url) as http:
        for _ in range(3):
            response = await http.post("/api/auth/login", json={"username": "operator", "password": "wrong-password"})
            assert response.status_code == 401
            assert response.json()["detail"] == "wrong user name or password"
        right = {"username": "operator", "password": world.password("operator")}
        paused = await http.post("/api/auth/login", json=right)
        assert paused.status_code == 429
        assert int(paused.headers["retry-after"]) > 0
        # An unknown name answers exactly like a wrong password.
        unknown = await http.post("/api/auth/login", json={"username": "nobody", "password": "wrong-password"})
        assert unknown.status_code == 401
        assert unknown.json()["detail"] == "wrong user name or password"
    rows = await (
        await db.execute("SELECT count(*) FILTER (WHERE NOT succeeded) FROM login_attempts WHERE username = 'operator'")
    ).fetchone()
    assert rows == (3,)


async def test_idle_and_expired_sessions_end(backend: Backend, world: World, db: psycopg.AsyncConnection) -> None:
    async with signed_in(backend, world, "operator") as http:
        assert (await http.get("/api/auth/me")).status_code == 200
        await db.execute("UPDATE sessions SET last_seen_at = now() - interval '31 minutes'")
        assert (await http.get("/api/auth/me")).status_code == 401
    async with signed_in(backend, world, "operator") as http:
        await db.execute("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE ended_at IS NULL")
        assert (await http.get("/api/incidents")).status_code == 401


async def test_disabling_a_user_ends_their_sessions_and_sign_in(backend: Backend, world: World) -> None:
    async with signed_in(backend, world, "operator") as operator, signed_in(backend, world, "admin") as admin:
        response = await admin.patch(f"/api/users/{world.user_ids['operator']}", json={"disabled": True})
        assert response.status_code == 200
        assert response.json()["disabled"] is True
        assert (await operator.get("/api/incidents")).status_code == 401
        again = await operator.post(
            "/api/auth/login", json={"username": "operator", "password": world.password("operator")}
        )
        assert again.status_code == 401
        # The last administrator cannot lock everyone out.
        own = await admin.patch(f"/api/users/{world.user_ids['admin']}", json={"disabled": True})
        assert own.status_code == 422


async def test_roles_reach_only_their_routes(backend: Backend, world: World) -> None:
    expected = {  # path → roles that get 200
        "/api/incidents": {"admin", "supervisor", "operator"},
        "/api/stations": {"admin", "supervisor", "operator"},
        "/api/reports/coverage": {"admin", "supervisor"},
        "/api/users": {"admin"},
    }
    for username in ("admin", "supervisor", "operator", "responder", "family"):
        async with signed_in(backend, world, username) as http:
            for path, allowed in expected.items():
                status = (await http.get(path)).status_code
                assert status == (200 if username in allowed else 403), (username, path, status)


async def test_family_sees_only_their_relative_and_only_what_is_shared(
    backend: Backend, world: World, db: psycopg.AsyncConnection
) -> None:
    mine, theirs = world.resident_ids[0], world.resident_ids[1]
    async with signed_in(backend, world, "family") as http:
        assert (await http.get(f"/api/residents/{mine}/vitals/recent")).status_code == 200
        assert (await http.get(f"/api/residents/{theirs}/vitals/recent")).status_code == 404
        await db.execute("UPDATE family_links SET share_vitals = false WHERE resident_id = %s", (mine,))
        assert (await http.get(f"/api/residents/{mine}/vitals/recent")).status_code == 404
        # Location is never shared with family.
        await db.execute("UPDATE family_links SET share_vitals = true WHERE resident_id = %s", (mine,))
        located = await http.get(f"/api/residents/{mine}/vitals/recent", params={"metric": "latitude"})
        assert located.status_code == 404


async def test_every_opening_of_a_record_is_logged_with_the_user(
    backend: Backend, world: World, db: psycopg.AsyncConnection
) -> None:
    async with signed_in(backend, world, "operator") as http:
        assert (await http.get(f"/api/residents/{world.resident_ids[2]}/vitals/recent")).status_code == 200
    row = await (
        await db.execute(
            "SELECT actor, user_id, action FROM access_log WHERE resident_id = %s ORDER BY id DESC LIMIT 1",
            (world.resident_ids[2],),
        )
    ).fetchone()
    assert row == ("operator", world.user_ids["operator"], "vitals.recent")


async def test_a_cross_site_request_with_the_cookie_is_refused(backend: Backend, world: World) -> None:
    async with signed_in(backend, world, "operator") as http:
        forged = await http.post(
            "/api/incidents/1/notes", json={"note": "x"}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 401
        assert "cross-site" in forged.json()["detail"]


async def test_admin_creates_users_with_validation(backend: Backend, world: World) -> None:
    async with signed_in(backend, world, "admin") as http:
        created = await http.post(
            "/api/users",
            json={"username": "li.na", "display_name": "李娜", "role": "operator", "password": "long enough pw"},
        )
        assert created.status_code == 201
        taken = await http.post(
            "/api/users",
            json={"username": "li.na", "display_name": "x", "role": "operator", "password": "long enough pw"},
        )
        assert taken.status_code == 422
        assert "taken" in taken.json()["detail"]
        short = await http.post(
            "/api/users", json={"username": "wang", "display_name": "x", "role": "operator", "password": "short"}
        )
        assert short.status_code == 422
        stationless = await http.post(
            "/api/users",
            json={"username": "resp2", "display_name": "x", "role": "responder", "password": "long enough pw"},
        )
        assert stationless.status_code == 422
        assert "station" in stationless.json()["detail"]
    async with httpx.AsyncClient(base_url=backend.url) as http:
        ok = await http.post("/api/auth/login", json={"username": "li.na", "password": "long enough pw"})
        assert ok.status_code == 200
        assert ok.json()["display_name"] == "李娜"


async def test_the_service_token_acts_as_administrator(backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as http:
        assert (await http.get("/api/users")).status_code == 200
        assert (await http.get("/api/auth/me")).json()["role"] == "admin"
    async with httpx.AsyncClient(base_url=backend.url, headers={"Authorization": "Bearer wrong"}) as http:
        assert (await http.get("/api/users")).status_code == 401


def test_create_admin_from_the_command_line(database_url: str) -> None:
    env = {"HOMECARE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "homecare.launcher.cli",
            "users",
            "create-admin",
            "root.admin",
            "--name",
            "Root",
            "--password",
            "a good long password",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT role, password_hash FROM users WHERE username = 'root.admin'").fetchone()
    assert row is not None
    assert row[0] == "admin"
    assert verify_password(row[1], "a good long password")
    weak = subprocess.run(
        [sys.executable, "-m", "homecare.launcher.cli", "users", "create-admin", "weak", "--password", "short"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert weak.returncode != 0
    assert "10" in weak.stderr


async def test_expired_rows_are_removed_by_maintenance(database_url: str, world: World) -> None:
    from homecare.backend.settings import Settings
    from homecare.storage.maintenance import maintain_once

    old = datetime.now(UTC) - timedelta(days=40)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("INSERT INTO login_attempts (at, username, succeeded) VALUES (%s, 'x', false)", (old,))
        await conn.execute(
            "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ('\\x00', %s, %s)",
            (world.user_ids["operator"], old),
        )
        report = await maintain_once(conn, settings=Settings(_env_file=None, raw_retention_days=30))  # type: ignore[call-arg]
    assert report is not None
    assert report.rows_deleted["login_attempts"] == 1
    assert report.rows_deleted["sessions"] == 1


async def test_a_guesser_elsewhere_cannot_lock_the_operator_out(
    database_url: str, world: World, db: psycopg.AsyncConnection
) -> None:
    # Behind the centre's proxy (trusted): each request carries the address it came from.
    proxied = await start_backend(database_url, login_max_failures=3, trusted_proxies=["127.0.0.1"])
    try:
        async with httpx.AsyncClient(base_url=proxied.url) as http:
            guesser = {"X-Forwarded-For": "203.0.113.9"}
            for _ in range(3):
                wrong = {"username": "operator", "password": "wrong-password"}
                assert (await http.post("/api/auth/login", json=wrong, headers=guesser)).status_code == 401
            right = {"username": "operator", "password": world.password("operator")}
            # The guesser is paused, even with the right password...
            assert (await http.post("/api/auth/login", json=right, headers=guesser)).status_code == 429
            # ...while the operator at their own desk signs in at once.
            desk = {"X-Forwarded-For": "198.51.100.4"}
            assert (await http.post("/api/auth/login", json=right, headers=desk)).status_code == 200
    finally:
        await proxied.stop()
    failures = await (
        await db.execute("SELECT DISTINCT ip FROM login_attempts WHERE username = 'operator' AND NOT succeeded")
    ).fetchall()
    assert failures == [("203.0.113.9",)]


async def test_a_client_cannot_choose_the_address_its_failures_count_against(
    backend: Backend, db: psycopg.AsyncConnection
) -> None:
    # No proxy is configured: X-Forwarded-For is a claim anybody can make, and it is not believed.
    async with httpx.AsyncClient(base_url=backend.url, headers={"X-Forwarded-For": "198.51.100.4"}) as http:
        wrong = {"username": "operator", "password": "wrong-password"}
        assert (await http.post("/api/auth/login", json=wrong)).status_code == 401
    recorded = await (await db.execute("SELECT ip FROM login_attempts WHERE username = 'operator'")).fetchall()
    assert recorded == [("127.0.0.1",)]


async def test_another_site_can_neither_sign_a_user_out_nor_in(backend: Backend, world: World) -> None:
    evil = {"Origin": "https://evil.example"}
    async with signed_in(backend, world, "operator") as http:
        refused = await http.post("/api/auth/logout", headers=evil)
        assert (refused.status_code, refused.json()["detail"]) == (401, "cross-site request refused")
        assert (await http.get("/api/auth/me")).status_code == 200  # still signed in
        right = {"username": "operator", "password": world.password("operator")}
        assert (await http.post("/api/auth/login", json=right, headers=evil)).status_code == 401
        assert (await http.post("/api/auth/logout")).status_code == 204  # from our own page
        assert (await http.get("/api/auth/me")).status_code == 401
