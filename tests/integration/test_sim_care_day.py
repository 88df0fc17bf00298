"""The simulated carers' day: `homecare run` books the neighbourhood's visits of today and tomorrow for its carers
(with the codes they type), writes what of today already happened, and from then on the simulator's home units send
each carer's code as they arrive and leave, which checks the visit in at the platform (sim → broker → gateway →
alarm pipeline). The carer-no-show scenario books a visit through the API whose carer never comes, and the platform
raises the non-arrival; the missed-dose scenario's schedule escalates as fast as its speed."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from homecare.backend.accounts.demo import demo_logins
from homecare.backend.alarms.pipeline import ManualClock
from homecare.backend.stations.repository import upsert_station
from homecare.gateway.service import Gateway
from homecare.launcher.care_day import book_care_days
from homecare.launcher.runner import _enrol
from homecare.sim.carers import CareVisit
from homecare.sim.cli import _book_no_shows
from homecare.sim.clock import SimClock
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.platform import Platform
from homecare.sim.runner import NeighbourhoodRun, RunOptions
from homecare.sim.scenarios import SCENARIO_DIR, load_scenario, on_present_clock, prescriptions, stage
from tests.support.backend import TOKEN, start_backend
from tests.support.database import scalar
from tests.support.waiting import eventually


@pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)
async def test_the_simulated_day_books_visits_and_its_home_units_check_carers_in(
    database_url: str, broker_url: str, gateway: Gateway, tmp_path: Path
) -> None:
    hood = build_neighbourhood(12, seed=7)
    assert hood.care is not None
    await _enrol(database_url, hood.enrolment, demo_logins(tmp_path))
    # Start a day just before its second arrival: the first visit is history, the second is the home unit's. The
    # day is today if that arrival has passed, else yesterday: the platform takes a carer's code at the earlier of
    # its clock and the code's arrival, so the simulated day must not lie ahead of the real one.
    now = datetime.now(UTC)
    day = now.astimezone(hood.tz).date()
    if (_arrivals(hood.care.day(day))[1].arrives or 0) > now.timestamp():
        day -= timedelta(days=1)
    plan = hood.care.day(day)
    assert [v for v in plan if v.arrives is None], "one visit of the day is missed"
    first, second = _arrivals(plan)[:2]
    assert second.arrives is not None
    start = datetime.fromtimestamp(second.arrives - 5, UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        booked = await book_care_days(conn, care=hood.care, now=start)
        assert booked == len(plan) + len(hood.care.day(day + timedelta(days=1)))
        assert await book_care_days(conn, care=hood.care, now=start) == 0  # a re-run books nothing twice

    visits = "SELECT b.id FROM care_bookings b JOIN residents r ON r.id = b.resident_id WHERE r.external_ref = %s "
    ref = "sim-7-{:04d}"
    done = await scalar(
        database_url,
        f"SELECT v.home_unit_in_at FROM care_service_visits v WHERE v.booking_id = ({visits} AND b.starts_at = %s)",
        ref.format(first.resident),
        first.starts,
    )
    assert done == datetime.fromtimestamp(first.arrives or 0, UTC)
    assert await scalar(database_url, "SELECT count(*) FROM care_service_visits WHERE home_unit_in_event IS NULL") >= 1
    demo_carer = await scalar(
        database_url,
        "SELECT c.code FROM care_carer_codes c JOIN users u ON u.id = c.user_id WHERE u.username = 'carer'",
    )
    assert demo_carer == hood.care.carer(hood.enrolment.stations[0].code, 1).code

    backend = await start_backend(database_url, ManualClock(start))
    try:
        run = NeighbourhoodRun(
            hood,
            parse_mqtt_url(broker_url),
            SimClock(start.timestamp(), speed=2),
            residents=[second.resident],
            options=RunOptions(tick_s=0.05, resend_after_s=1.0),
        )
        await run.run(until=start.timestamp() + 20)
        checked_in = await eventually(
            lambda: scalar(
                database_url,
                "SELECT v.home_unit_in_event FROM care_service_visits v WHERE v.booking_id = "
                f"({visits} AND b.starts_at = %s)",
                ref.format(second.resident),
                second.starts,
            )
        )
        code = await scalar(database_url, "SELECT carer_code FROM events WHERE id = %s", checked_in)
        assert code == hood.care.carer(second.station, second.carer).code
    finally:
        await backend.stop()


async def test_the_carer_no_show_scenario_books_a_visit_nobody_comes_to_and_the_platform_alerts(
    database_url: str,
) -> None:
    present = on_present_clock(load_scenario(SCENARIO_DIR / "carer-no-show.yaml"))
    hood, _ = stage(present)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for s in hood.enrolment.stations:
            await upsert_station(conn, code=s.code, name=s.name, address=s.address, phone=s.phone, lat=s.lat, lon=s.lon)
    clock = ManualClock()
    backend = await start_backend(database_url, clock)
    try:
        with Platform(backend.url, TOKEN) as platform:
            reference = present.resident_reference
            await asyncio.to_thread(platform.enrol, [hood.household(5).record], reference=reference)
            await asyncio.to_thread(_book_no_shows, platform, present, logging.getLogger(__name__))
        resident = await scalar(
            database_url, "SELECT id FROM residents WHERE external_ref = %s", reference.format(index=5)
        )
        starts_at = await scalar(database_url, "SELECT starts_at FROM care_bookings WHERE resident_id = %s", resident)
        assert starts_at > clock.now()
        # Nobody types a code; 15 minutes after the start the platform raises the carer's non-arrival.
        clock.advance((starts_at - clock.now()).total_seconds() + 16 * 60)
        incident = await eventually(
            lambda: scalar(
                database_url,
                "SELECT explanation_zh FROM incidents WHERE resident_id = %s AND cause = 'carer_non_arrival'",
                resident,
            )
        )
        assert "午餐送餐" in incident
        assert "仍未签到" in incident
    finally:
        await backend.stop()


async def test_the_missed_dose_scenario_at_speed_30_reaches_the_station_within_minutes(database_url: str) -> None:
    """The scenario gives its schedule windows scaled by the speed: at 30 the family after a minute, the station a
    minute later, instead of the platform's half hour each."""
    present = on_present_clock(load_scenario(SCENARIO_DIR / "missed-dose.yaml"), speed=30)
    hood, _ = stage(present)
    [(index, step, due)] = prescriptions(present)
    clock = ManualClock()
    backend = await start_backend(database_url, clock)
    try:
        with Platform(backend.url, TOKEN) as platform:
            reference = present.resident_reference.format(index=index)
            await asyncio.to_thread(
                platform.enrol, [hood.household(index).record], reference=present.resident_reference
            )
            windows = step.windows_min(present.speed)
            await asyncio.to_thread(
                platform.prescribe, reference, medicine=step.medicine, dose=step.dose, due=due, windows_min=windows
            )
        assert windows == (1, 1)
        resident = await scalar(database_url, "SELECT id FROM residents WHERE external_ref = %s", reference)
        clock.advance((due - clock.now()).total_seconds() + 90)  # a minute and a half after the dose time
        await eventually(
            lambda: scalar(database_url, "SELECT family_told_at FROM medication_doses WHERE resident_id = %s", resident)
        )
        assert await scalar(database_url, "SELECT count(*) FROM incidents WHERE cause = 'missed_dose'") == 0
        clock.advance(60)  # two and a half minutes after
        incident = await eventually(
            lambda: scalar(
                database_url,
                "SELECT explanation_zh FROM incidents WHERE resident_id = %s AND cause = 'missed_dose'",
                resident,
            )
        )
        assert "二甲双胍 Metformin 500 mg" in incident
    finally:
        await backend.stop()


def _arrivals(plan: tuple[CareVisit, ...]) -> list[CareVisit]:
    """The day's visits a carer comes to, in the order they arrive."""
    return sorted((v for v in plan if v.arrives is not None), key=lambda v: v.arrives or 0)
