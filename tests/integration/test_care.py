"""Home care through the API on the real database: the information base and GB/T 42195-2022 assessments (kept,
never changed; a missing item named), the administrator's vulnerability and subsidy rules, and a month's welfare
round generated, assigned, opened and recorded by a visitor, with the monthly visit rate and the overdue list
following the records and findings opening incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from homecare.backend.care.ability import ITEMS
from tests.support.world import Login, World

SHANGHAI = ZoneInfo("Asia/Shanghai")
FINE = {
    "wellbeing": {
        "mood": "good",
        "health": "well",
        "eating": "normal",
        "medication": "taken",
        "hygiene": "ok",
        "lonely": "no",
    },
    "home_safety": {
        "gas": "safe",
        "electrics": "safe",
        "fall_hazards": "none",
        "smoke_alarm": "working",
        "heating_cooling": "adequate",
        "food_supply": "adequate",
        "home_unit": "working",
    },
}


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


def scores(total: int) -> dict[str, int]:
    """Item scores adding up to ``total``: full marks, taken away item by item."""
    items = {code: item.max_score for code, item in ITEMS.items()}
    missing = sum(items.values()) - total
    for code in items:
        cut = min(items[code], missing)
        items[code] -= cut
        missing -= cut
    return items


def assessment(total: int, **extra: Any) -> dict[str, Any]:
    today = datetime.now(SHANGHAI).date().isoformat()
    return {"assessed_on": today, "assessor": "评估员 赵敏", "reason": "routine", "items": scores(total), **extra}


async def detail_locs(response: httpx.Response) -> list[list[str | int]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


async def no_enrolment_flags(db: psycopg.AsyncConnection[Any]) -> None:
    """No resident flagged at enrolment: vulnerability then comes from the information base alone."""
    await db.execute("UPDATE residents SET vulnerable = false")


async def test_information_base_assessments_and_rules(
    login: Login, world: World, db: psycopg.AsyncConnection[Any]
) -> None:
    await no_enrolment_flags(db)
    admin, operator, family = await login("admin"), await login("operator"), await login("family")
    resident = world.resident_ids[2]

    items = (await admin.get("/api/care/assessment-items")).json()
    assert len(items) == 26
    assert sum(i["max_score"] for i in items) == 90

    before = (await admin.get(f"/api/care/residents/{resident}")).json()
    assert before["standing"] == {
        "level": None,
        "assessed_on": None,
        "vulnerable": False,
        "vulnerable_because": [],
        "visit_frequency": None,
        "subsidies": [],
    }
    profile = {
        "living_situation": ["alone"],
        "economic_status": "subsistence",
        "disability": "肢体残疾",
        "disability_grade": 3,
        "chronic_conditions": ["高血压", "糖尿病"],
    }
    saved = await admin.put(f"/api/care/residents/{resident}", json=profile)
    assert saved.status_code == 200, saved.text
    standing = saved.json()["standing"]
    assert standing["vulnerable"] is True
    assert sorted(standing["vulnerable_because"]) == ["alone", "disabled", "subsistence"]
    assert standing["visit_frequency"] == "monthly"  # living alone, but no assessment yet
    card = (await operator.get(f"/api/residents/{resident}")).json()
    assert card["conditions"] == ["高血压", "糖尿病"]  # the chronic conditions are the card's

    # Bad input: each item at fault is named.
    missing = assessment(90)
    del missing["items"]["stairs"], missing["items"]["hearing"]
    assert await detail_locs(await admin.post(f"/api/care/residents/{resident}/assessments", json=missing)) == [
        ["body", "items", "stairs"],
        ["body", "items", "hearing"],
    ]
    too_high = assessment(90)
    too_high["items"]["stairs"] = 4
    unknown = assessment(90)
    unknown["items"]["singing"] = 1
    for body, field in ((too_high, "stairs"), (unknown, "singing")):
        response = await admin.post(f"/api/care/residents/{resident}/assessments", json=body)
        assert await detail_locs(response) == [["body", "items", field]]
    tomorrow = assessment(90, assessed_on=(datetime.now(SHANGHAI).date() + timedelta(days=1)).isoformat())
    future = await admin.post(f"/api/care/residents/{resident}/assessments", json=tomorrow)
    assert await detail_locs(future) == [["body", "assessed_on"]]
    no_assessor = assessment(90)
    del no_assessor["assessor"]
    no_assessor_response = await admin.post(f"/api/care/residents/{resident}/assessments", json=no_assessor)
    assert await detail_locs(no_assessor_response) == [["body", "assessor"]]

    first = await admin.post(f"/api/care/residents/{resident}/assessments", json=assessment(90))
    assert first.status_code == 201, first.text
    assert (first.json()["total"], first.json()["level"], first.json()["assessor"]) == (90, 0, "评估员 赵敏")
    second = await admin.post(f"/api/care/residents/{resident}/assessments", json=assessment(50, dementia=True))
    assert second.status_code == 201, second.text
    assert (second.json()["total"], second.json()["preliminary_level"], second.json()["level"]) == (50, 2, 3)
    assert second.json()["adjustments"] == ["dementia"]

    # Rules an administrator edits: subsidies per level (and economic status), the weekly visits.
    rules = (await admin.get("/api/care/rules")).json()
    assert "alone" in rules["vulnerable_categories"]
    assert rules["subsidies"] == []
    new_rules = {
        "vulnerable_categories": ["alone", "empty_nest"],
        "vulnerable_from_level": 3,
        "weekly_alone_from_level": 3,
        "subsidies": [
            {"level": 3, "name": "护理补贴", "monthly_yuan": "300.00"},
            {"level": 3, "economic_status": "subsistence", "name": "低保护理补贴", "monthly_yuan": "200"},
            {"level": 3, "economic_status": "low_income", "name": "低收入补贴", "monthly_yuan": "100"},
            {"level": 2, "name": "护理补贴", "monthly_yuan": "150"},
        ],
    }
    assert (await operator.put("/api/care/rules", json=new_rules)).status_code == 403
    replaced = await admin.put("/api/care/rules", json=new_rules)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["updated_by"] == "admin"
    after = (await operator.get(f"/api/care/residents/{resident}")).json()
    assert after["standing"]["level"] == 3
    assert sorted(after["standing"]["vulnerable_because"]) == ["ability_level", "alone"]
    assert after["standing"]["visit_frequency"] == "weekly"  # alone, at level 3
    assert {(s["name"], s["monthly_yuan"]) for s in after["standing"]["subsidies"]} == {
        ("护理补贴", "300.00"),
        ("低保护理补贴", "200.00"),
    }
    assert [a["total"] for a in after["assessments"]] == [50, 90]  # newest first, the first one as recorded

    # A new assessment changes the standing and the subsidy; nothing recorded before changes.
    better = await admin.post(f"/api/care/residents/{resident}/assessments", json=assessment(70))
    assert better.json()["level"] == 1
    latest = (await admin.get(f"/api/care/residents/{resident}")).json()["standing"]
    assert (latest["level"], latest["visit_frequency"], latest["subsidies"]) == (1, "monthly", [])
    with pytest.raises(psycopg.errors.RaiseException, match="never changed"):
        await db.execute("UPDATE care_assessments SET total = 90 WHERE id = %s", (second.json()["id"],))
    with pytest.raises(psycopg.errors.RaiseException, match="never changed"):
        await db.execute("DELETE FROM care_assessments WHERE id = %s", (first.json()["id"],))

    # Who may: operators read, managers write; family members see none of it. Every opening is logged.
    assert (await operator.put(f"/api/care/residents/{resident}", json=profile)).status_code == 403
    assert (await family.get(f"/api/care/residents/{resident}")).status_code == 403
    assert (await admin.get("/api/care/residents/999999")).status_code == 404
    logged = await (
        await db.execute(
            "SELECT a.action, u.username FROM access_log a JOIN users u ON u.id = a.user_id "
            "WHERE a.resident_id = %s AND a.action LIKE 'care.%%'",
            (resident,),
        )
    ).fetchall()
    assert ("care.profile", "operator") in logged
    assert ("care.assessment.record", "admin") in logged


async def make_visitor(admin: httpx.AsyncClient, username: str, station_id: int) -> int:
    response = await admin.post(
        "/api/users",
        json={
            "username": username,
            "display_name": f"巡访员 {username}",
            "role": "visitor",
            "password": "visitor-password-1",
            "station_id": station_id,
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def signed_in_as(backend_url: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=backend_url, headers={"Origin": backend_url}, timeout=10)
    response = await client.post("/api/auth/login", json={"username": username, "password": "visitor-password-1"})
    assert response.status_code == 200, response.text
    return client


async def test_a_welfare_round_planned_recorded_and_counted(
    login: Login, world: World, db: psycopg.AsyncConnection[Any], backend: Any
) -> None:
    await no_enrolment_flags(db)
    admin, supervisor = await login("admin"), await login("supervisor")
    alone, empty_nest = world.resident_ids[0], world.resident_ids[1]
    # Both vulnerable residents belong to the neighbourhood's station; the other visitor to a second one.
    station = world.station_ids[0]
    second = await (
        await db.execute(
            "INSERT INTO stations (code, name, address, lat, lon) "
            "VALUES ('T-2', '第二服务站', '测试路 2 号', 31.25, 121.45) RETURNING id"
        )
    ).fetchone()
    assert second is not None
    elsewhere = second[0]
    await db.execute("UPDATE residents SET station_id = %s WHERE id IN (%s, %s)", (station, alone, empty_nest))
    assert (
        await admin.post(
            "/api/users",
            json={"username": "nostation", "display_name": "x", "role": "visitor", "password": "visitor-password-1"},
        )
    ).status_code == 422
    visitor_id = world.user_ids["visitor"]  # the demo visitor, of the neighbourhood's station
    await make_visitor(admin, "visitor.far", elsewhere)

    await admin.put(f"/api/care/residents/{alone}", json={"living_situation": ["alone"]})
    await admin.post(f"/api/care/residents/{alone}/assessments", json=assessment(50))  # level 2: weekly
    await admin.put(f"/api/care/residents/{empty_nest}", json={"living_situation": ["empty_nest"]})

    round_ = await supervisor.post("/api/care/rounds", json={})
    assert round_.status_code == 200, round_.text
    now_local = datetime.now(SHANGHAI)
    month = now_local.strftime("%Y-%m")
    planned = await (
        await db.execute(
            "SELECT resident_id, frequency, visitor_id, due_from, due_by FROM care_visits "
            "ORDER BY resident_id, due_from"
        )
    ).fetchall()
    weekly = [p for p in planned if p[0] == alone]
    assert {p[1] for p in weekly} == {"weekly"}
    assert len(weekly) >= 4
    assert [p[1:] for p in planned if p[0] == empty_nest] == [
        ("monthly", visitor_id, now_local.date().replace(day=1), weekly[-1][4])
    ]
    assert {p[2] for p in planned} == {visitor_id}  # the station's only visitor
    assert round_.json() == {
        "month": month,
        "vulnerable": 2,
        "created": len(planned),
        "planned": len(planned),
        "unassigned": 0,
    }
    again = (await supervisor.post("/api/care/rounds", json={"month": month})).json()
    assert (again["created"], again["planned"]) == (0, len(planned))

    rate = (await supervisor.get("/api/reports/welfare-visits")).json()
    assert (rate["vulnerable"], rate["visited"], rate["rate"]) == (2, 0, 0.0)

    visitor = await login("visitor")
    far = await signed_in_as(backend.url, "visitor.far")
    try:
        me = (await visitor.get("/api/auth/me")).json()
        assert me["role"] == "visitor"
        today = (await visitor.get("/api/care/visits")).json()
        by_resident = {v["resident_id"]: v for v in today if v["status"] == "planned"}
        assert set(by_resident) == {alone, empty_nest}
        assert all(v["due_from"] <= now_local.date().isoformat() for v in today)  # only periods begun
        assert (await far.get("/api/care/visits")).json() == []

        monthly_visit = by_resident[empty_nest]["id"]
        weekly_visit = max((v for v in today if v["resident_id"] == alone), key=lambda v: v["due_from"])["id"]
        card = await visitor.get(f"/api/care/visits/{monthly_visit}")
        assert card.status_code == 200, card.text
        assert card.json()["resident"]["id"] == empty_nest
        assert card.json()["living_situation"] == ["empty_nest"]
        # Privacy: another station's visitor cannot open it, nor can a visitor reach the call centre's card.
        assert (await far.get(f"/api/care/visits/{monthly_visit}")).status_code == 404
        assert (await visitor.get(f"/api/residents/{empty_nest}")).status_code == 403
        assert (await visitor.get(f"/api/care/residents/{empty_nest}")).status_code == 403
        logged = await (
            await db.execute(
                "SELECT count(*) FROM access_log "
                "WHERE user_id = %s AND resident_id = %s AND action = 'care.visit_card'",
                (visitor_id, empty_nest),
            )
        ).fetchone()
        assert logged == (1,)

        at = datetime.now(UTC).isoformat()
        url = f"/api/care/visits/{monthly_visit}/records"
        no_checklist = await visitor.post(url, json={"visited_at": at, "outcome": "seen"})
        assert (await detail_locs(no_checklist)) == [["body"]]
        assert "checklist" in no_checklist.json()["detail"][0]["msg"]
        partial = {"wellbeing": FINE["wellbeing"], "home_safety": {**FINE["home_safety"]}}
        del partial["home_safety"]["gas"]
        missing_item = await visitor.post(url, json={"visited_at": at, "outcome": "seen", "checklist": partial})
        assert await detail_locs(missing_item) == [["body", "checklist", "home_safety", "gas"]]
        future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        too_soon = await visitor.post(url, json={"visited_at": future, "outcome": "seen", "checklist": FINE})
        assert await detail_locs(too_soon) == [["body", "visited_at"]]
        assert (await far.post(url, json={"visited_at": at, "outcome": "seen", "checklist": FINE})).status_code == 404

        seen = await visitor.post(url, json={"visited_at": at, "outcome": "seen", "checklist": FINE, "note": "很好"})
        assert seen.status_code == 201, seen.text
        assert (seen.json()["findings"], seen.json()["incident_id"], seen.json()["visitor"]) == (
            [],
            None,
            "孙丽",
        )
        twice = await visitor.post(url, json={"visited_at": at, "outcome": "seen", "checklist": FINE})
        assert await detail_locs(twice) == [["body", "visit"]]
        rate = (await supervisor.get("/api/reports/welfare-visits")).json()
        assert (rate["visited"], rate["rate"]) == (1, 0.5)

        # Nobody at home: an incident for the call centre (at the priority set for this resident), the visit still
        # to make, no visit counted.
        await db.execute(
            "INSERT INTO detection_settings (resident_id, overrides) VALUES (%s, %s)",
            (alone, Jsonb({"priorities": {"visit_finding": 1}})),
        )
        weekly_url = f"/api/care/visits/{weekly_visit}/records"
        not_home = await visitor.post(weekly_url, json={"visited_at": at, "outcome": "not_home"})
        assert not_home.status_code == 201, not_home.text
        incident_id = not_home.json()["incident_id"]
        incident = await (
            await db.execute(
                "SELECT cause, status, resident_id, explanation_zh, priority FROM incidents WHERE id = %s",
                (incident_id,),
            )
        ).fetchone()
        assert incident is not None
        assert incident[:3] == ("visit_finding", "open", alone)
        assert "不在家" in incident[3]
        assert incident[4] == 1
        rate = (await supervisor.get("/api/reports/welfare-visits")).json()
        assert (rate["visited"], [r["resident_id"] for r in rate["not_visited"]]) == (1, [alone])

        unwell = {
            "wellbeing": {**FINE["wellbeing"], "health": "unwell"},
            "home_safety": {**FINE["home_safety"], "gas": "no_gas", "smoke_alarm": "absent"},
        }
        later = datetime.now(UTC).isoformat()
        found = await visitor.post(weekly_url, json={"visited_at": later, "outcome": "seen", "checklist": unwell})
        assert found.status_code == 201, found.text
        assert found.json()["findings"] == ["wellbeing.health:unwell", "home_safety.smoke_alarm:absent"]
        assert found.json()["incident_id"] == incident_id  # folded into the open one of the same cause
        rate = (await supervisor.get("/api/reports/welfare-visits")).json()
        assert (rate["visited"], rate["rate"], rate["not_visited"]) == (2, 1.0, [])

        # The visitor still sees today's records; a done visit stays on the list as done.
        statuses = {v["id"]: v["status"] for v in (await visitor.get("/api/care/visits")).json()}
        assert statuses[monthly_visit] == statuses[weekly_visit] == "done"
    finally:
        await far.aclose()

    # Last month's round, never made, is overdue; this month's done visits are not.
    last_month = (now_local.date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert (await supervisor.post("/api/care/rounds", json={"month": last_month})).json()["created"] >= 5
    overdue = (await supervisor.get("/api/care/visits", params={"overdue": "true"})).json()
    assert overdue
    assert all(v["overdue"] and v["status"] == "planned" for v in overdue)
    assert {v["due_from"][:7] for v in overdue} >= {last_month}
    assert not {monthly_visit, weekly_visit} & {v["id"] for v in overdue}
    assert (await admin.put(f"/api/care/visits/{overdue[0]['id']}/visitor", json={"visitor_id": 1})).status_code == 422
