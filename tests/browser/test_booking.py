"""Home services from booking to the provider's figures, each person on their own page: the family books a home
cleaning for their mother on the family page (the nearest station first, the subsidy and the co-payment shown before
confirming), the carer's code typed at her home unit checks the visit in (an MQTT carer_present event through the
gateway), the carer checks out on the phone page with the checklist and a photo, the family rates the visit from the
keyboard and complains, and the station sees the rating in its figures, the complaint and the photo; then a weekday
series booked, one visit moved and one cancelled, each with a reason."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
from playwright.async_api import Page, expect

from homecare.backend.care.ability import ITEMS
from homecare.gateway.service import Gateway
from tests.browser.conftest import SignIn, screenshot
from tests.browser.test_accessibility import serious_violations
from tests.browser.test_visits import PHONE
from tests.support.backend import AUTH, Backend
from tests.support.database import scalar
from tests.support.images import png
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")
TASKS = ["清扫地面", "清理餐具"]


async def a_catalogue(backend: Backend, world: World) -> dict[str, Any]:
    """The first station's lunch delivery and home cleaning, each subsidised at level 2 on the subsistence allowance,
    and the first resident assessed at level 2 on it: she pays 5 of 20 yuan. The cleaning, which is checked out with a
    photo."""
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        for kind, name in (("meal", "午餐送餐"), ("cleaning", "居家保洁")):
            service = await api.post(
                "/api/care/services",
                json={
                    "station_id": world.station_ids[0],
                    "kind": kind,
                    "name": name,
                    "duration_min": 30,
                    "price_yuan": 20,
                    "capacity": 5,
                    "radius_km": 100,
                    "tasks": TASKS,
                    "subsidies": [{"level": 2, "economic_status": "subsistence", "yuan": 15}],
                    "photo_required": kind == "cleaning",
                },
            )
            assert service.status_code == 201, service.text
        mum = world.resident_ids[0]
        await api.put(f"/api/care/residents/{mum}", json={"economic_status": "subsistence"})
        items = {code: item.max_score for code, item in ITEMS.items()}
        items |= dict.fromkeys(("stairs", "walking", "transport", "bathing", "bed_mobility", "transfer"), 0)
        items |= dict.fromkeys(("dressing_lower", "daily_affairs"), 0)
        assessed = await api.post(
            f"/api/care/residents/{mum}/assessments",
            json={"assessed_on": datetime.now(SHANGHAI).date().isoformat(), "assessor": "赵敏", "items": items},
        )
        assert assessed.json()["level"] == 2, assessed.text
        return dict(service.json())


def local_start(minutes: int) -> datetime:
    """A start at least ``minutes`` from now, on a five-minute step, in Shanghai."""
    soon = (datetime.now(SHANGHAI) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    return soon + timedelta(minutes=-soon.minute % 5)


async def book_on_the_page(page: Page, kind: str, starts: datetime) -> None:
    await page.select_option("#book-kind", kind)
    await page.fill("#book-date", starts.date().isoformat())
    await page.fill("#book-time", starts.strftime("%H:%M"))
    await page.click("#find-offers")


async def test_a_family_books_a_visit_that_is_delivered_rated_and_counted(
    sign_in: SignIn,
    backend: Backend,
    database_url: str,
    world: World,
    gateway: Gateway,
    pendant: TestClient,
) -> None:
    service = await a_catalogue(backend, world)
    carer_id = world.user_ids["carer"]
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        code = (await api.post(f"/api/care/carers/{carer_id}/code")).json()["code"]
    mum = world.enrolment.residents[0]

    # The family books lunch for today: the nearest station's offer shows what she pays before confirming.
    family = await sign_in("family", viewport=PHONE)
    await expect(family.locator("#services-heading")).to_have_text("上门服务")
    await expect(family.locator("#book-kind option")).to_have_text(["助餐", "助洁"])
    await expect(family.locator("#no-bookings")).to_be_visible()
    starts = local_start(15)
    await book_on_the_page(family, "cleaning", starts)
    offer = family.locator("#offer-form .offer").first
    await expect(offer).to_contain_text(f"{service['station_name']} · 居家保洁")
    await expect(offer).to_contain_text("价格 20.00 元，补贴 15.00 元，自付 5.00 元")
    await expect(offer.locator("input")).to_be_checked()
    await screenshot(family, "family-booking")
    await family.click("#confirm-booking")
    booking = family.locator("#bookings li")
    await expect(booking).to_have_count(1)
    await expect(booking).to_have_attribute("data-state", "upcoming")
    await expect(booking).to_contain_text("自付 5.00 元")
    booking_id = int((await booking.get_attribute("id") or "").removeprefix("booking-"))
    assert await scalar(database_url, "SELECT starts_at FROM care_bookings WHERE id = %s", booking_id) == starts
    assert await scalar(database_url, "SELECT channel FROM care_bookings WHERE id = %s", booking_id) == "family"
    # Lunch at the same time clashes with it: the refusal is said in Chinese, at her time in the family's zone.
    await book_on_the_page(family, "meal", starts)
    await family.click("#confirm-booking")
    await expect(family.locator("#confirm-error")).to_contain_text(
        re.compile(rf"老人在 \S+ {starts:%H:%M} 已有其他预约")
    )

    # The station gives it to its carer, who types her code at the home unit on arrival.
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        assigned = await api.put(f"/api/care/bookings/{booking_id}/carer", json={"carer_id": carer_id})
        assert assigned.status_code == 200, assigned.text
    home_unit = next(d.uid for d in mum.devices if d.kind.value == "home_unit")
    event = {"v": 1, "device_id": home_unit, "seq": 1, "ts": int(datetime.now().timestamp() * 1000)}
    pendant.publish(
        f"homecare/v1/dev/{home_unit}/event", json.dumps({**event, "kind": "carer_present", "carer_code": code})
    )
    await eventually(
        lambda: scalar(
            database_url, "SELECT home_unit_in_at FROM care_service_visits WHERE booking_id = %s", booking_id
        )
    )

    # The carer checks out on the phone near the home, the tasks ticked.
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        home = await (
            await conn.execute("SELECT lat, lon FROM residents WHERE display_name = %s", (mum.name,))
        ).fetchone()
    assert home is not None
    carer = await sign_in("carer", viewport=PHONE)
    await carer.locator(f"#visit-{booking_id} button").click()
    await expect(carer.locator("#proofs")).to_contain_text("家庭主机已确认")
    for task in TASKS:
        await carer.locator("#tasks label.choice", has_text=task).click()
    await carer.context.grant_permissions(["geolocation"])
    await carer.context.set_geolocation({"latitude": home[0], "longitude": home[1]})
    await carer.click("#check-out")
    await expect(carer.locator("#check-out-error")).to_have_text("这项服务需要拍一张照片再签退。")
    await expect(carer.locator("#visit-photo")).to_be_focused()
    assert await carer.locator("#visit-photo").get_attribute("accept") == "image/*"
    await carer.set_input_files(
        "#visit-photo", files=[{"name": "cleaned.png", "mimeType": "image/png", "buffer": png(640, 480)}]
    )
    await carer.click("#check-out")
    await expect(carer.locator(f"#visit-{booking_id}")).to_have_attribute("data-state", "done")
    stored = await scalar(
        database_url,
        "SELECT content_type || ' ' || octet_length(image) FROM care_visit_photos WHERE booking_id = %s",
        booking_id,
    )
    assert stored.startswith("image/jpeg ")  # scaled and sent as a JPEG by the phone page

    # Back on the family page the visit is done; the daughter rates it from the keyboard, then complains.
    await family.reload()
    done = family.locator(f"#booking-{booking_id}")
    await expect(done).to_have_attribute("data-state", "done")
    await expect(done).to_contain_text("结果：服务完成")
    await expect(done).to_contain_text("服务人员 吴芳")
    await family.locator(f"#rate-open-{booking_id}").focus()
    await family.keyboard.press("Enter")
    await expect(family.locator(f"#rate-{booking_id}-star-1")).to_be_focused()
    for _ in range(3):
        await family.keyboard.press("ArrowRight")
    await expect(family.locator(f"#rate-{booking_id}-star-4")).to_be_checked()
    await family.keyboard.press("Tab")
    await expect(family.locator(f"#rate-{booking_id}-comment")).to_be_focused()
    await family.keyboard.type("打扫得很干净，就是餐具没收")
    await family.keyboard.press("Tab")
    await family.keyboard.press("Enter")
    await expect(done.locator(".my-rating")).to_have_text("您的评价：4 星 · 打扫得很干净，就是餐具没收")
    await expect(family.locator(f"#rate-open-{booking_id}")).to_have_count(0)  # once per rater
    await family.click(f"#complain-open-{booking_id}")
    await family.select_option(f"#complain-{booking_id}-category", "incomplete")
    await family.fill(f"#complain-{booking_id}-text", "餐具没有清理")
    await family.click(f"#complain-{booking_id} button[type=submit]")
    await expect(done.locator(".complaints-note")).to_have_text("已投诉：服务没做完")
    await screenshot(family, "family-rated")
    assert family.errors == []  # type: ignore[attr-defined]
    assert carer.errors == []  # type: ignore[attr-defined]

    # The providing station: the rating in its figures, the complaint in its list.
    station = await sign_in("responder")
    total = station.locator("#quality-figures tr.total")
    await expect(total.locator(".q-rating")).to_have_text("4.0 星（1 条）")
    await expect(total.locator(".q-complaints")).to_have_text("1")
    carer_line = station.locator(f'#quality-figures tr[data-carer-id="{carer_id}"]')
    await expect(carer_line).to_contain_text("吴芳")
    await expect(carer_line.locator(".q-rating")).to_have_text("4.0 星（1 条）")
    await expect(station.locator("#complaints li")).to_contain_text("餐具没有清理")
    await expect(station.locator("#complaints li")).to_contain_text("服务没做完")
    photo = station.locator(f'#visit-photos li[data-booking-id="{booking_id}"] img')
    await expect(photo).to_be_visible()
    assert await photo.evaluate("(img) => img.complete && img.naturalWidth") == 640
    await screenshot(station, "station-quality")
    assert station.errors == []  # type: ignore[attr-defined]


async def test_a_family_books_lunch_every_weekday_then_moves_and_cancels_visits_with_reasons(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    await a_catalogue(backend, world)
    page = await sign_in("family", viewport=PHONE, lang="en")
    await expect(page.locator("#services-heading")).to_have_text("Home services")
    today = datetime.now(SHANGHAI).date()
    monday = today + timedelta(days=7 - today.weekday())
    await page.click("#book-weekdays")
    await page.fill("#book-until", (monday + timedelta(days=4)).isoformat())
    await book_on_the_page(page, "meal", datetime.combine(monday, time(11, 30), SHANGHAI))
    await expect(page.locator("#offer-form legend")).to_contain_text("every weekday")
    await expect(page.locator("#offer-form .offer").first).to_contain_text("you pay ¥5.00")
    await page.click("#confirm-booking")
    visits = page.locator("#bookings li")
    await expect(visits).to_have_count(5)
    await expect(visits.first).to_contain_text("repeats weekly")
    first, second = [int((await visits.nth(i).get_attribute("id") or "")[8:]) for i in (0, 1)]

    # Monday's lunch an hour later: without a reason the form asks for one.
    await page.click(f"#move-open-{first}")
    await page.fill(f"#move-{first}-time", "12:30")
    await page.click(f"#move-{first} button[type=submit]")
    await expect(page.locator(f"#move-{first}-reason")).to_be_focused()  # required: the browser stops there
    await page.fill(f"#move-{first}-reason", "Physiotherapy at 11")
    await page.click(f"#move-{first} button[type=submit]")
    await expect(page.locator(f"#booking-{first}")).to_contain_text("12:30")
    # Tuesday's cancelled.
    await page.click(f"#cancel-open-{second}")
    await page.fill(f"#cancel-{second}-reason", "Visiting her sister")
    await page.click(f"#cancel-{second} button[type=submit]")
    await expect(visits).to_have_count(4)
    assert page.errors == []  # type: ignore[attr-defined]

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        moved = await (
            await conn.execute(
                "SELECT changed_by, reason, to_starts FROM care_booking_changes WHERE booking_id = %s", (first,)
            )
        ).fetchall()
        cancelled = await (
            await conn.execute("SELECT status, cancel_reason FROM care_bookings WHERE id = %s", (second,))
        ).fetchone()
    assert moved == [("family", "Physiotherapy at 11", datetime.combine(monday, time(12, 30), SHANGHAI))]
    assert cancelled == ("cancelled", "Visiting her sister")


async def test_the_booking_day_is_written_as_the_page_language_writes_it(
    sign_in: SignIn, backend: Backend, world: World
) -> None:
    """Chromium here runs in American English, where a native date input shows 12/04/2026 even on a Chinese page: the
    family page's day is year first, as China writes it, spelled out in the page's language, typed any usual way."""
    await a_catalogue(backend, world)
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date()
    later = tomorrow + timedelta(days=2)
    zh = await sign_in("family", viewport=PHONE)
    day, said = zh.locator("#book-date"), zh.locator("#book-date-said")
    await expect(day).to_have_value(tomorrow.isoformat())
    weekday = "一二三四五六日"
    await expect(said).to_have_text(
        f"{tomorrow.year}年{tomorrow.month}月{tomorrow.day}日星期{weekday[tomorrow.weekday()]}"
    )

    await day.fill(f"{later.year}年{later.month}月{later.day}日")
    await day.press("Tab")
    await expect(day).to_have_value(later.isoformat())
    await expect(said).to_have_text(f"{later.year}年{later.month}月{later.day}日星期{weekday[later.weekday()]}")

    await day.fill(f"{later.month}/{later.day}/{later.year}")  # the American order is not a day here
    await expect(said).to_have_text("请按“年-月-日”填写日期，例如 2026-12-04")
    assert not await day.evaluate("input => input.checkValidity()")
    await day.fill((tomorrow - timedelta(days=2)).isoformat())
    await expect(said).to_contain_text("不能早于")
    assert (await day.evaluate("input => input.validationMessage")).startswith("不能早于")  # said when submitted
    assert await serious_violations(zh) == []

    en = await sign_in("family", viewport=PHONE, lang="en")
    await expect(en.locator("#book-date")).to_have_value(tomorrow.isoformat())
    spelled = rf"{tomorrow:%A},? {tomorrow.day} {tomorrow:%B} {tomorrow.year}"
    await expect(en.locator("#book-date-said")).to_have_text(re.compile(spelled))
    assert await serious_violations(en) == []
