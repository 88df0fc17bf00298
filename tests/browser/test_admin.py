"""Administration in a real browser: a station, a resident with home and contacts, a device whose secret is shown
once, a family account linked with consent, CSV imports, and the dashboard of plan figures with a CSV download."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from playwright.async_api import Page, expect

from tests.browser.conftest import SignIn, screenshot
from tests.support.world import World

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def seed_figures(database_url: str, world: World) -> None:
    """Answered alarms over the last months (most within 60 s, a few late) and some welfare visits."""
    now = datetime.now(UTC)
    waits = [12, 25, 31, 44, 48, 52, 58, 75, 140, 20, 35, 15]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for n in range(60):
            alarm_at = now - timedelta(days=n * 3 % 170, hours=n % 7 + 1)
            ack = alarm_at + timedelta(seconds=waits[n % len(waits)])
            resident = world.resident_ids[n % len(world.resident_ids)]
            await conn.execute(
                "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, "
                "opened_at, alarm_at, acknowledged_at, acknowledged_by, on_scene_at, closed_at, outcome, last_seen_at) "
                "VALUES (%s, 'sos', 1, 'resolved', 'SOS button pressed.', '按下了紧急呼叫按钮。', %s, %s, %s, "
                "'operator', %s, %s, 'no_injury', %s)",
                (
                    resident,
                    alarm_at,
                    alarm_at,
                    ack,
                    ack + timedelta(minutes=8 + n % 9),
                    ack + timedelta(minutes=40),
                    alarm_at,
                ),
            )
        vulnerable = [
            r[0] for r in await (await conn.execute("SELECT id FROM residents WHERE vulnerable")).fetchall()
        ] or world.resident_ids[:2]
        await conn.execute("UPDATE residents SET vulnerable = true WHERE id = ANY(%s)", (vulnerable,))
        for months_ago in range(6):
            for resident in vulnerable[: len(vulnerable) - months_ago % 2]:
                await conn.execute(
                    "INSERT INTO welfare_visits (resident_id, visited_at, visitor, note) VALUES (%s, %s, 'responder', "
                    "'all well')",
                    (resident, now - timedelta(days=30 * months_ago + 1)),
                )


async def open_tab(page: Page, name: str) -> None:
    await page.click(f"#tab-{name}")
    await expect(page.locator(f"#panel-{name}")).to_be_visible()


async def test_an_administrator_enrols_a_neighbourhood_and_reads_the_figures(
    sign_in: SignIn, world: World, database_url: str, tmp_path: Path
) -> None:
    await seed_figures(database_url, world)
    page = await sign_in("admin")
    await expect(page).to_have_url(re.compile(r"/admin$"))

    # The dashboard: the plan's figures against their targets, charts, and the CSV downloads.
    await expect(page.locator("#fig-within60 .figure-value")).to_have_text(re.compile(r"\d+\.\d %"))
    await expect(page.locator("#fig-within60 .badge")).to_have_text("未达标")  # 2 of 12 answers are late
    await expect(page.locator("#fig-median .figure-value")).to_have_text(re.compile(r"\d+ 秒"))
    await expect(page.locator("#chart-ack .c-bar")).to_have_count(2)
    await expect(page.locator("#chart-onscene .c-bar").first).to_be_visible()
    await expect(page.locator("#chart-trend .c-line")).to_have_count(2)
    await expect(page.locator("#breaches-table tbody tr").first).to_be_visible()
    await expect(page.locator("#breaches-table tbody")).to_contain_text("李娜")  # the operator's name, not "operator"
    await expect(page.locator("#breaches-table tbody")).not_to_contain_text("operator")
    await screenshot(page, "admin-dashboard")
    async with page.expect_download() as downloading:
        await page.click("#csv-breaches")
    download = await downloading.value
    late = (await asyncio.to_thread(Path(await download.path()).read_bytes)).decode("utf-8")
    assert late.startswith("\ufeff")  # Excel opens it as UTF-8
    assert "operator" in late

    # A station, refused first for a latitude out of range (the API's message beside the field).
    await open_tab(page, "stations")
    await page.click("#st-new")
    for selector, value in {
        "#f-code": "XH-77",
        "#f-name": "枫林街道服务站",
        "#f-address": "枫林路 77 号",
        "#f-lat": "95",
        "#f-lon": "121.45",
        "#f-capacity": "4",
    }.items():
        await page.fill(selector, value)
    await page.fill("#f-opens", "07:30")
    await page.click("#station-form-submit")
    await expect(page.locator("#f-lat-error")).to_have_text("不能大于 90")
    await page.fill("#f-lat", "31.19")
    await page.click("#station-form-submit")
    await expect(page.locator("#st-table")).to_contain_text("枫林街道服务站")
    await expect(page.locator("#st-table")).to_contain_text("07:30–20:00")

    # A resident with home, card and a contact, at that station.
    await open_tab(page, "residents")
    await page.click("#res-new")
    await page.fill("#f-display_name", "周玉兰")
    await page.fill("#f-external_ref", "SH-XH-07701")
    await page.fill("#f-birth_year", "1936")
    await page.select_option("#f-sex", "female")
    await page.fill("#f-address", "徐汇区枫林路 77 弄 3 号 201 室")
    await page.fill("#f-lat", "31.1931")
    await page.fill("#f-lon", "121.4512")
    await page.select_option("#f-station_id", label="XH-77 · 枫林街道服务站")
    await page.check("#f-vulnerable")
    await page.fill("#f-allergies", "青霉素; 花生")
    await page.fill("#f-access_notes", "钥匙在 202 室邻居家")
    await page.fill("#f-contacts-0-name", "周建国")
    await page.fill("#f-contacts-0-relation", "儿子")
    await page.click("#resident-form-submit")
    await expect(page.locator("#contact-0-error")).to_have_text("联系人需要电话或电子邮箱")
    await page.fill("#f-contacts-0-phone", "13900007701")
    await page.click("#resident-form-submit")
    await expect(page.locator("#resident-form h2")).to_have_text("周玉兰 的档案")
    await expect(page.locator("#res-table")).to_contain_text("周玉兰")
    await expect(page.locator("#f-allergies")).to_have_value("青霉素; 花生")

    # A device for her: the secret is shown once, in a dialog with a copy button and the warning.
    await page.fill("#enrol-uid", "wr-browser-0001")
    await page.select_option("#enrol-kind", "wristband")
    await page.click("#enrol-form-submit")
    dialog = page.locator("#secret-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#secret-warning")).to_contain_text("密钥只显示这一次")
    await expect(page.locator("#secret-copy")).to_be_visible()
    secret = await page.locator("#secret-value").inner_text()
    assert len(secret) >= 32
    await screenshot(page, "admin-device-secret")
    await page.click("#secret-dialog-close")
    await expect(dialog).to_have_count(0)
    await expect(page.locator("#res-devices-table")).to_contain_text("wr-browser-0001")
    # The kind by the one name every page gives it (the console and the family page say 手环 too).
    await expect(page.locator("#res-devices-table tr", has_text="wr-browser-0001")).to_contain_text("手环")
    await expect(page.locator("#enrol-kind option[value=sos_pendant]")).to_have_text("紧急按钮")
    await screenshot(page, "admin-residents")
    assert secret not in await page.content()
    await page.reload()
    await page.click("#tab-residents")
    await page.click("button[data-resident]:has-text('周玉兰')")
    await expect(page.locator("#res-devices-table")).to_contain_text("wr-browser-0001")
    assert secret not in await page.content()

    # A family account, linked to her with her consent to share vitals too.
    await open_tab(page, "family")
    await page.fill("#fam-new-username", "zhou.jianguo")
    await page.fill("#fam-new-display_name", "周建国")
    await page.fill("#fam-new-password", "a-long-password-7701")
    await page.click("#fam-new-submit")
    await expect(page.locator("#fam-users-table")).to_contain_text("zhou.jianguo")
    await page.fill("#fam-search", "周玉兰")
    await page.click("#fam-search-results button")
    await page.select_option("#fam-user", label="周建国 (zhou.jianguo)")
    await page.fill("#fam-relation", "儿子")
    await page.check("#fam-share_vitals")
    await page.click("#fam-link-form-submit")
    await expect(page.locator("#fam-link-form-error")).to_have_text("请先确认老人已同意")
    await page.check("#fam-consent")
    await page.click("#fam-link-form-submit")
    await expect(page.locator("#fam-links-table")).to_contain_text("周建国")
    await expect(page.locator("#fam-links-table")).to_contain_text("admin")

    # Imports: a residents file from Excel (BOM), then a devices file refused whole for one bad line.
    await open_tab(page, "import")
    residents = (
        "\ufeffexternal_ref,display_name,address,lat,lon,station_code,vulnerable,contacts\r\n"
        "SH-XH-07702,吴秀珍,枫林路 77 弄 5 号,31.1935,121.4520,XH-77,是,吴强|儿子|13900007702\r\n"
        "SH-XH-07703,Xu Guoqiang,Fenglin Rd 79,31.1940,121.4530,XH-77,no,\r\n"
    )
    await page.set_input_files(
        "#imp-residents-file", files=[{"name": "residents.csv", "mimeType": "text/csv", "buffer": residents.encode()}]
    )
    await page.click("#imp-residents-submit")
    await expect(page.locator("#imp-residents-done")).to_have_text("导入完成：新增 2 条，更新 0 条")
    devices = (
        "uid,kind,resident_ref\r\nsos-browser-0002,sos_pendant,SH-XH-07702\r\nbed-browser-0003,mattress,SH-XH-07703\r\n"
    )
    await page.set_input_files(
        "#imp-devices-file", files=[{"name": "devices.csv", "mimeType": "text/csv", "buffer": devices.encode()}]
    )
    await page.click("#imp-devices-submit")
    await expect(page.locator("#imp-devices-errors")).to_contain_text("kind")
    await expect(page.locator("#imp-devices-errors tbody td").first).to_have_text("3")
    await page.click("#imp-devices-columns >> xpath=ancestor::details/summary")
    await screenshot(page, "admin-import")
    await page.set_input_files(
        "#imp-devices-file",
        files=[
            {
                "name": "devices.csv",
                "mimeType": "text/csv",
                "buffer": devices.replace("mattress", "bed_sensor").encode(),
            }
        ],
    )
    await page.click("#imp-devices-submit")
    await expect(page.locator("#imp-devices-done")).to_have_text("导入完成：新增 2 条，更新 0 条")
    async with page.expect_download() as downloading:
        await page.click("#imp-devices-download")
    credentials = (await asyncio.to_thread(Path(await (await downloading.value).path()).read_bytes)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(credentials)))
    assert [row["uid"] for row in rows] == ["sos-browser-0002", "bed-browser-0003"]
    assert all(len(row["secret"]) >= 32 for row in rows)

    await open_tab(page, "residents")
    await page.fill("#res-filter", "SH-XH-077")
    await expect(page.locator("#res-count")).to_have_text("第 1–3 条，共 3 条")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_supervisor_sees_the_dashboard_only(sign_in: SignIn, world: World) -> None:
    page = await sign_in("supervisor", lang="en")
    await page.goto("/admin")
    await expect(page.locator("#fig-within60")).to_be_visible()
    await expect(page.locator("#fig-within60 .figure-value")).to_have_text("—")  # no alarms yet
    await expect(page.locator("#chart-ack")).to_contain_text("no alarms")
    await expect(page.locator("#fig-health .figure-value")).to_have_text("0.0 %")  # nobody has had a health check
    await expect(page.locator("#fig-health")).to_contain_text("Health-management rate")
    await expect(page.locator("#fig-health")).to_contain_text("(target 95.0 %)")
    await expect(page.locator("[role=tab]")).to_have_count(1)
    await page.goto("/admin#residents")
    await expect(page.locator("#panel-dashboard")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_supervisor_reads_medication_adherence_per_station_and_resident(
    sign_in: SignIn, world: World, database_url: str
) -> None:
    """Three residents of one station took 4, 1 and 3 of their last 4 doses; one without a station took none of 2."""
    now = datetime.now(UTC)
    taken = {0: 4, 1: 1, 2: 3, 3: 0}
    due = {0: 4, 1: 4, 2: 4, 3: 2}
    residents = world.resident_ids[:4]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "UPDATE residents SET station_id = %s WHERE id = ANY(%s)", (world.station_ids[0], residents[:3])
        )
        await conn.execute("UPDATE residents SET station_id = NULL WHERE id = %s", (residents[3],))
        for n, resident in enumerate(residents):
            made = await (
                await conn.execute(
                    "INSERT INTO medication_schedules (resident_id, medicine, dose, times, starts_on, created_by, "
                    "stopped_at) VALUES (%s, 'Amlodipine', '5 mg', '{08:00}', '2026-01-01', 'test', now()) "
                    "RETURNING id",
                    (resident,),
                )
            ).fetchone()
            assert made is not None
            for day in range(due[n]):
                at = now - timedelta(days=day + 1)
                await conn.execute(
                    "INSERT INTO medication_doses (schedule_id, resident_id, due_at, confirmed_at, confirmed_by) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (made[0], resident, at, at if day < taken[n] else None, "home_unit" if day < taken[n] else None),
                )
        names = dict(await (await conn.execute("SELECT id, display_name FROM residents")).fetchall())
        (station,) = await (
            await conn.execute("SELECT name FROM stations WHERE id = %s", (world.station_ids[0],))
        ).fetchone() or ("",)

    page = await sign_in("supervisor", lang="en")
    await page.goto("/admin")
    await expect(page.locator("#fig-adherence .figure-value")).to_have_text("57.1 %")  # 8 of 14
    await expect(page.locator("#fig-adherence")).to_contain_text("8 of 14 doses due to 4 residents confirmed taken")
    rows = page.locator("#adherence-table tbody tr")
    await expect(rows).to_have_count(6)
    cells = [[c.strip() for c in await row.locator("td").all_inner_texts()] for row in await rows.all()]
    r = residents
    assert cells == [
        [station, "Whole station", "8 of 12", "66.7 %"],
        ["", names[r[1]], "1 of 4", "25.0 %"],  # the lowest first: whom to call
        ["", names[r[2]], "3 of 4", "75.0 %"],
        ["", names[r[0]], "4 of 4", "100.0 %"],
        ["(none)", "Whole station", "0 of 2", "0.0 %"],
        ["", names[r[3]], "0 of 2", "0.0 %"],
    ]
    # A period before any dose was due says so.
    await page.fill("#dash-start", (now - timedelta(days=60)).astimezone(SHANGHAI).date().isoformat())
    await page.fill("#dash-end", (now - timedelta(days=40)).astimezone(SHANGHAI).date().isoformat())
    await page.click("#dash-apply")
    await expect(page.locator("#adherence-table")).to_have_text("No dose was due in the period.")
    await expect(page.locator("#fig-adherence .figure-value")).to_have_text("—")

    admin = await sign_in("admin")
    await expect(admin.locator("#fig-adherence")).to_contain_text("用药依从率")
    await expect(admin.locator("#adherence-table tbody tr").first).to_contain_text("全站合计")
    await admin.locator("#adherence-table").scroll_into_view_if_needed()
    await screenshot(admin, "admin-adherence")
    assert page.errors == []  # type: ignore[attr-defined]
    assert admin.errors == []  # type: ignore[attr-defined]


async def test_every_tab_speaks_english_and_staff_and_devices_are_managed(sign_in: SignIn, world: World) -> None:
    page = await sign_in("admin", lang="en")
    page.on("dialog", lambda dialog: dialog.accept())  # the "are you sure?" of revoking
    headings = {
        "dashboard": "Dashboard",
        "residents": "Residents",
        "devices": "Devices",
        "stations": "Stations",
        "staff": "Staff",
        "family": "Family & consent",
        "import": "Import",
    }
    for tab, heading in headings.items():
        await open_tab(page, tab)
        await expect(page.locator(f"#panel-{tab} h1")).to_have_text(heading)

    await open_tab(page, "staff")
    await page.fill("#staff-form-username", "wang.operator")
    await page.fill("#staff-form-display_name", "Wang Li")
    await page.fill("#staff-form-password", "short")
    await page.click("#staff-form-submit")
    await expect(page.locator("#staff-form [data-field=password] .field-error")).to_have_text("At least 10 characters")
    await page.fill("#staff-form-password", "a-long-password-1234")
    await page.click("#staff-form-submit")
    row = page.locator("#staff-table tr", has_text="wang.operator")
    await expect(row).to_contain_text("Operator")
    await row.locator("button", has_text="Disable").click()
    await expect(row).to_contain_text("Disabled")

    await open_tab(page, "devices")
    uid = world.enrolment.devices[0].uid
    await page.fill("#dev-search", uid)
    await expect(page.locator("#devices-table tbody tr")).to_have_count(1)
    await page.click(f"button[data-action=revoke][data-uid='{uid}']")
    await expect(page.locator("#devices-table tbody tr")).to_have_count(0)  # revoked ones are hidden by default
    await page.check("#dev-revoked")
    await expect(page.locator("#devices-table tbody tr")).to_contain_text("Revoked")
    assert page.errors == []  # type: ignore[attr-defined]
