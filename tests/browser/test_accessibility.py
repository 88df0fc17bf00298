"""Every page in both languages, audited as assistive technology meets it: axe-core finds no serious or critical
violation, a Chinese page shows no English word (and an English page no Chinese) outside names, data and units,
and the console works from the keyboard with a screen reader told only what matters."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from playwright.async_api import Page, expect

from homecare.contracts.messages import DeviceKind
from homecare.gateway.service import Gateway
from tests.browser.conftest import SignIn
from tests.browser.test_carer import a_carer_day
from tests.browser.test_console import device_event, press_sos
from tests.browser.test_family import a_month_of_data
from tests.browser.test_health_alerts import a_missed_dose
from tests.browser.test_visits import a_round
from tests.support import homes
from tests.support.backend import Backend
from tests.support.mqtt import TestClient
from tests.support.world import World

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
ADMIN_TABS = ("dashboard", "residents", "devices", "stations", "staff", "family", "import")

# Words a Chinese page may show in Latin letters: units, the names of keys and formats, and codes people read.
LATIN_ALLOWED = {"km", "SpO", "bpm", "Esc", "CSV", "UTF", "Excel", "ID", "English", "UTC", "GMT"}
# Time zones are named by their IANA ids (Asia/Shanghai) where a zone is set.
ZONE_ID = re.compile(r"\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b")
# The language picker names each language in itself.
CJK_ALLOWED = {"中文"}

# Visible text, one entry per text node with its own words, outside code, kbd, and the language picker's options.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    const skipped = "script, style, code, kbd, option, svg.avatar, #announcer, .toast";
    if (!text || !parent || parent.closest(skipped)) continue;
    if (!parent.checkVisibility({ visibilityProperty: true, opacityProperty: false })) continue;
    out.push(text);
  }
  for (const field of document.querySelectorAll("input[placeholder], [aria-label], [title]")) {
    if (!field.checkVisibility()) continue;
    for (const name of ["placeholder", "aria-label", "title"]) {
      const value = field.getAttribute(name);
      if (value) out.push(value);
    }
  }
  return out;
}"""


async def data_strings(database_url: str) -> list[str]:
    """Every name and free text the records hold (people's names, addresses, notes, device ids): shown as entered,
    in whatever language they were written, longest first so a name inside an address goes with it."""
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT display_name FROM residents UNION SELECT address FROM residents UNION "
                "SELECT external_ref FROM residents UNION "
                "SELECT mobility FROM residents UNION SELECT language FROM residents UNION "
                "SELECT access_notes FROM residents UNION SELECT unnest(conditions || medications || allergies) "
                "FROM residents UNION SELECT name FROM stations UNION SELECT address FROM stations UNION "
                "SELECT code FROM stations UNION SELECT display_name FROM users UNION SELECT username FROM users "
                "UNION SELECT name FROM resident_contacts UNION SELECT email FROM resident_contacts UNION "
                "SELECT uid FROM devices UNION SELECT name FROM care_services UNION "
                "SELECT unnest(tasks) FROM care_services UNION SELECT medicine FROM medication_schedules UNION "
                "SELECT dose FROM medication_schedules"
            )
        ).fetchall()
    return sorted({str(r[0]) for r in rows if r[0]}, key=len, reverse=True)


