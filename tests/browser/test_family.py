"""The family status page on a phone: the state at a glance, last activity, today against a usual day, devices,
charts over 24 h / 7 days / 30 days from the rollups, in both languages, with large type and AA contrast."""

from __future__ import annotations

import itertools
import math
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg
from playwright.async_api import Page, expect
from psycopg.types.json import Jsonb

from homecare.backend.detection.baseline import judged_day
from homecare.contracts.messages import Metric
from tests.browser.conftest import SCREENSHOTS, SignIn, screenshot
from tests.support.backend import AUTH, Backend
from tests.support.telemetry import store_telemetry
from tests.support.waiting import eventually
from tests.support.world import World

PHONE = {"width": 390, "height": 844}
SHANGHAI = ZoneInfo("Asia/Shanghai")

# WCAG relative luminance and contrast ratio of two computed CSS colours, in the page.
CONTRAST_JS = """(node) => {
  const rgb = (c) => c.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const style = getComputedStyle(node);
  const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""

# The smallest font size of any text on the page outside the charts and the shared top bar, in CSS px.
SMALLEST_TEXT_JS = """() => Math.min(...[...document.querySelectorAll("main *")]
  .filter((n) => !n.closest("svg") && [...n.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim()))
  .map((n) => parseFloat(getComputedStyle(n).fontSize)))"""


def walked(bucket: datetime, now: datetime) -> bool:
    """Whether resident 0 walked in the hour from ``bucket``: 08:00–20:00 in Shanghai, in hours that ended 13
    minutes ago or earlier (the latest movement is the kitchen's, 12 minutes ago)."""
    return 8 <= bucket.astimezone(SHANGHAI).hour < 20 and bucket + timedelta(hours=1, minutes=13) <= now


async def a_month_of_data(database_url: str, world: World) -> None:
    """Thirty days of hourly rollups (heart rate, SpO2, steps) and nights in bed for resident 0, devices online
    with their batteries, and a movement 12 minutes ago, in the shapes the gateway and the rollups store."""
    resident = world.resident_ids[0]
    now = datetime.now(UTC)
    first = (now - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    rows = []
    for i in range(30 * 24 + 1):
        bucket = first + timedelta(hours=i)
        local_hour = bucket.astimezone(SHANGHAI).hour
        day = math.sin((local_hour - 9) / 24 * 2 * math.pi)
        heart = 66 + 7 * day + (i % 5)
        rows.append((bucket, resident, int(Metric.HEART_RATE), 60, heart * 60, heart - 6, heart + 11))
        spo2 = 96 + (i % 3) * 0.5
        rows.append((bucket, resident, int(Metric.SPO2), 60, spo2 * 60, spo2 - 2, min(100, spo2 + 2)))
        steps = 250 + 40 * (i % 9) if walked(bucket, now) else 0
        rows.append((bucket, resident, int(Metric.STEPS), 12, steps, 0, steps / 4))
    today = now.astimezone(SHANGHAI).date()
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO telemetry_1h (bucket, resident_id, metric, n, sum, min, max) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        devices = dict(
            await (await conn.execute("SELECT kind, id FROM devices WHERE resident_id = %s", (resident,))).fetchall()
        )
        for n, (_, device_id) in enumerate(sorted(devices.items())):
            await conn.execute(
                "INSERT INTO device_state (device_id, online, last_seen_at, battery, charging) "
                "VALUES (%s, true, %s, %s, false)",
                (device_id, now, 95 - 7 * n),
            )
        seq = 0
        for back in range(30, 0, -1):
            evening = today - timedelta(days=back)
            for kind, day, at in (
                ("bed_return", evening, time(21, 20 + back % 30)),
                ("bed_exit", evening + timedelta(days=1), time(2, 5)),
                ("bed_return", evening + timedelta(days=1), time(2, 15)),
                ("bed_exit", evening + timedelta(days=1), time(6, back % 40)),
            ):
                if datetime.combine(day, at, SHANGHAI) > now - timedelta(minutes=30):
                    continue  # a night still going on (the test runs at 02:20 too): the movement is the latest
                seq += 1
                await conn.execute(
                    "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority) "
                    "VALUES (%s, %s, %s, %s, %s, 5)",
                    (devices["bed_sensor"], resident, seq, datetime.combine(day, at, SHANGHAI), kind),
                )
        await conn.execute(
            "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority, room) "
            "VALUES (%s, %s, 1, %s, 'motion', 5, 'kitchen')",
            (devices["motion_sensor"], resident, now - timedelta(minutes=12)),
        )


async def axis_labels(page: Page, chart: str) -> list[str]:
    return await page.locator(f"#{chart} text.axis").all_text_contents()


def round_ticks(labels: list[str]) -> list[float]:
    """The value axis of a chart (labels without ":" or "/"), checked to step evenly by 1, 2 or 5 times a power of
    ten, whole numbers only (beats, percent, steps, hours)."""
    values = [float(v.replace(",", "")) for v in labels if not re.search(r"[:/]", v)]
    steps = {round(b - a, 6) for a, b in itertools.pairwise(values)}
    assert len(values) >= 2, labels
    assert len(steps) == 1, labels
    step = steps.pop()
    assert step >= 1, labels
    assert step / 10 ** math.floor(math.log10(step)) in (1, 2, 5), labels
    assert all(v == int(v) and v % step == 0 for v in values), labels
    return values


# The targets a finger hits on the page: (what, width, height) of each smaller than 44 x 44 CSS px.
SMALL_TARGETS_JS = """() => [...document.querySelectorAll("a, button, select, input, [role=tab]")]
  .filter((n) => n.checkVisibility()).map((n) => [n.id || n.textContent.trim(), n.getBoundingClientRect()])
  .filter(([, b]) => b.width < 44 || b.height < 44)
  .map(([what, b]) => [what, Math.round(b.width), Math.round(b.height)])"""


async def test_the_family_sees_how_their_relative_is_at_a_glance_and_over_time(
    sign_in: SignIn, database_url: str, world: World
) -> None:
    await a_month_of_data(database_url, world)
    page = await sign_in("family", viewport=PHONE)
    name = world.enrolment.residents[0].name
    await expect(page.locator("#resident-name")).to_have_text(f"{name}（女儿）")
    panel = page.locator("#status-panel")
    await expect(panel).to_have_attribute("data-state", "all_well")
    await expect(page.locator("#status-headline")).to_have_text("一切安好")
    await expect(page.locator("#last-activity .big-value")).to_have_text(re.compile(r"^1[23] 分钟前（在家中走动）$"))
    await expect(page.locator("#today")).to_contain_text("今天到现在走了")
    await expect(page.locator("#devices li")).to_have_count(len(world.enrolment.residents[0].devices))
    await expect(page.locator("#devices li.online")).to_have_count(len(world.enrolment.residents[0].devices))
    await expect(page.locator("#devices")).to_contain_text("电量 95%")
    await expect(page.locator("#no-incidents")).to_be_visible()

    # Large type and AA contrast, for readers who are old themselves.
    assert await panel.evaluate(CONTRAST_JS) >= 4.5
    for muted in await page.locator("main .muted").all():
        assert await muted.evaluate(CONTRAST_JS.replace("style.backgroundColor", "'rgb(255, 255, 255)'")) >= 4.5
    assert await page.evaluate(SMALLEST_TEXT_JS) >= 18
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")  # no sideways scrolling
    await screenshot(page, "family-status")

    # 24 h: hourly heart rate with its band, hours on the axis in the reader's zone; the night in bed.
    await expect(page.locator("#charts")).to_have_attribute("data-range", "24h")
    for chart in ("chart-heart_rate", "chart-spo2", "chart-steps", "chart-sleep"):
        round_ticks(await axis_labels(page, chart))
    heart = page.locator("#chart-heart_rate")
    await expect(heart.locator("title")).to_have_text("心率")
    await expect(heart.locator("desc")).to_contain_text("平均")
    await expect(heart.locator("polyline.line")).to_have_count(1)
    await expect(heart.locator("polygon.band")).to_have_count(1)
    hours = [label for label in await axis_labels(page, "chart-heart_rate") if ":" in label]
    assert hours, "no hour labels"
    assert all(re.fullmatch(r"(00|06|12|18):00", label) for label in hours), hours
    # The hours walked in the 24 h back to the hour (this hour's bucket included).
    now = datetime.now(UTC)
    start = (now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    hours_walked = sum(walked(start + timedelta(hours=h), now) for h in range(25))
    await expect(page.locator("#chart-steps rect.bar")).to_have_count(hours_walked)
    await expect(page.locator("#last-night")).to_contain_text("昨晚 21:")

    await page.click("#range-7d")
    await expect(page.locator("#range-7d")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#charts")).to_have_attribute("data-range", "7d")
    walked_days = await page.locator("#chart-steps rect.bar").count()
    assert walked_days in (7, 8), walked_days  # seven days back, and today once 08:00 has passed
    days = [label for label in await axis_labels(page, "chart-spo2") if "/" in label]
    assert len(days) in (6, 7), days
    await expect(page.locator("#chart-sleep rect.bar")).to_have_count(7)
    await expect(page.locator("#chart-sleep desc")).to_contain_text("平均每晚在床上")
    await page.locator(".trends").screenshot(path=str(SCREENSHOTS / "family-charts.png"))

    await page.click("#range-30d")
    await expect(page.locator("#charts")).to_have_attribute("data-range", "30d")
    await expect(page.locator("#chart-sleep rect.bar")).to_have_count(30)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_on_a_phone_the_settings_fold_into_one_menu_and_the_page_follows_the_readers_font_and_width(
    sign_in: SignIn, database_url: str, world: World
) -> None:
    await a_month_of_data(database_url, world)
    page = await sign_in("family", viewport=PHONE)
    await expect(page.locator("#status-panel")).to_be_visible()
    # Language, time zone and sign-out wait behind one menu: the bar stays one line, the status right under it.
    for hidden in ("#lang-switch", "#zone-switch", "#sign-out"):
        await expect(page.locator(hidden)).to_be_hidden()
    bar = await page.locator(".topbar").bounding_box()
    assert bar is not None
    assert bar["height"] <= 64, bar
    toggle = page.locator("#settings-toggle")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    for shown in ("#lang-switch", "#zone-switch", "#sign-out"):
        await expect(page.locator(shown)).to_be_visible()
    assert await page.evaluate(SMALL_TARGETS_JS) == []
    await screenshot(page, "family-menu")
    await toggle.click()

    # At 320 px (a phone at 200 % zoom) nothing runs off sideways, the open menu neither.
    await page.set_viewport_size({"width": 320, "height": 640})
    await toggle.click()
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    await toggle.click()
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert await page.evaluate(SMALL_TARGETS_JS) == []

    # A reader who set a larger font in the browser gets it: the root size is theirs, not a fixed 16 px.
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 20}})
    await page.reload()
    await expect(page.locator("#status-panel")).to_be_visible()
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"
    assert await page.evaluate(SMALLEST_TEXT_JS) >= 24
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_page_speaks_english_and_shows_only_the_followed_residents(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    await a_month_of_data(database_url, world)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        linked = await service.put(
            f"/api/residents/{world.resident_ids[2]}/family",
            json={
                "user_id": world.user_ids["family"],
                "relation": "son",
                "share_status": True,
                "share_vitals": False,
                "share_activity": False,
                "share_incidents": True,
            },
        )
        assert linked.status_code == 200, linked.text
    page = await sign_in("family", lang="en", viewport=PHONE)
    picker = page.locator("#resident-pick button")
    await expect(picker).to_have_text(
        [
            world.enrolment.residents[i].name
            for i in sorted((0, 2), key=lambda i: (world.enrolment.residents[i].name, world.resident_ids[i]))
        ]
    )
    await page.locator(f"#resident-pick button[data-resident-id='{world.resident_ids[0]}']").click()
    await expect(page.locator("#status-headline")).to_have_text("All is well")
    await expect(page.locator("#range-7d")).to_have_text("7 days")
    await expect(page.locator("#last-activity h3")).to_have_text("Last activity")
    await expect(page.locator("#charts")).to_have_attribute("data-range", "24h")
    await screenshot(page, "family-en")

    await page.locator(f"#resident-pick button[data-resident-id='{world.resident_ids[2]}']").click()
    await expect(page.locator("#resident-name")).to_have_text(f"{world.enrolment.residents[2].name} (son)")
    await expect(page.locator("#status-panel")).to_have_attribute("data-state", "needs_attention")
    await expect(page.locator("#status-reasons")).to_contain_text("is not connected")
    await expect(page.locator("#charts")).to_contain_text("have not agreed to share heart rate")
    await expect(page.locator("body")).not_to_contain_text(world.enrolment.residents[1].name)  # family2's relative
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_change_from_their_usual_is_said_in_plain_words_with_its_chart(
    sign_in: SignIn, database_url: str, world: World
) -> None:
    """The personal baseline's last verdict (stored as a code with parameters) in both languages, with a chart of
    the feature per day against the usual range."""
    resident = world.resident_ids[0]
    yesterday = judged_day(datetime.now(UTC), "Asia/Shanghai")  # what the running detectors judge now
    nan = float("nan")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:

        async def judged() -> bool:
            row = await (
                await conn.execute("SELECT evaluated_day FROM resident_baselines WHERE resident_id = %s", (resident,))
            ).fetchone()
            return row is not None and row[0] == yesterday

        # The running detectors judge the day once; this test's judgement goes in after theirs, not under it.
        await eventually(judged, timeout=60)
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO resident_baseline_days (resident_id, day, worn_hours, features) VALUES (%s, %s, 20, %s) "
                "ON CONFLICT (resident_id, day) DO UPDATE SET worn_hours = 20, features = excluded.features",
                [
                    (resident, yesterday - timedelta(days=k), [70.0, 76.0 + (k % 3) + 9 * (k < 2), nan, 5000.0, nan])
                    for k in range(21)
                ],
            )
        deviation = {"feature": "resting_hr", "value": 86.0, "usual": 77.0, "spread": 1.5, "days": 2}
        await conn.execute(
            "INSERT INTO resident_baselines (resident_id, fitted_at, fitted_through, days, features, median, mad, "
            "evaluated_day, verdict, finding_en, finding_zh, deviations) "
            "VALUES (%s, now(), %s, 19, %s, %s, %s, %s, 'unusual', %s, %s, %s) ON CONFLICT (resident_id) DO UPDATE "
            "SET fitted_through = excluded.fitted_through, days = excluded.days, features = excluded.features, "
            "median = excluded.median, mad = excluded.mad, evaluated_day = excluded.evaluated_day, "
            "verdict = excluded.verdict, finding_en = excluded.finding_en, finding_zh = excluded.finding_zh, "
            "deviations = excluded.deviations",
            (
                resident,
                yesterday - timedelta(days=1),
                ["night_hr", "resting_hr", "activity", "steps", "sleep_h"],
                [70.0, 77.0, nan, 5000.0, nan],
                [1.0, 1.0, nan, 0.0, nan],
                yesterday,
                "Welfare check: resting heart rate 9 beats/min above usual (77) for 2 days.",
                "建议探访：静息心率比平时（77）高 9 次/分，已连续 2 天。",
                Jsonb({"overall": False, "deviations": [deviation]}),
            ),
        )
    page = await sign_in("family", viewport=PHONE)
    card = page.locator("#baseline-change")
    await expect(card.locator("h3")).to_have_text("与平时相比有变化")
    await expect(card.locator("#baseline-words li")).to_have_text("静息心率比平时（77）高 9 次/分，已连续 2 天")
    chart = card.locator("#chart-baseline")
    await expect(chart.locator("title")).to_have_text("每天的静息心率")
    await expect(chart.locator("desc")).to_contain_text("平时 77，最近判断的一天 86")
    await expect(chart.locator("polyline.line")).to_have_count(1)
    await expect(chart.locator("polygon.band")).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]

    english = await sign_in("family", lang="en", viewport=PHONE)
    await expect(english.locator("#baseline-words li")).to_have_text(
        "Resting heart rate 9 beats/min above their usual (77) for 2 days"
    )
    await expect(english.locator("#chart-baseline title")).to_have_text("Resting heart rate per day")


