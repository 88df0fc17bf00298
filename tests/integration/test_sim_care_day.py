"""The simulated carers' day: `homecare run` books the neighbourhood's visits of today and tomorrow for its carers
(with the codes they type), writes what of today already happened, and from then on the simulator's home units send
each carer's code as they arrive and leave, which checks the visit in at the platform (sim → broker → gateway →
alarm pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from homecare.backend.accounts.demo import demo_logins
from homecare.backend.alarms.pipeline import ManualClock
from homecare.gateway.service import Gateway
from homecare.launcher.care_day import book_care_days
from homecare.launcher.runner import _enrol
from homecare.sim.clock import SimClock
from homecare.sim.mqtt_url import parse_mqtt_url
from homecare.sim.neighbourhood import build_neighbourhood
from homecare.sim.runner import NeighbourhoodRun, RunOptions
from tests.support.backend import start_backend
from tests.support.database import scalar
from tests.support.waiting import eventually


@pytest.mark.parametrize("broker_url", ["amqtt"], indirect=True)
async def test_the_simulated_day_books_visits_and_its_home_units_check_carers_in(
    database_url: str, broker_url: str, gateway: Gateway, tmp_path: Path
) -> None:
    hood = build_neighbourhood(12, seed=7)
    assert hood.care is not None
    await _enrol(database_url, hood.enrolment, demo_logins(tmp_path))
    today = datetime.now(UTC).astimezone(hood.tz).date()
    plan = hood.care.day(today)
    assert [v for v in plan if v.arrives is None], "one visit of the day is missed"
    # Start the day just before the second arrival: the first visit is history, the second is the home unit's.
    arriving = sorted((v for v in plan if v.arrives is not None), key=lambda v: v.arrives or 0)
    first, second = arriving[0], arriving[1]
    assert second.arrives is not None
    start = datetime.fromtimestamp(second.arrives - 5, UTC)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        booked = await book_care_days(conn, care=hood.care, now=start)
        assert booked == len(plan) + len(hood.care.day(today + timedelta(days=1)))
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