async def other_language_words(page: Page, lang: str, data: list[str]) -> list[str]:
    """Words of the other language on the page, once names and data are taken out."""
    found = []
    for text in await page.evaluate(VISIBLE_TEXT_JS):
        for value in data:
            text = text.replace(value, " ")
        text = ZONE_ID.sub(" ", text)
        if lang == "zh":
            words = re.findall(r"[A-Za-z][A-Za-z'’]+\d*", text)
            found += [w for w in words if w not in LATIN_ALLOWED]
        else:
            found += [
                w for w in re.findall(r"[\u3400-\u9fff\uff01-\uff5e、。：；（）《》]+", text) if w not in CJK_ALLOWED
            ]
    return found


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands, one line each with where."""
    await page.evaluate(AXE)
    result = await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def audit(page: Page, where: str, lang: str, data: list[str], problems: list[str]) -> None:
    await page.wait_for_load_state("networkidle")
    problems += [f"{where} [{lang}] axe: {line}" for line in await serious_violations(page)]
    words = await other_language_words(page, lang, data)
    if words:
        problems.append(f"{where} [{lang}] shows words of the other language: {sorted(set(words))}")


@pytest.fixture
async def open_alarms(
    backend: Backend, database_url: str, world: World, gateway: Gateway, pendant: TestClient
) -> World:
    """Stations open round the clock, an SOS waiting long enough to be late (amber), a fall counting down its
    wait for "I'm OK", a month of readings for the family, a round of welfare visits and a carer's day."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE stations SET opens = '00:00', closes = '00:00'")
        press_sos(pendant, world, 1)
        device_event(pendant, world, 2, "wristband", "fall_detected", confidence=0.9)
        for _ in range(100):
            count = await (await conn.execute("SELECT count(*) FROM incidents")).fetchone()
            if count and count[0] >= 2:
                break
            await asyncio.sleep(0.1)
        await conn.execute(
            "UPDATE incidents SET opened_at = now() - interval '90 seconds', alarm_at = now() - interval '90 seconds' "
            "WHERE cause = 'sos'"
        )
    await a_month_of_data(database_url, world)
    await a_missed_dose(database_url, world)
    await a_round(backend, database_url, world)
    _, second = await a_carer_day(backend, world, datetime.now(UTC))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # Started now, the second visit is on the carer's and the station's lists of today at any hour.
        await conn.execute(
            "UPDATE care_bookings SET starts_at = now(), ends_at = now() + interval '30 minutes' WHERE id = %s",
            (second,),
        )
    return world


async def test_every_page_in_both_languages_passes_axe_and_speaks_one_language(
    sign_in: SignIn, backend: Backend, database_url: str, open_alarms: World
) -> None:
    data = await data_strings(database_url)
    problems: list[str] = []
    for lang in ("zh", "en"):
        console = await sign_in("operator", lang=lang)
        await expect(console.locator("#queue .q-row")).to_have_count(2)
        await audit(console, "console queue", lang, data, problems)
        await console.keyboard.press("j")
        await expect(console.locator("#incident[data-ready]")).to_be_visible()
        await expect(console.locator(".vital").first).to_be_visible()
        await audit(console, "console incident", lang, data, problems)
        await console.keyboard.press("d")
        await expect(console.locator("#dispatch-dialog .station-opt").first).to_be_visible()
        await audit(console, "console dispatch dialog", lang, data, problems)
        await console.keyboard.press("Escape")
        await console.keyboard.press("m")
        await expect(console.locator("#map-svg")).to_be_visible()
        await audit(console, "console map", lang, data, problems)

        station = await sign_in("responder", lang=lang)
        await expect(station.locator("#station-name")).to_be_visible()
        await expect(station.locator("#service-board tbody tr").first).to_be_visible()
        await audit(station, "station", lang, data, problems)

        visitor = await sign_in("visitor", lang=lang, viewport=PHONE)
        await expect(visitor.locator("#visit-list li").first).to_be_visible()
        await audit(visitor, "visits", lang, data, problems)
        await visitor.locator("#visit-list li button").first.click()
        await expect(visitor.locator("#checklist")).to_be_visible()
        await audit(visitor, "visit checklist", lang, data, problems)

        carer = await sign_in("carer", lang=lang, viewport=PHONE)
        await expect(carer.locator("#route li").first).to_be_visible()
        await audit(carer, "carer", lang, data, problems)
        await carer.locator("#route li button").first.click()
        await expect(carer.locator("#check-in")).to_be_visible()
        await audit(carer, "carer visit", lang, data, problems)

        family = await sign_in("family", lang=lang, viewport=PHONE)
        await expect(family.locator("#charts[data-range]")).to_be_attached()
        await expect(family.locator("#bookings li").first).to_be_visible()
        await expect(family.locator("#medication #doses li[data-state='missed']")).to_be_visible()
        await audit(family, "family", lang, data, problems)
        await family.click("#find-offers")
        await expect(family.locator("#offer-form .offer").first).to_be_visible()
        await audit(family, "family booking offers", lang, data, problems)
        await family.locator("#bookings li [id^=move-open-]").first.click()
        await expect(family.locator("#bookings form.step-form")).to_be_visible()
        await audit(family, "family booking moved", lang, data, problems)
        await family.click("#settings-toggle")
        await expect(family.locator("#sign-out")).to_be_visible()
        await audit(family, "family menu", lang, data, problems)

        hotline = await sign_in("operator", lang=lang)
        await hotline.goto(f"/bookings#resident={open_alarms.resident_ids[0]}")
        await expect(hotline.locator("#resident-name")).to_be_visible()
        await expect(hotline.locator("#bookings li").first).to_be_visible()
        await audit(hotline, "bookings", lang, data, problems)
        await hotline.click("#find-offers")
        await expect(hotline.locator("#offer-form .offer").first).to_be_visible()
        await audit(hotline, "bookings offers", lang, data, problems)

        admin = await sign_in("admin", lang=lang)
        for tab in ADMIN_TABS:
            await admin.click(f"#tab-{tab}")
            await expect(admin.locator(f"#panel-{tab}")).to_be_visible()
            if tab == "dashboard":  # the adherence panel with the missed dose in it
                await expect(admin.locator("#adherence-table tbody tr").first).to_be_visible()
            await audit(admin, f"admin {tab}", lang, data, problems)

        login = await sign_in("family", lang=lang)
        await login.click("#sign-out")
        await login.wait_for_url(re.compile(r"/login"))
        await audit(login, "login", lang, data, problems)
    assert problems == [], "\n".join(problems)


