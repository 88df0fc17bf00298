"""The vitals read API: token required, clear 4xx answers, figures equal to raw data, every read logged."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from homecare.backend.http import install as install_error_handler
from homecare.backend.runtime import Runtime
from homecare.backend.settings import Settings
from homecare.backend.telemetry.router import router
from homecare.contracts.messages import Metric
from homecare.storage.rollups import floor_time, refresh_rollups

Conn = psycopg.AsyncConnection[Any]
Row = tuple[datetime, int, int | None, int, float, int]

TOKEN = "test-token-0123456789-abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COPY_TELEMETRY = "COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN (FORMAT BINARY)"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The telemetry router in a bare app whose runtime holds a real pool on this test's database."""
    settings = Settings(_env_file=None, database_url=database_url, api_token=TOKEN)
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as pool:
        app = FastAPI()
        app.include_router(router)
        install_error_handler(app)
        app.state.runtime = Runtime(settings=settings, pool=pool)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://homecare.test") as http:
            yield http


class Household:
    """One resident with two wristbands, a neighbour with one, and the rows they sent."""

    def __init__(self, resident: int, neighbour: int, devices: dict[int, int], rows: list[Row]) -> None:
        self.resident, self.neighbour, self.devices, self.rows = resident, neighbour, devices, rows

    def mine(self, metric: Metric | None = None) -> list[Row]:
        return [r for r in self.rows if r[2] == self.resident and (metric is None or r[3] == metric)]


@pytest.fixture
async def resident(db: Conn) -> int:
    row = await (await db.execute("INSERT INTO residents (display_name) VALUES ('Qian Yu') RETURNING id")).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
async def household(db: Conn) -> Household:
    ids = []
    for name in ("Sun Li", "Zhou Hua"):
        row = await (
            await db.execute("INSERT INTO residents (display_name) VALUES (%s) RETURNING id", (name,))
        ).fetchone()
        assert row is not None
        ids.append(row[0])
    devices = {}
    for uid, owner in (("wr-100001", ids[0]), ("wr-100002", ids[0]), ("wr-200001", ids[1])):
        row = await (
            await db.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, 'wristband', %s) RETURNING id",
                (uid, owner),
            )
        ).fetchone()
        assert row is not None
        devices[row[0]] = owner
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows: list[Row] = []
    seq = dict.fromkeys(devices, 0)
    for device, owner in devices.items():
        for i in range(300):  # one report a minute for 5 h
            ts = now - timedelta(seconds=60 * i + rng.uniform(0, 30))
            for metric, low, high in ((Metric.HEART_RATE, 55, 110), (Metric.SPO2, 90, 100)):
                seq[device] += 1
                rows.append((ts, device, owner, int(metric), float(rng.randint(low, high)), seq[device]))
    async with db.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
        copy.set_types(["timestamptz", "int4", "int4", "int2", "float8", "int8"])
        for r in rows:
            await copy.write_row(r)
    await refresh_rollups(db, raw_retention_days=30)
    return Household(ids[0], ids[1], devices, rows)


async def access_log(db: Conn) -> list[tuple[Any, ...]]:
    cursor = await db.execute("SELECT actor, resident_id, action, detail FROM access_log ORDER BY id")
    return await cursor.fetchall()


async def test_requests_without_a_valid_token_are_refused(client: httpx.AsyncClient, resident: int) -> None:
    url = f"/residents/{resident}/vitals/recent"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    response = await client.get("/residents/999999/vitals/recent")
    assert response.status_code == 401, "no hint whether a resident exists without a token"


