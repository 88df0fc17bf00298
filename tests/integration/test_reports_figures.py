"""Figures on hand-made incidents, devices and visits: response times with the 60 s / 180 s shares and every
breach, per operator and station, against the escalation policy's answer targets (which the console is given
too); coverage; monthly welfare visits; the health-management rate; JSON and CSV (BOM, parses back)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from homecare.backend.http import install as install_error_handler
from homecare.backend.incidents.policy import DEFAULT_POLICY_FILE, Escalation, PolicySet, load_policies
from homecare.backend.incidents.router import router as incidents_router
from homecare.backend.reports.router import router
from homecare.backend.reports.service import percentile
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from homecare.contracts.messages import Metric
from tests.support.telemetry import store_telemetry

Conn = psycopg.AsyncConnection[Any]
TOKEN = "test-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
OCTOBER = {"start": "2026-10-01", "end": "2026-10-31"}
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def policies(request: pytest.FixtureRequest, tmp_path: Path) -> PolicySet:
    """The escalation policy in force: the shipped one, or (parametrised) the shipped one with other answer targets."""
    targets = getattr(request, "param", None)
    if targets is None:
        return load_policies()
    path = tmp_path / "policy.yaml"
    shipped = DEFAULT_POLICY_FILE.read_text()
    path.write_text(
        re.sub(r"^answer_targets:.*?^policies:", f"answer_targets: {targets}\npolicies:", shipped, flags=re.S | re.M)
    )
    return load_policies(path)


@pytest.fixture
async def client(database_url: str, policies: PolicySet) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(_env_file=None, database_url=database_url, api_token=TOKEN)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as pool:
        app = FastAPI()
        app.include_router(router, prefix="/api")
        app.include_router(incidents_router, prefix="/api")
        install_error_handler(app)
        app.state.runtime = Runtime(settings=settings, pool=pool)
        app.state.alarm_pipeline = SimpleNamespace(escalation=Escalation(policies=policies))  # its policy is read
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://homecare.test") as http:
            yield http


async def _id(db: Conn, query: str, params: tuple[Any, ...]) -> int:
    row = await (await db.execute(query, params)).fetchone()
    assert row is not None
    return int(row[0])


async def resident(db: Conn, name: str, station: int | None = None, *, vulnerable: bool = False) -> int:
    return await _id(
        db,
        "INSERT INTO residents (display_name, station_id, vulnerable, created_at) VALUES (%s, %s, %s, %s) RETURNING id",
        (name, station, vulnerable, LONG_AGO),
    )


async def station(db: Conn, code: str, name: str) -> int:
    return await _id(
        db,
        "INSERT INTO stations (code, name, address, lat, lon) VALUES (%s, %s, 'addr', 31.2, 121.4) RETURNING id",
        (code, name),
    )


def local(day: int, hour: int, minute: int = 0, second: int = 0, *, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


@dataclass
class Alarm:
    n: int
    resident: int
    cause: str
    alarm_at: datetime
    ack_s: float | None = None
    operator: str | None = None
    closed_s: float | None = None
    on_scene_s: float | None = None
    station: int | None = None


@dataclass
class World:
    station_a: int
    station_b: int
    residents: dict[str, int]
    incidents: dict[int, int]  # alarm number → incident id


async def insert_alarm(db: Conn, alarm: Alarm) -> int:
    at = alarm.alarm_at
    ack = None if alarm.ack_s is None else at + timedelta(seconds=alarm.ack_s)
    closed = None if alarm.closed_s is None else at + timedelta(seconds=alarm.closed_s)
    scene = None if alarm.on_scene_s is None else at + timedelta(seconds=alarm.on_scene_s)
    status = "open" if closed is None and ack is None else "resolved" if closed is not None else "acknowledged"
    if alarm.closed_s is not None and ack is None and alarm.closed_s < 60:
        status = "cancelled"
    incident = await _id(
        db,
        "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, opened_at, "
        "alarm_at, acknowledged_at, acknowledged_by, on_scene_at, closed_at, station_id, last_seen_at) "
        "VALUES (%s, %s, 1, %s, 'e', '说明', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (alarm.resident, alarm.cause, status, at, at, ack, alarm.operator, scene, closed, alarm.station, at),
    )
    if ack is not None:
        await db.execute(
            "INSERT INTO incident_transitions (incident_id, at, from_status, to_status, actor) "
            "VALUES (%s, %s, 'open', 'acknowledged', %s)",
            (incident, ack, alarm.operator),
        )
    return incident


@pytest.fixture
async def world(db: Conn) -> World:
    a = await station(db, "A", "明园服务站")
    b = await station(db, "B", "江宁服务站")
    r1, r2, r3 = await resident(db, "王秀英", a), await resident(db, "张建国", b), await resident(db, "刘桂兰")
    done = 3600.0
    alarms = [
        Alarm(1, r1, "fall_confirmed", local(2, 10), 20, "op-li", done, on_scene_s=600, station=a),
        Alarm(2, r1, "sos", local(3, 10), 45, "op-li", done, on_scene_s=900, station=b),  # sent to another station
        Alarm(3, r2, "sos", local(4, 10), 60, "op-wang", done),  # exactly 60 s: within
        Alarm(4, r2, "fall_confirmed", local(5, 10), 61, "op-wang", done),  # breach
        Alarm(5, r1, "smoke", local(6, 10), 180, "op-li", done),  # breach, exactly 180 s: within 180
        Alarm(6, r2, "smoke", local(7, 10), 181, "op-zhao", done),  # breach, missed 180
        Alarm(7, r3, "sos", local(8, 10), 30, "op-zhao", done, on_scene_s=1200),
        Alarm(8, r3, "fall", local(9, 10), None, None, 20),  # withdrawn within 60 s: not counted
        Alarm(9, r3, "smoke", local(10, 10), None, None, 300),  # closed unacknowledged after 5 min: breach
        Alarm(10, r1, "water_leak", local(11, 10), 10, "op-li", done),
        Alarm(11, r2, "vitals_spo2", local(1, 0, 0, 30), 5, "op-wang", done),  # first seconds of October (local)
        Alarm(12, r2, "vitals_pulse", local(30, 23, 59, 50, month=9), 500, "op-wang", done),  # September (local)
        Alarm(13, r2, "night_door", local(1, 0, 0, 10, month=11), 100, "op-wang", done),  # November (local)
        Alarm(14, r2, "inactivity", local(20, 10)),  # still waiting: breach
    ]
    incidents = {alarm.n: await insert_alarm(db, alarm) for alarm in alarms}
    # A pre-alarm that never became an alarm (alarm_at NULL) is not in the figures.
    await db.execute(
        "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, opened_at, "
        "last_seen_at, closed_at) VALUES (%s, 'low_battery', 4, 'cancelled', 'e', '说明', %s, %s, %s)",
        (r1, local(15, 9), local(15, 9), local(15, 9)),
    )
    return World(a, b, {"王秀英": r1, "张建国": r2, "刘桂兰": r3}, incidents)


def test_percentile_is_linear_interpolation() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5, 10, 20, 30, 45, 60, 61, 180, 181], 0.9) == pytest.approx(180.2)


async def test_response_times_for_october_in_shanghai(client: httpx.AsyncClient, world: World, db: Conn) -> None:
    response = await client.get("/api/reports/response-times", params=OCTOBER, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["period"]["start"] == "2026-10-01T00:00:00+08:00"
    assert report["period"]["end"] == "2026-11-01T00:00:00+08:00"
    ack = report["acknowledge"]
    assert ack["alarms"] == 12  # 1–11 and 14; 12 is September and 13 November in Shanghai
    assert (ack["counted"], ack["acknowledged"], ack["unacknowledged"], ack["withdrawn"]) == (11, 9, 2, 1)
    # Acknowledged waits: 5, 10, 20, 30, 45, 60, 61, 180, 181.
    assert ack["median_s"] == 45
    assert ack["p90_s"] == pytest.approx(180.2)
    assert (ack["within_60s"], ack["within_180s"]) == (6, 8)
    assert ack["share_within_60s"] == pytest.approx(6 / 11)
    assert ack["share_within_180s"] == pytest.approx(8 / 11)
    assert (ack["target_within_60s"], ack["target_within_180s"]) == (0.975, 0.99)
    assert (ack["answer_target_s"], ack["answer_limit_s"]) == (60, 180)
    assert ack["meets_60s_target"] is False
    assert ack["meets_180s_target"] is False

    breaches = report["breaches"]
    ids = world.incidents
    assert [b["incident_id"] for b in breaches] == [ids[4], ids[5], ids[6], ids[9], ids[14]]
    by_id = {b["incident_id"]: b for b in breaches}
    b4 = by_id[ids[4]]
    assert (b4["resident_name"], b4["acknowledged_by"], b4["wait_s"], b4["missed_180s"]) == (
        "张建国",
        "op-wang",
        61,
        False,
    )
    assert b4["alarm_at"] == "2026-10-05T10:00:00+08:00"
    assert b4["acknowledged_at"] == "2026-10-05T10:01:01+08:00"
    assert b4["station_name"] == "江宁服务站"
    assert (by_id[ids[5]]["wait_s"], by_id[ids[5]]["missed_180s"]) == (180, False)
    assert (by_id[ids[6]]["wait_s"], by_id[ids[6]]["missed_180s"]) == (181, True)
    b9 = by_id[ids[9]]
    assert (b9["acknowledged_at"], b9["acknowledged_by"], b9["wait_s"], b9["missed_180s"]) == (None, None, 300, True)
    assert b9["station_name"] is None
    b14 = by_id[ids[14]]
    assert b14["status"] == "open"
    assert b14["missed_180s"] is True
    assert b14["wait_s"] > 86_400  # still waiting: measured up to now

    scene = report["on_scene"]
    assert (scene["count"], scene["median_s"], scene["p90_s"]) == (3, 900, pytest.approx(1140))

    operators = {g["key"]: g for g in report["by_operator"]}
    assert sorted(operators) == ["op-li", "op-wang", "op-zhao"]
    li = operators["op-li"]  # 1, 2, 5, 10: waits 20, 45, 180, 10
    assert (li["alarms"], li["acknowledged"], li["median_ack_s"]) == (4, 4, 32.5)
    assert (li["share_within_60s"], li["share_within_180s"]) == (0.75, 1.0)
    assert (li["on_scene"], li["median_on_scene_s"]) == (2, 750)
    wang = operators["op-wang"]  # 3, 4, 11: waits 60, 61, 5
    assert (wang["alarms"], wang["median_ack_s"], wang["share_within_60s"]) == (3, 60, pytest.approx(2 / 3))
    zhao = operators["op-zhao"]  # 6, 7: waits 181, 30
    assert (zhao["median_ack_s"], zhao["share_within_60s"], zhao["share_within_180s"]) == (105.5, 0.5, 0.5)

    stations = {g["key"]: g for g in report["by_station"]}
    assert sorted(stations) == ["(no station)", "明园服务站", "江宁服务站"]
    a = stations["明园服务站"]  # 1 (dispatched there), 5, 10 — not 2, which went to B
    assert (a["station_id"], a["alarms"], a["acknowledged"], a["median_ack_s"]) == (world.station_a, 3, 3, 20)
    b = stations["江宁服务站"]  # 2, 3, 4, 6, 11, 14: acknowledged waits 45, 60, 61, 181, 5
    assert (b["alarms"], b["acknowledged"], b["median_ack_s"], b["share_within_60s"]) == (6, 5, 60, 0.6)
    assert (b["on_scene"], b["median_on_scene_s"]) == (1, 900)
    none = stations["(no station)"]  # 7, 8, 9
    assert (none["station_id"], none["alarms"], none["acknowledged"]) == (None, 3, 1)

    cursor = await db.execute("SELECT actor, action, detail FROM access_log")
    assert await cursor.fetchall() == [
        ("service", "reports.response_times", {"start": "2026-10-01", "end": "2026-10-31", "tz": "Asia/Shanghai"})
    ]


@pytest.mark.parametrize(
    "policies", ["{target: {within_s: 20, share: 0.25}, limit: {within_s: 61, share: 0.8}}"], indirect=True
)
async def test_the_figures_and_the_console_follow_the_policy_s_answer_targets(
    client: httpx.AsyncClient, world: World, policies: PolicySet
) -> None:
    response = await client.get("/api/reports/response-times", params=OCTOBER, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    ack = report["acknowledge"]
    # Acknowledged waits: 5, 10, 20, 30, 45, 60, 61, 180, 181; alarm 8, closed after exactly 20 s, is withdrawn.
    assert (ack["counted"], ack["withdrawn"]) == (11, 1)
    assert (ack["within_60s"], ack["within_180s"]) == (3, 7)  # within the 20 s target and the 61 s limit
    assert (ack["answer_target_s"], ack["answer_limit_s"]) == (20, 61)
    assert (ack["target_within_60s"], ack["target_within_180s"]) == (0.25, 0.8)
    assert (ack["meets_60s_target"], ack["meets_180s_target"]) == (True, False)  # 3/11 ≥ 25 %, 7/11 < 80 %
    ids = world.incidents
    missed = {b["incident_id"]: b["missed_180s"] for b in report["breaches"]}
    assert missed == {
        ids[2]: False,
        ids[3]: False,
        ids[4]: False,
        ids[5]: True,
        ids[6]: True,
        ids[7]: False,
        ids[9]: True,
        ids[14]: True,
    }
    li = {g["key"]: g for g in report["by_operator"]}["op-li"]  # waits 20, 45, 180, 10
    assert (li["share_within_60s"], li["share_within_180s"]) == (0.5, 0.75)

    response = await client.get("/api/incidents/escalation/targets", headers=AUTH)  # what the console's timers use
    assert response.status_code == 200, response.text
    assert response.json() == {"target": {"within_s": 20, "share": 0.25}, "limit": {"within_s": 61, "share": 0.8}}
    assert response.json() == policies.answer_targets.model_dump()


async def test_the_days_follow_the_requested_zone(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/api/reports/response-times", params=OCTOBER | {"tz": "UTC"}, headers=AUTH)
    assert response.status_code == 200
    report = response.json()
    assert report["period"]["start"] == "2026-10-01T00:00:00Z"
    ids = world.incidents
    # In UTC, 11 (30 Sep 16:00:30Z) falls out and 13 (31 Oct 16:00:10Z, acknowledged after 100 s) falls in.
    assert [b["incident_id"] for b in report["breaches"]] == [ids[4], ids[5], ids[6], ids[9], ids[14], ids[13]]
    assert report["breaches"][-1]["alarm_at"] == "2026-10-31T16:00:10Z"


async def test_breaches_and_groups_as_csv(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/api/reports/response-times/breaches.csv", params=OCTOBER, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="acknowledge-breaches_2026-10-01_2026-10-31.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    ids = world.incidents
    assert [int(r["incident_id"]) for r in rows] == [ids[4], ids[5], ids[6], ids[9], ids[14]]
    first = rows[0]
    assert first["resident_name"] == "张建国"
    assert (first["alarm_at"], first["acknowledged_at"], first["acknowledged_by"]) == (
        "2026-10-05 10:00:00",
        "2026-10-05 10:01:01",
        "op-wang",
    )
    assert (first["wait_s"], first["missed_180s"], first["timezone"]) == ("61.000", "no", "Asia/Shanghai")
    assert rows[3]["acknowledged_at"] == ""
    assert rows[3]["missed_180s"] == "yes"

    response = await client.get("/api/reports/response-times/by-operator.csv", params=OCTOBER, headers=AUTH)
    operators = {r["operator"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert operators["op-li"]["median_ack_s"] == "32.500"
    assert operators["op-li"]["share_within_60s"] == "0.750"
    response = await client.get("/api/reports/response-times/by-station.csv", params=OCTOBER, headers=AUTH)
    stations = {r["station"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert stations["明园服务站"]["alarms"] == "3"
    assert stations["明园服务站"]["station_id"] == str(world.station_a)


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/reports/response-times", {"tz": "Mars/Olympus"}, "unknown time zone"),
        ("/api/reports/response-times", {"start": "2026-10-31", "end": "2026-10-01"}, "before start"),
        ("/api/reports/response-times", {"start": "2024-01-01", "end": "2026-01-01"}, "at most 366 days"),
        ("/api/reports/welfare-visits", {"month": "2026-13"}, "month must look like"),
        ("/api/reports/welfare-visits/not-visited.csv", {"month": "October"}, "month must look like"),
        ("/api/reports/coverage", {"tz": "nowhere"}, "unknown time zone"),
    ],
)
async def test_bad_queries_are_422(client: httpx.AsyncClient, path: str, params: dict[str, str], message: str) -> None:
    response = await client.get(path, params=params, headers=AUTH)
    assert response.status_code == 422
    assert message in response.json()["detail"]


async def test_reports_need_the_token(client: httpx.AsyncClient) -> None:
    for path in ("/api/reports/response-times", "/api/reports/coverage/gaps.csv", "/api/reports/welfare-visits"):
        assert (await client.get(path)).status_code == 401


async def test_coverage_of_enrolled_residents(client: httpx.AsyncClient, db: Conn) -> None:
    a = await station(db, "A", "明园服务站")
    now = datetime.now(UTC)
    homes = {name: await resident(db, name, a) for name in ("c1", "c2", "c3", "c4", "c5", "c6")}
    devices = [  # (resident, uid, last seen, revoked)
        ("c1", "wr-1", now - timedelta(minutes=2), False),
        ("c1", "sos-1", now - timedelta(minutes=3), False),
        ("c2", "wr-2", now - timedelta(hours=1), False),
        ("c2", "sos-2", now - timedelta(hours=30), False),  # silent for more than a day
        ("c3", "wr-3", None, False),  # never heard from
        ("c4", "wr-4", now - timedelta(hours=25), False),
        ("c5", "wr-5", now - timedelta(minutes=5), True),  # revoked: c5 is not enrolled
    ]
    for name, uid, seen, revoked in devices:
        device = await _id(
            db,
            "INSERT INTO devices (uid, kind, resident_id, revoked_at) VALUES (%s, 'wristband', %s, %s) RETURNING id",
            (uid, homes[name], now if revoked else None),
        )
        if seen is not None:
            await db.execute(
                "INSERT INTO device_state (device_id, online, last_seen_at) VALUES (%s, true, %s)", (device, seen)
            )
    response = await client.get("/api/reports/coverage", headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["enrolled"], report["covered"], report["fully_covered"]) == (4, 2, 1)
    assert report["online_now"] == 1  # c1: both heard from minutes ago, within three heartbeat intervals
    assert report["share_covered"] == 0.5
    assert report["share_fully_covered"] == 0.25
    assert report["window_hours"] == 24
    assert report["at"].endswith("+08:00")
    gaps = {g["resident_name"]: g for g in report["gaps"]}
    assert sorted(gaps) == ["c2", "c3", "c4"]
    assert (gaps["c2"]["devices"], gaps["c2"]["devices_online"], gaps["c2"]["covered"]) == (2, 1, True)
    assert (gaps["c3"]["covered"], gaps["c3"]["last_seen_at"]) == (False, None)
    assert gaps["c4"]["covered"] is False

    # One rule for "online": the connection's last word wins when it came after the last message...
    sos = await _id(db, "SELECT id FROM devices WHERE uid = %s", ("sos-1",))
    await db.execute("UPDATE device_state SET online = false, online_changed_at = now() WHERE device_id = %s", (sos,))
    assert (await client.get("/api/reports/coverage", headers=AUTH)).json()["online_now"] == 0
    # ... and a message after a lost connection (a new session of the same device) brings it back.
    await db.execute("UPDATE device_state SET last_seen_at = now() + interval '1 second' WHERE device_id = %s", (sos,))
    assert (await client.get("/api/reports/coverage", headers=AUTH)).json()["online_now"] == 1

    response = await client.get("/api/reports/coverage/gaps.csv", headers=AUTH)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="coverage-gaps_')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["resident_name"], r["covered"], r["station_name"]) for r in rows] == [
        ("c2", "yes", "明园服务站"),
        ("c3", "no", "明园服务站"),
        ("c4", "no", "明园服务站"),
    ]


async def test_monthly_welfare_visits_of_vulnerable_residents(client: httpx.AsyncClient, db: Conn) -> None:
    a = await station(db, "A", "明园服务站")
    people = {name: await resident(db, name, a, vulnerable=name != "v5") for name in ("v1", "v2", "v3", "v4", "v5")}
    newcomer = await _id(  # enrolled after October: not counted for October
        db,
        "INSERT INTO residents (display_name, vulnerable, created_at) VALUES ('v6', true, %s) RETURNING id",
        (local(2, 9, month=11),),
    )
    visits = [
        ("v1", local(15, 14)),
        ("v2", local(30, 23, 30, month=9)),  # September in Shanghai
        ("v3", local(1, 0, 10, month=11)),  # November in Shanghai (still 31 October in UTC)
        ("v4", local(1, 0, 5)),  # the first minutes of October
        ("v4", local(20, 9)),
    ]
    for name, at in visits:
        await db.execute(
            "INSERT INTO welfare_visits (resident_id, visited_at, station_id, visitor) VALUES (%s, %s, %s, 'staff')",
            (people[name], at, a),
        )
    assert newcomer
    response = await client.get("/api/reports/welfare-visits", params={"month": "2026-10"}, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["month"], report["start"], report["end"]) == (
        "2026-10",
        "2026-10-01T00:00:00+08:00",
        "2026-11-01T00:00:00+08:00",
    )
    assert (report["vulnerable"], report["visited"], report["rate"]) == (4, 2, 0.5)
    assert report["target"] == 1.0
    assert report["meets_target"] is False
    missing = {r["resident_name"]: r for r in report["not_visited"]}
    assert sorted(missing) == ["v2", "v3"]
    assert missing["v2"]["last_visit_at"] == "2026-09-30T23:30:00+08:00"
    assert missing["v3"]["last_visit_at"] is None  # the visit after the month does not count for it

    response = await client.get("/api/reports/welfare-visits", params={"month": "2026-10", "tz": "UTC"}, headers=AUTH)
    in_utc = response.json()
    assert in_utc["visited"] == 3  # v3's visit (31 Oct 16:10Z) counts in UTC; v4 was also seen on 20 October
    assert [r["resident_name"] for r in in_utc["not_visited"]] == ["v2"]

    response = await client.get(
        "/api/reports/welfare-visits/not-visited.csv", params={"month": "2026-10"}, headers=AUTH
    )
    assert response.headers["content-disposition"] == 'attachment; filename="welfare-not-visited_2026-10.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["month"], r["resident_name"], r["last_visit_at"]) for r in rows] == [
        ("2026-10", "v2", "2026-09-30 23:30:00"),
        ("2026-10", "v3", ""),
    ]


async def test_the_health_management_rate_counts_residents_with_a_blood_pressure_or_glucose_check(
    client: httpx.AsyncClient, db: Conn
) -> None:
    a = await station(db, "A", "明园服务站")
    people = {name: await resident(db, name, a) for name in ("h1", "h2", "h3", "h4", "h5")}
    await store_telemetry(
        db,
        [
            (local(10, 7, 10), 1, people["h1"], Metric.BP_SYSTOLIC, 132.0),
            (local(10, 7, 10), 1, people["h1"], Metric.BP_DIASTOLIC, 84.0),
            (local(31, 23, 50), 2, people["h2"], Metric.GLUCOSE_FASTING, 5.6),  # the month's last minutes
            (local(12, 9), 3, people["h3"], Metric.HEART_RATE, 70.0),  # a wristband is not a health check
            (local(1, 0, 10, month=11), 5, people["h5"], Metric.GLUCOSE_RANDOM, 6.1),  # November in Shanghai
        ],
        now=local(2, 12, month=11),
    )
    response = await client.get("/api/reports/health-management", params=OCTOBER, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["residents"], report["checked"], report["rate"]) == (5, 2, 0.4)
    assert (report["target"], report["meets_target"]) == (0.95, False)
    assert [r["resident_name"] for r in report["not_checked"]] == ["h3", "h4", "h5"]

    # A check just taken counts at once, whether or not the hourly rollups have it yet.
    now = datetime.now(UTC)
    await store_telemetry(db, [(now, 4, people["h4"], Metric.BP_SYSTOLIC, 128.0)], now=now - timedelta(hours=1))
    recent = (await client.get("/api/reports/health-management", headers=AUTH)).json()
    assert [r["resident_name"] for r in recent["not_checked"]] == ["h1", "h2", "h3", "h5"]