async def test_the_latest_blood_pressure_and_glucose_are_shown_only_when_vitals_are_shared(
    sign_in: SignIn, backend: Backend, database_url: str, world: World
) -> None:
    resident = world.resident_ids[0]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        devices = {}
        for uid, kind in (("bp-family-01", "blood_pressure_monitor"), ("gl-family-01", "glucose_meter")):
            cur = await conn.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, %s, %s) RETURNING id", (uid, kind, resident)
            )
            devices[kind] = (await cur.fetchone())[0]  # type: ignore[index]
        cuff, meter = devices["blood_pressure_monitor"], devices["glucose_meter"]
        earlier, latest = now - timedelta(days=2), now - timedelta(hours=3)
        await store_telemetry(
            conn,
            [
                (earlier, cuff, resident, Metric.BP_SYSTOLIC, 150.0),
                (earlier, cuff, resident, Metric.BP_DIASTOLIC, 95.0),
                (latest, cuff, resident, Metric.BP_SYSTOLIC, 138.0),
                (latest, cuff, resident, Metric.BP_DIASTOLIC, 86.0),
                (latest, cuff, resident, Metric.BP_PULSE, 71.0),
                (earlier, meter, resident, Metric.GLUCOSE_AFTER_MEAL, 8.9),
                (latest, meter, resident, Metric.GLUCOSE_FASTING, 5.4),
            ],
            now=now,
        )
    page = await sign_in("family", viewport=PHONE)
    card = page.locator("#health-checks")
    await expect(card.locator("#latest-bp .big-value")).to_have_text("138/86 mmHg")
    await expect(card.locator("#latest-bp")).to_contain_text("脉搏 71 次/分")
    await expect(card.locator("#latest-glucose .big-value")).to_have_text("5.4 mmol/L")
    await expect(card.locator("#latest-glucose")).to_contain_text("空腹")

    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        unshared = await service.put(
            f"/api/residents/{resident}/family",
            json={
                "user_id": world.user_ids["family"],
                "relation": "daughter",
                "share_status": True,
                "share_vitals": False,
                "share_activity": True,
                "share_incidents": True,
            },
        )
        assert unshared.status_code == 200, unshared.text
    await page.reload()
    await expect(page.locator("#status-panel")).to_be_visible()
    await expect(page.locator("#health-checks")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]