# The contrast of two CSS colours (WCAG relative luminance), in the page.
CONTRAST_JS = """([a, b]) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}"""
LIVE_REGIONS_JS = """() => [...document.querySelectorAll('[aria-live], [role=status], [role=log], [role=alert]')]
  .map((n) => n.id || n.className || n.tagName)"""


async def test_the_console_works_from_the_keyboard_and_a_screen_reader_hears_only_what_matters(
    sign_in: SignIn, backend: Backend, open_alarms: World, pendant: TestClient
) -> None:
    world = open_alarms
    page = await sign_in("operator")
    await expect(page.locator("#feed-state.live")).to_be_visible()
    rows = page.locator("#queue .q-row")
    await expect(rows).to_have_count(2)
    await expect(page.locator(".queue-col h1")).to_have_text("报警队列")

    # The late SOS says so by a sign as well as by its colour.
    late = rows.first.locator(".q-timer")
    await expect(late).to_have_class(re.compile(r"\bamber\b"))
    assert "⚠" in await late.evaluate("(n) => getComputedStyle(n, '::before').content")

    # Tab reaches the queue; Enter opens the row and the focus moves to the incident, which a screen reader names.
    for _ in range(12):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.classList.contains('q-row')"):
            break
    assert await page.evaluate("document.activeElement.classList.contains('q-row')"), "Tab never reached the queue"
    ring = await page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    for background in ("rgb(255, 255, 255)", "rgb(244, 246, 248)", "rgb(230, 238, 248)"):
        assert await page.evaluate(CONTRAST_JS, [ring, background]) >= 3, (ring, background)
    await page.keyboard.press("ArrowDown")  # moving in the list keeps the focus in it
    await expect(page.locator("#queue .q-row:focus")).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("Enter")
    await expect(page.locator("#incident[data-ready]")).to_be_visible()
    await expect(page.locator("#inc-name")).to_be_focused()
    await expect(page.locator("#inc-name")).to_contain_text(world.enrolment.residents[1].name)

    # One small log region is the page's only live region; it hears the action's result and a new alarm.
    assert await page.locator("#app").get_attribute("aria-live") is None
    await page.keyboard.press("a")
    await expect(page.locator("#inc-status")).to_have_text("已接警")
    await expect(page.locator("#announcer")).to_contain_text("已接警")
    press_sos(pendant, world, 0)
    await expect(rows).to_have_count(3)
    await expect(page.locator("#announcer")).to_contain_text(f"新报警：{world.enrolment.residents[0].name}")
    assert await page.evaluate(LIVE_REGIONS_JS) == ["announcer"]

    # The trail scrolls on its own and takes the focus; no table has an empty header.
    await expect(page.locator(".trail-scroll")).to_have_attribute("tabindex", "0")
    assert await page.locator("th:empty").count() == 0

    # Single-key shortcuts can be turned off (WCAG 2.1.4): then "j" does nothing, the arrows still move.
    await page.locator("#keys-switch").uncheck()
    await expect(page.locator("#keys-help")).to_be_hidden()
    opened = page.url
    await page.locator("body").click(position={"x": 900, "y": 5})
    await page.keyboard.press("j")
    assert page.url == opened
    await page.locator("#keys-switch").check()

    # The top bar's current page link is readable (4.5:1).
    current = page.locator(".topbar nav a[aria-current=page]")
    colours = await current.evaluate("(n) => [getComputedStyle(n).color, getComputedStyle(n).backgroundColor]")
    assert await page.evaluate(CONTRAST_JS, colours) >= 4.5

    # The map: an h1, focusable markers in a group (not inside an image), and no label over another.
    await page.locator("#inc-name").focus()
    await page.keyboard.press("m")
    drawing = page.locator("#map-svg")
    await expect(drawing).to_be_visible()
    await expect(page.locator("#map-pane h1")).to_be_visible()
    assert await drawing.get_attribute("role") != "img"
    boxes = await drawing.evaluate(
        "(svg) => [...svg.querySelectorAll('text')].map((t) => t.getBoundingClientRect())"
        ".map((b) => [b.left, b.top, b.right, b.bottom])"
    )
    assert len(boxes) >= len(world.station_ids)
    clashes = [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
    ]
    assert clashes == []
    assert page.errors == []  # type: ignore[attr-defined]


