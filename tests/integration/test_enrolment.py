"""Enrolling the simulated neighbourhood: residents, homes, stations, contacts, devices and this month's welfare
visits to the vulnerable, idempotently."""

from __future__ import annotations

from pathlib import Path

import psycopg

from homecare.backend.accounts.demo import demo_logins
from homecare.contracts.messages import DeviceKind
from homecare.launcher.runner import _enrol
from homecare.sim.neighbourhood import build_neighbourhood


async def test_a_neighbourhood_is_enrolled_once_however_often_it_runs(database_url: str, tmp_path: Path) -> None:
    enrolment = build_neighbourhood(12, seed=7).enrolment  # three of them frail enough to be visited
    logins = demo_logins(tmp_path)
    await _enrol(database_url, enrolment, logins)
    await _enrol(database_url, enrolment, demo_logins(tmp_path))  # `make run` again: nothing is duplicated
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        counts = await (
            await conn.execute(
                "SELECT (SELECT count(*) FROM residents), (SELECT count(*) FROM devices),"
                " (SELECT count(*) FROM stations), (SELECT count(*) FROM resident_contacts),"
                " (SELECT count(*) FROM residents WHERE lat IS NULL OR station_id IS NULL),"
                " (SELECT count(*) FROM users), (SELECT count(*) FROM family_links)"
            )
        ).fetchone()
        kinds = {row[0] for row in await (await conn.execute("SELECT DISTINCT kind FROM devices")).fetchall()}
        visits = await (
            await conn.execute(
                "SELECT count(DISTINCT v.resident_id), count(*) FILTER (WHERE u.username IS DISTINCT FROM 'visitor'), "
                "       (SELECT count(*) FROM residents WHERE vulnerable), count(*) - count(DISTINCT v.due_from) "
                "FROM care_visits v LEFT JOIN users u ON u.id = v.visitor_id WHERE v.frequency = 'monthly'"
            )
        ).fetchone()
    assert counts == (
        12,
        len(enrolment.devices),
        len(enrolment.stations),
        sum(len(r.contacts) for r in enrolment.residents),
        0,
        len(logins),
        2,
    )
    assert kinds <= {kind.value for kind in DeviceKind}
    # Every resident flagged vulnerable has one visit this month, given to the demo visitor of their station.
    assert visits is not None
    vulnerable = sum(r.vulnerable for r in enrolment.residents)
    assert vulnerable > 0
    assert visits[0] == visits[2] == vulnerable
    assert visits[1] == sum(  # the demo visitor belongs to the first station; other stations have none yet
        r.vulnerable and r.station != enrolment.stations[0].code for r in enrolment.residents
    )
    assert visits[3] == vulnerable - 1  # all of them for the same month, once each


async def test_the_database_accepts_exactly_the_contracts_device_kinds(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        row = await (
            await conn.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'devices'::regclass "
                "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%%kind%%'"
            )
        ).fetchone()
    assert row is not None
    allowed = {part.split("'")[1] for part in row[0].split("::text")[:-1] if "'" in part}
    assert allowed == {kind.value for kind in DeviceKind}
