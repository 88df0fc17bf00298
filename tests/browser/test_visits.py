"""The welfare visitor's phone page: a month's round generated, today's visits listed, the resident's card opened
(and logged), the checklist refused until every question is answered, the visit recorded, the monthly visit rate
on the dashboard moving; in English, "not at home" passed to the call centre."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import psycopg
from playwright.async_api import Page, expect

from homecare.backend.care.ability import ITEMS
from tests.browser.conftest import SignIn, screenshot
from tests.support.backend import AUTH, Backend
from tests.support.world import World

PHONE = {"width": 390, "height": 844}
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def a_round(backend: Backend, database_url: str, world: World) -> tuple[int, int]:
    """Resident 0 lives alone at level 2 (weekly visits), resident 1 in an empty nest (monthly); nobody else is
    vulnerable; this month's round planned. Returns their ids."""
    alone, empty_nest = world.resident_ids[0], world.resident_ids[1]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE residents SET vulnerable = false")
    items = {code: item.max_score for code, item in ITEMS.items()} | {"stairs": 0, "walking": 0, "transport": 0}
    items |= {"bathing": 0, "bed_mobility": 0, "transfer": 0, "dressing_lower": 0, "daily_affairs": 0}
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as api:
        for resident, living in ((alone, "alone"), (empty_nest, "empty_nest")):
            saved = await api.put(f"/api/care/residents/{resident}", json={"living_situation": [living]})
            assert saved.status_code == 200, saved.text
        assessed = await api.post(
            f"/api/care/residents/{alone}/assessments",
            json={"assessed_on": datetime.now(SHANGHAI).date().isoformat(), "assessor": "评估员 赵敏", "items": items},
        )
        assert assessed.json()["level"] == 2, assessed.text  # 61 of 90: moderately impaired
        planned = await api.post("/api/care/rounds", json={})
        assert planned.json()["vulnerable"] == 2, planned.text
    return alone, empty_nest


async def welfare_rate(page: Page) -> str:
    await page.goto("/admin")
    value = page.locator("#fig-welfare .figure-value")
    await expect(value).to_be_visible()
    return await value.inner_text()


async def test_a_visitor_records_a_round_on_a_phone(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    alone, empty_nest = await a_round(backend, database_url, world)
    supervisor = await sign_in("supervisor")
    assert await welfare_rate(supervisor) == "0.0 %"

    page = await sign_in("visitor", viewport=PHONE)
    await expect(page).to_have_url(re.compile(r"/visits$"))
    await expect(page.locator("h1")).to_have_text("今天的巡访")
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        names = dict(await (await conn.execute("SELECT id, display_name FROM residents")).fetchall())
    items = page.locator("#visit-list li[data-status='planned']")
    await expect(items.filter(has_text=names[empty_nest])).to_have_count(1)
    await expect(items.filter(has_text=names[alone]).first).to_contain_text("每周")
    await screenshot(page, "visits-phone")

    await items.filter(has_text=names[empty_nest]).locator("button").click()
    await expect(page.locator("#resident-name")).to_have_text(names[empty_nest])
    await expect(page.locator("#resident-card .facts")).to_contain_text("空巢")
    await expect(page.locator("#ability-level")).to_have_text("尚未评估")
    # Every question must be answered: nothing is pre-filled.
    await page.click("#record-submit")
    await expect(page.locator("#form-error")).to_have_text("还有 13 项未填写")
    await expect(page.locator("fieldset.missing")).to_have_count(13)
    for fieldset in await page.locator("#checklist fieldset[data-field]").all():
        await fieldset.locator(".choice.reassuring").click()
    await page.locator("fieldset[data-field='home_safety.smoke_alarm'] label", has_text="没有").click()
    await page.fill("#visit-note", "老人精神很好，建议安装烟雾报警器")
    await screenshot(page, "visits-checklist")
    await page.click("#record-submit")
    done = page.locator("#visit-list li", has_text=names[empty_nest])
    await expect(done).to_have_attribute("data-status", "done")
    await expect(done.locator(".visit-status")).to_have_text("已完成")
    assert page.errors == []  # type: ignore[attr-defined]

    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        record = await (
            await conn.execute(
                "SELECT outcome, findings, checklist->'wellbeing'->>'mood', incident_id FROM welfare_visits "
                "WHERE resident_id = %s",
                (empty_nest,),
            )
        ).fetchone()
        opened = await (
            await conn.execute(
                "SELECT count(*) FROM access_log a JOIN users u ON u.id = a.user_id "
                "WHERE u.username = 'visitor' AND a.resident_id = %s AND a.action = 'care.visit_card'",
                (empty_nest,),
            )
        ).fetchone()
    assert record == ("seen", ["home_safety.smoke_alarm:absent"], "good", None)
    assert opened == (1,)
    assert await welfare_rate(supervisor) == "50.0 %"  # one of the two vulnerable residents visited this month

    # In English: nobody at home at the other resident's; the call centre gets an incident, the visit stays open.
    english = await sign_in("visitor", viewport=PHONE, lang="en")
    await expect(english.locator("h1")).to_have_text("Today's visits")
    weekly = english.locator("#visit-list li[data-status='planned']", has_text=names[alone]).last
    await weekly.locator("button").click()
    await expect(english.locator("#ability-level")).to_have_text("Moderately impaired")
    await expect(english.locator("#resident-card .facts")).to_contain_text("Lives alone")
    await english.locator("label.choice", has_text="Not at home").click()
    await expect(english.locator("#not-home-hint")).to_be_visible()
    await expect(english.locator("#checklist")).to_be_hidden()
    await english.click("#record-submit")
    await expect(english.locator(".toast")).to_have_text("Recorded; the call centre was told")
    await weekly.locator("button").click()
    await expect(english.locator("#records .incident-link")).to_contain_text("Passed to the call centre")
    await expect(english.locator("#records")).to_contain_text("Not at home")
    assert english.errors == []  # type: ignore[attr-defined]
    assert await welfare_rate(supervisor) == "50.0 %"  # not at home is not a visit
