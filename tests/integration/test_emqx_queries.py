"""EMQX's device sign-in and authorisation queries (deploy/emqx/emqx.conf) on the platform's real tables, run as a
role with no more than deploy/postgres/emqx-grant.sql gives."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import psycopg
import pytest

from tests.support.enrolment import enrol

DEPLOY: Final = Path(__file__).resolve().parents[2] / "deploy"
CONF: Final = (DEPLOY / "emqx" / "emqx.conf").read_text()
AUTHN, AUTHZ = re.findall(r'^\s*query = "(.*)"$', CONF, re.MULTILINE)
SECRET: Final = "s3cret-of-the-pendant-0123456789"


def as_psycopg(query: str) -> str:
    """EMQX's placeholder ${username} (sent as a bound parameter) as psycopg's, its other % as literal."""
    return query.replace("%", "%%").replace("${username}", "%(username)s")


@pytest.fixture
async def emqx(database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection acting as the role emqx with the documented grant, in a transaction rolled back at the end."""
    await enrol(
        database_url,
        {"sos-emqx-01": "sos_pendant", "sos-emqx-02": "sos_pendant"},
        secrets={"sos-emqx-01": SECRET, "sos-emqx-02": SECRET},
    )
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await conn.execute("UPDATE devices SET revoked_at = now() WHERE uid = 'sos-emqx-02'")
        await conn.execute("CREATE ROLE emqx NOLOGIN")
        await conn.execute((DEPLOY / "postgres" / "emqx-grant.sql").read_text())
        await conn.execute("SET ROLE emqx")
        yield conn
        await conn.rollback()


async def rows(conn: psycopg.AsyncConnection[Any], query: str, username: str) -> list[tuple[Any, ...]]:
    return await (await conn.execute(as_psycopg(query), {"username": username})).fetchall()


async def test_a_device_signs_in_with_its_secret_and_a_revoked_or_unknown_one_cannot(
    emqx: psycopg.AsyncConnection[Any],
) -> None:
    # EMQX's sha256 with no salt compares the lowercase hex digest of the password with password_hash.
    assert await rows(emqx, AUTHN, "sos-emqx-01") == [(hashlib.sha256(SECRET.encode()).hexdigest(),)]
    assert await rows(emqx, AUTHN, "sos-emqx-02") == []  # revoked
    assert await rows(emqx, AUTHN, "sos-nobody-01") == []
    assert await rows(emqx, AUTHN, "x' OR '1'='1") == []


async def test_a_device_may_publish_under_its_own_id_except_its_cmd_topic_which_it_reads(
    emqx: psycopg.AsyncConnection[Any],
) -> None:
    assert await rows(emqx, AUTHZ, "sos-emqx-01") == [
        ("deny", "publish", "homecare/+/dev/sos-emqx-01/cmd"),  # first: EMQX applies the first rule that matches
        ("allow", "publish", "homecare/+/dev/sos-emqx-01/+"),
        ("allow", "subscribe", "homecare/v1/dev/sos-emqx-01/cmd"),
    ]
    assert await rows(emqx, AUTHZ, "sos-emqx-02") == []  # revoked: nothing (no_match = deny)


async def test_the_role_reads_nothing_else(emqx: psycopg.AsyncConnection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        await emqx.execute("SELECT display_name FROM residents")
