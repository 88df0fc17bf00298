"""A home-service visit not started in time: the carer's non-arrival raises an alarm in the operator's console (the
resident in the queue, the service and the carer in the explanation, zh and en) and tops the station's live service
board, which shows the day's visits per carer; the month's figures per provider and carer are on the dashboard."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from homecare.backend.alarms.pipeline import ManualClock
from tests.browser.conftest import SignIn, screenshot
from tests.browser.test_carer import a_carer_day
from tests.support.backend import Backend
from tests.support.world import World

pytestmark = pytest.mark.daytime


@pytest.fixture
def backend(world: World, clocked_backend: Backend) -> Backend:
    """The API on the clock early in the day, so that the visits booked ahead of it are today's."""
    return clocked_backend


async def test_a_visit_not_started_in_time_alerts_the_console_and_the_station_board(
    sign_in: SignIn, backend: Backend, world: World, clock: ManualClock
) -> None:
    first, second = await a_carer_day(backend, world, clock.now())
    resident = world.enrolment.residents[0].name

    # The station's board: the demo carer's two meals today, both still to come.
    station = await sign_in("responder")
    board = station.locator("#service-board")
    await expect(board.locator("h2")).to_have_text("今日上门服务")
    await expect(board.locator(f"tr[data-booking-id='{first}']")).to_have_attribute("data-state", "booked")
    await expect(board.locator(f"tr[data-booking-id='{second}'] .visit-state")).to_have_text("待服务")
    await expect(board.locator(".board-carer h4")).to_contain_text("吴芳")
    await expect(station.locator("#no-non-arrivals")).to_be_visible()
    console = await sign_in("operator")

    # 40 minutes on, the first meal was due 20 minutes ago and the carer never checked in.
    clock.advance(40 * 60)

    row = console.locator("#queue .q-row")
    await expect(row).to_have_count(1, timeout=15_000)
    await expect(row.locator(".q-name")).to_have_text(resident)
    await expect(row.locator(".q-cause")).to_have_text("服务人员未到")
    await row.click()
    explanation = console.locator("#inc-explanation")
    await expect(explanation).to_contain_text(resident)
    await expect(explanation).to_contain_text("居家保洁")
    await expect(explanation).to_contain_text("吴芳")
    await expect(explanation).to_contain_text("仍未签到")

    english = await sign_in("operator", lang="en")
    await expect(english.locator("#queue .q-row .q-cause")).to_have_text("Carer did not arrive")
    await english.locator("#queue .q-row").click()
    await expect(english.locator("#inc-explanation")).to_contain_text("has not checked in")

    # The board puts it on top, as a no-show, without a reload.
    alert = station.locator(f"#non-arrivals li[data-booking-id='{first}']")
    await expect(alert).to_contain_text(resident, timeout=15_000)
    await expect(alert).to_contain_text("居家保洁")
    await expect(alert).to_contain_text("吴芳")
    await expect(board.locator(f"tr[data-booking-id='{first}'] .visit-state")).to_have_text("未到")
    await expect(station.locator("#announcer")).to_contain_text(f"服务人员未到：{resident}")
    await screenshot(station, "service-board")

    # The supervisor looks at every station's board, in English.
    supervisor = await sign_in("supervisor", lang="en")
    await supervisor.goto("/station")
    await supervisor.check("#board-all")
    await expect(supervisor.locator("#non-arrivals")).to_contain_text("Carer not arrived (1)")
    await expect(supervisor.locator(f"tr[data-booking-id='{first}'] .visit-state")).to_have_text("No-show")
    await expect(supervisor.locator(f"tr[data-booking-id='{second}'] .visit-state")).to_have_text("Booked")

    # The month's figures: the missed visit counted for the carer; the CSV is a link away.
    await supervisor.goto("/admin")
    table = supervisor.locator("#service-table")
    carer_line = table.locator("tr", has_text="吴芳")
    await expect(carer_line).to_contain_text("0.0 %")
    csv_link = re.compile(r"^/api/reports/service-quality\.csv\?month=\d{4}-\d{2}&tz=")
    await expect(supervisor.locator("#csv-service")).to_have_attribute("href", csv_link)
    for page in (station, console, english, supervisor):
        assert page.errors == []  # type: ignore[attr-defined]
