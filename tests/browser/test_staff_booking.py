"""Home services booked on a resident's behalf from staff pages: the hotline operator opens the resident by number
from the keyboard, books lunch (the nearest station first, the co-payment shown before confirming), moves it and
cancels it with reasons, in Chinese and then in English, and the page holds at 200 % zoom; a welfare visitor who
found the resident neglecting her hygiene books bathing from the visit record in one step."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import httpx
from playwright.async_api import expect

from tests.browser.conftest import SignIn, screenshot
from tests.browser.test_booking import SHANGHAI, a_catalogue, book_on_the_page
from tests.browser.test_visits import PHONE, a_round
from tests.support.backend import AUTH, Backend
from tests.support.database import scalar
from tests.support.world import World


async def test_the_hotline_books_moves_and_cancels_a_visit_for_a_resident_from_the_keyboard(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    await a_catalogue(backend, world)
    mum = world.resident_ids[0]
    name = await scalar(database_url, "SELECT display_name FROM residents WHERE id = %s", mum)
    page = await sign_in("operator")
    await page.click(".topbar nav a[href='/bookings']")
    await expect(page.locator("#bookings-title")).to_have_text("代老人预约上门服务")
    await page.focus("#resident-id")
    await page.keyboard.type(str(mum))
    await page.keyboard.press("Enter")
    await expect(page.locator("#resident-name")).to_have_text(name)
    assert await scalar(
        database_url,
        "SELECT count(*) FROM access_log a JOIN users u ON u.id = a.user_id "
        "WHERE u.username = 'operator' AND a.resident_id = %s AND a.action = 'care.booking_card'",
        mum,
    )

    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    await book_on_the_page(page, "meal", datetime.combine(tomorrow, time(11, 30), SHANGHAI))
    offer = page.locator("#offer-form .offer").first
    await expect(offer).to_contain_text("自付 5.00 元")
    await expect(offer.locator("input")).to_be_focused()
    await page.keyboard.press("Enter")  # confirms the offer chosen
    booking = page.locator("#bookings li")
    await expect(booking).to_have_count(1)
    await expect(booking).to_contain_text("11:30")
    booking_id = int((await booking.get_attribute("id") or "").removeprefix("booking-"))
    assert await scalar(database_url, "SELECT channel FROM care_bookings WHERE id = %s", booking_id) == "hotline"
    await screenshot(page, "hotline-booking")

    # The same time again: refused in Chinese.
    await book_on_the_page(page, "cleaning", datetime.combine(tomorrow, time(11, 30), SHANGHAI))
    await page.click("#confirm-booking")
    await expect(page.locator("#confirm-error")).to_contain_text(re.compile(r"老人在 \S+ 11:30 已有其他预约"))

    await page.click(f"#move-open-{booking_id}")
    await page.fill(f"#move-{booking_id}-time", "12:30")
    await page.fill(f"#move-{booking_id}-reason", "老人来电改时间")
    await page.click(f"#move-{booking_id} button[type=submit]")
    await expect(booking).to_contain_text("12:30")

    # In English the page says the same; at 200 % zoom (640 px wide) nothing runs off sideways.
    await page.select_option("#lang-switch", "en")
    await expect(page.locator("#bookings-title")).to_have_text("Book home services for a resident")
    await expect(page.locator("#resident-name")).to_have_text(name)
    await page.set_viewport_size({"width": 640, "height": 450})
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    await page.click(f"#cancel-open-{booking_id}")
    await page.fill(f"#cancel-{booking_id}-reason", "In hospital")
    await page.click(f"#cancel-{booking_id} button[type=submit]")
    await expect(page.locator("#no-bookings")).to_be_visible()
    assert await scalar(database_url, "SELECT cancel_reason FROM care_bookings WHERE id = %s", booking_id) == (
        "In hospital"
    )

    # A resident out of reach is said so.
    await page.fill("#resident-id", "99999")
    await page.press("#resident-id", "Enter")
    await expect(page.locator("#resident-error")).to_have_text("There is no resident 99999, or not one you may see")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_visitor_books_bathing_from_the_visit_that_found_it_needed(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    alone, _ = await a_round(backend, database_url, world)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        bathing = await api.post(
            "/api/care/services",
            json={
                "station_id": world.station_ids[0],
                "kind": "bathing",
                "name": "上门助浴",
                "duration_min": 60,
                "price_yuan": 50,
                "capacity": 2,
                "radius_km": 100,
            },
        )
        assert bathing.status_code == 201, bathing.text
    name = await scalar(database_url, "SELECT display_name FROM residents WHERE id = %s", alone)
    page = await sign_in("visitor", viewport=PHONE)
    await page.locator("#visit-list li", has_text=name).locator("button").first.click()
    await expect(page.locator("#checklist fieldset[data-field]")).to_have_count(13)
    for fieldset in await page.locator("#checklist fieldset[data-field]").all():
        await fieldset.locator(".choice.reassuring").click()
    await page.locator("fieldset[data-field='wellbeing.hygiene'] .choice:not(.reassuring)").click()
    await page.click("#record-submit")
    await page.locator("#visit-list li[data-status='done']", has_text=name).locator("button").click()
    book = page.locator("#records a[href*='kind=bathing']")
    await expect(book).to_have_text("预约上门服务：助浴")
    await book.click()

    await expect(page).to_have_url(re.compile(rf"/bookings#resident={alone}&kind=bathing$"))
    await expect(page.locator("#book-kind")).to_have_value("bathing")
    await page.click("#find-offers")
    await expect(page.locator("#offer-form .offer").first).to_contain_text("上门助浴")
    await page.click("#confirm-booking")
    await expect(page.locator("#bookings li")).to_have_count(1)
    channel = await scalar(
        database_url, "SELECT channel || ' ' || booked_by FROM care_bookings WHERE resident_id = %s", alone
    )
    assert channel == "station visitor"
    assert page.errors == []  # type: ignore[attr-defined]