async def test_calling_an_offline_home_says_so_at_once(
    sign_in: SignIn, backend: Backend, database_url: str, world: World, broker_url: str, gateway: Gateway
) -> None:
    """The home unit was last heard from an hour ago: the panel says it is offline before anyone calls, and a call
    is refused at once instead of ringing into nothing (the incident never shows 通话中)."""
    incident_id = await homes.device_alarm(database_url, broker_url, world, kind=DeviceKind.SOS_PENDANT, event="sos")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE residents SET consent_video = false WHERE id = %s", (world.resident_ids[0],))
        await conn.execute(
            "INSERT INTO device_state (device_id, online, online_changed_at, last_seen_at) "
            "SELECT id, false, now() - interval '1 hour', now() - interval '1 hour' FROM devices "
            "WHERE resident_id = %s AND kind = 'home_unit' "
            "ON CONFLICT (device_id) DO UPDATE SET online = false, online_changed_at = excluded.online_changed_at, "
            "last_seen_at = excluded.last_seen_at",
            (world.resident_ids[0],),
        )
    page = await sign_in("operator")
    await page.goto(f"/console#/incidents/{incident_id}")
    await expect(page.locator("#incident[data-ready]")).to_be_visible()
    await page.keyboard.press("c")
    await expect(page.locator("#call-offline")).to_contain_text("家庭主机离线")
    await expect(page.locator("#call-video-toggle")).to_be_hidden()  # no video consent: no camera switch
    await page.click("#call-start")
    await expect(page.locator("#call-state")).to_have_text("无法接通")
    await expect(page.locator("#inc-status")).not_to_have_text("通话中")
    assert page.errors == []  # type: ignore[attr-defined]
