"""A missed dose reaching the family: resident 0's medicine came due 40 minutes ago and nobody pressed "taken", so the
alarm pipeline (its own clock, the real one) e-mails the daughter and the family page on her phone says so, in both
languages; and a blood-pressure crisis from a real cuff reading appears as an incident on the operator's console."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from playwright.async_api import expect

from homecare.gateway.service import Gateway
from tests.browser.conftest import SignIn, screenshot
from tests.support.database import scalar
from tests.support.mqtt import TestClient
from tests.support.waiting import eventually
from tests.support.world import World

PHONE = {"width": 390, "height": 844}
SHANGHAI = ZoneInfo("Asia/Shanghai")
MEDICINE = "二甲双胍 Metformin"
EMAIL = "wang.fang@example.com"


async def a_missed_dose(database_url: str, world: World) -> datetime:
    """Resident 0 takes Metformin daily at the minute 40 minutes ago (a schedule made two hours ago) and has not
    confirmed it; their daughter's e-mail is on file. When the dose was due."""
    due = (datetime.now(UTC) - timedelta(minutes=40)).replace(second=0, microsecond=0)
    local = due.astimezone(SHANGHAI)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO resident_contacts (resident_id, call_order, name, relation, email) "
            "VALUES (%s, 9, '王芳', 'daughter', %s)",
            (world.resident_ids[0], EMAIL),
        )
        await conn.execute(
            "INSERT INTO medication_schedules (resident_id, medicine, dose, times, with_food, starts_on, created_by, "
            "created_at) VALUES (%s, %s, '500 mg', ARRAY[%s::time], true, %s, 'admin', now() - interval '2 hours')",
            (world.resident_ids[0], MEDICINE, local.time(), local.date() - timedelta(days=1)),
        )
    return due


async def test_a_missed_dose_reaches_the_family(
    sign_in: SignIn, database_url: str, world: World, gateway: Gateway
) -> None:
    due = await a_missed_dose(database_url, world)
    subject = await eventually(
        lambda: scalar(
            database_url,
            "SELECT subject FROM notification_outbox WHERE dose_id IS NOT NULL AND recipient = %s",
            EMAIL,
        ),
        timeout=20,
    )
    assert MEDICINE in subject
    family = await sign_in("family", viewport=PHONE)
    card = family.locator("#medication")
    await expect(card).to_be_visible()
    missed = card.locator("#doses li[data-state='missed']")
    await expect(missed).to_have_count(1)
    told = due.astimezone(SHANGHAI).strftime("%H:%M")
    await expect(missed).to_contain_text(f"{MEDICINE} 500 mg")
    await expect(missed).to_contain_text("未确认服药")
    await expect(missed).to_contain_text("已通知家属")
    await expect(missed.locator("time")).to_contain_text(told)
    await expect(card.locator("#adherence")).to_contain_text("0/1")
    await card.scroll_into_view_if_needed()
    await screenshot(family, "family-missed-dose")

    english = await sign_in("family", lang="en", viewport=PHONE)
    missed = english.locator("#medication #doses li[data-state='missed']")
    await expect(missed).to_contain_text("Not confirmed taken")
    await expect(missed).to_contain_text("family told at")
    await expect(english.locator("#adherence")).to_contain_text("Confirmed taken 0 of 1 doses in 30 days")
    assert await scalar(database_url, "SELECT count(*) FROM incidents WHERE cause = 'missed_dose'") == 0


async def test_a_blood_pressure_crisis_appears_on_the_operators_console(
    sign_in: SignIn, database_url: str, world: World, gateway: Gateway, pendant: TestClient
) -> None:
    resident = world.resident_ids[0]
    cuff = await scalar(
        database_url,
        "SELECT uid FROM devices WHERE resident_id = %s AND kind = 'blood_pressure_monitor' AND revoked_at IS NULL",
        resident,
    )
    if cuff is None:  # resident 0 has no hypertension in this neighbourhood: give them a cuff, as the admin would
        cuff = "bp-browser-01"
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await conn.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'blood_pressure_monitor', %s)",
                (cuff, resident),
            )
    console = await sign_in("operator")
    reading = {
        "v": 1,
        "device_id": cuff,
        "seq": 9_000_001,
        "ts": int(time.time() * 1000),
        "blood_pressure": {"systolic": 196, "diastolic": 114, "pulse": 88, "unit": "mmHg"},
    }
    pendant.publish(f"homecare/v1/dev/{cuff}/measurement", json.dumps(reading))
    row = console.locator("#queue .q-row", has_text="高血压危象")
    await expect(row).to_be_visible(timeout=90_000)
    await row.click()
    await expect(console.locator("#incident[data-ready]")).to_contain_text("196")
    await screenshot(console, "console-blood-pressure-crisis")