async def test_unknown_residents_are_not_found(client: httpx.AsyncClient, db: Conn) -> None:
    response = await client.get("/residents/424242/vitals/recent", headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {"detail": "resident 424242 does not exist"}
    response = await client.get(
        "/residents/424242/vitals/rollups",
        params={"metric": "heart_rate", "start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"},
        headers=AUTH,
    )
    assert response.status_code == 404
    assert await access_log(db) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric": "pulse"}, "unknown metric 'pulse'"),
        ({"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "end must be after start"),
        ({"resolution": "1m", "end": "2025-01-09T00:00:01Z"}, "at most 7 days"),
        ({"resolution": "1h", "end": "2026-03-01T00:00:00Z"}, "at most 400 days"),
        ({"start": "2025-01-01T00:00:00"}, "timezone"),
        ({"start": "yesterday"}, "datetime"),
        ({"resolution": "5m"}, "1m"),
    ],
)
async def test_bad_rollup_queries_get_a_clear_422(
    client: httpx.AsyncClient, resident: int, db: Conn, params: dict[str, str], message: str
) -> None:
    query = {"metric": "heart_rate", "start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"} | params
    response = await client.get(f"/residents/{resident}/vitals/rollups", params=query, headers=AUTH)
    assert response.status_code == 422
    assert message in response.text
    assert await access_log(db) == []


async def test_a_resident_without_devices_has_no_vitals_yet(client: httpx.AsyncClient, resident: int, db: Conn) -> None:
    response = await client.get(f"/residents/{resident}/vitals/recent", headers=AUTH)
    assert response.status_code == 200, response.text
    assert (response.json()["latest"], response.json()["points"]) == ([], [])
    assert [row[:3] for row in await access_log(db)] == [("service", resident, "vitals.recent")]


async def test_recent_since_is_limited_to_a_day(client: httpx.AsyncClient, resident: int) -> None:
    since = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    response = await client.get(f"/residents/{resident}/vitals/recent", params={"since": since}, headers=AUTH)
    assert response.status_code == 422
    assert "at most 24 hours" in response.text


def expected_buckets(rows: list[Row], step: timedelta, start: datetime, end: datetime) -> list[dict[str, Any]]:
    groups: dict[datetime, list[float]] = defaultdict(list)
    for ts, *_, value, _ in rows:
        bucket = floor_time(ts, step)
        if floor_time(start, step) <= bucket < end:
            groups[bucket].append(value)
    return [
        {
            "bucket": b.isoformat().replace("+00:00", "Z"),
            "avg": sum(v) / len(v),
            "min": min(v),
            "max": max(v),
            "n": len(v),
        }
        for b, v in sorted(groups.items())
    ]


def assert_same_buckets(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [b["bucket"] for b in got] == [b["bucket"] for b in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert (mine["n"], mine["min"], mine["max"]) == (theirs["n"], theirs["min"], theirs["max"])
        assert mine["avg"] == pytest.approx(theirs["avg"], rel=1e-12)


@pytest.mark.parametrize(("resolution", "step"), [("1m", timedelta(minutes=1)), ("1h", timedelta(hours=1))])
async def test_rollups_match_the_raw_data(
    client: httpx.AsyncClient, household: Household, db: Conn, resolution: str, step: timedelta
) -> None:
    shanghai = datetime.now(UTC).astimezone(datetime.fromisoformat("2025-01-01T00:00:00+08:00").tzinfo)
    start, end = shanghai - timedelta(hours=4, minutes=17), shanghai - timedelta(minutes=3)
    response = await client.get(
        f"/residents/{household.resident}/vitals/rollups",
        params={
            "metric": "heart_rate",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "resolution": resolution,
        },
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["unit"] == "beats/min"
    assert body["start"] == floor_time(start, step).isoformat().replace("+00:00", "Z")
    expected = expected_buckets(household.mine(Metric.HEART_RATE), step, start, end)
    assert len(expected) >= (4 if resolution == "1h" else 200)  # 1m: one bucket per report
    assert_same_buckets(body["buckets"], expected)

    [(actor, resident, action, detail)] = await access_log(db)
    assert (actor, resident, action) == ("service", household.resident, "vitals.rollups")
    assert detail["metric"] == "heart_rate"
    assert detail["resolution"] == resolution


async def test_recent_vitals_give_the_latest_value_and_the_points_since(
    client: httpx.AsyncClient, household: Household, db: Conn
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=20)
    response = await client.get(
        f"/residents/{household.resident}/vitals/recent", params={"since": since.isoformat()}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    body = response.json()
    mine = household.mine()
    for metric in (Metric.HEART_RATE, Metric.SPO2):
        newest = max((r for r in mine if r[3] == metric), key=lambda r: r[0])
        [latest] = [item for item in body["latest"] if item["metric"] == metric.name.lower()]
        assert (latest["value"], latest["device_id"]) == (newest[4], newest[1])
        assert datetime.fromisoformat(latest["ts"]) == newest[0].replace(microsecond=newest[0].microsecond)
    expected = sorted((r for r in mine if r[0] >= since), key=lambda r: (r[0], r[3], r[1], r[5]))
    assert [(p["metric"], p["value"], p["device_id"]) for p in body["points"]] == [
        (Metric(r[3]).name.lower(), r[4], r[1]) for r in expected
    ]
    assert body["truncated"] is False
    assert all(p["ts"].endswith("Z") for p in body["points"])

    only = await client.get(f"/residents/{household.resident}/vitals/recent", params={"metric": "spo2"}, headers=AUTH)
    assert {p["metric"] for p in only.json()["points"]} == {"spo2"}
    assert [item["metric"] for item in only.json()["latest"]] == ["spo2"]

    log = await access_log(db)
    assert [(actor, resident, action) for actor, resident, action, _ in log] == [
        ("service", household.resident, "vitals.recent")
    ] * 2
    assert log[1][3] == {"since": log[1][3]["since"], "metric": "spo2"}
