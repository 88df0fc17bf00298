"""Hostile input at the API's boundary: text the database cannot store, ids past 32 bits, far offsets, nulls.

Each answers 422 naming the field (the database never sees it), and the same keep-alive connection serves the
next request.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.backend import AUTH, Backend
from tests.support.world import World

NUL = "a\u0000b"
BIG = 2**40


def _field_of(response: httpx.Response) -> list[Any]:
    """Where the 422 says the problem is, e.g. ["body", "note"]."""
    assert response.status_code == 422, response.text
    return [list(error["loc"]) for error in response.json()["detail"]]


@pytest.fixture
async def http(backend: Backend) -> Any:
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as client:
        yield client


async def _still_serves(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).status_code == 200


async def test_nul_in_the_login_name_is_refused_before_sign_in(backend: Backend) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as http:
        response = await http.post("/api/auth/login", json={"username": "operator\u0000", "password": "whatever"})
        assert _field_of(response) == [["body", "username"]]
        assert response.json()["detail"][0]["type"] == "string_pattern_mismatch"
        await _still_serves(http)


async def test_text_the_database_cannot_store_names_its_field(http: httpx.AsyncClient) -> None:
    assert _field_of(await http.get("/api/admin/residents", params={"q": NUL})) == [["query", "q"]]
    assert _field_of(await http.get("/api/admin/devices", params={"q": NUL})) == [["query", "q"]]
    assert _field_of(await http.post("/api/incidents/1/notes", json={"note": NUL})) == [["body", "note"]]
    # A lone surrogate: valid JSON, but not Unicode text that UTF-8 (and so PostgreSQL) can carry.
    lone = await http.post(
        "/api/incidents/1/notes", content=b'{"note": "help \\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert _field_of(lone) == [["body", "note"]]
    assert lone.json()["detail"][0]["type"] == "string_unicode"
    assert _field_of(await http.get("/api/admin/residents", params={"q": "x" * 101})) == [["query", "q"]]
    contact = {"name": "Li", "email": "li\u0000@example.org"}
    resident = {"display_name": "Wang", "address": "1 Road", "lat": 31.2, "lon": 121.4, "contacts": [contact]}
    assert _field_of(await http.post("/api/admin/residents", json=resident)) == [["body", "contacts", 0, "email"]]
    await _still_serves(http)


async def test_ids_beyond_32_bits_are_refused_in_queries_and_bodies(http: httpx.AsyncClient, world: World) -> None:
    assert _field_of(await http.get("/api/admin/residents", params={"station_id": BIG})) == [["query", "station_id"]]
    assert _field_of(await http.get("/api/users", params={"station_id": BIG})) == [["query", "station_id"]]
    operator = world.user_ids["operator"]
    assert _field_of(await http.patch(f"/api/users/{operator}", json={"station_id": BIG})) == [["body", "station_id"]]
    assert _field_of(await http.get(f"/api/residents/{BIG}")) == [["path", "resident_id"]]
    await _still_serves(http)


async def test_offsets_and_times_postgresql_cannot_take(http: httpx.AsyncClient, world: World) -> None:
    station = {"code": "X-1", "name": "Far east", "address": "1 Road", "lat": 31.2, "lon": 121.4}
    opens = await http.post("/api/admin/stations", json={**station, "opens": "08:00:00+16:53"})
    assert _field_of(opens) == [["body", "opens"]]
    resident = world.resident_ids[0]
    rollups = await http.get(
        f"/api/residents/{resident}/vitals/rollups",
        params={"metric": "heart_rate", "start": "0001-01-01T00:00:00+16:53", "end": "0001-01-02T00:00:00+08:00"},
    )
    assert sorted(_field_of(rollups)) == [["query", "end"], ["query", "start"]]
    # Any offset Python reads names a moment: it is taken, in UTC.
    taken = await http.get(
        f"/api/residents/{resident}/vitals/rollups",
        params={"metric": "heart_rate", "start": "2026-01-01T00:00:00+16:53", "end": "2026-01-02T00:00:00+08:00"},
    )
    assert taken.status_code == 200
    assert taken.json()["start"] == "2025-12-31T07:00:00Z"
    assert _field_of(await http.get("/api/reports/response-times", params={"end": "9999-12-31"})) == [["query", "end"]]
    month = await http.get("/api/reports/welfare-visits", params={"month": "9999-12"})
    assert month.status_code == 422
    assert "month" in month.json()["detail"]
    await _still_serves(http)


async def test_a_partial_update_may_leave_a_field_out_but_not_null_it(http: httpx.AsyncClient, world: World) -> None:
    operator = world.user_ids["operator"]
    assert _field_of(await http.patch(f"/api/users/{operator}", json={"on_duty": None})) == [["body", "on_duty"]]
    refused = await http.patch(f"/api/users/{operator}", json={"display_name": None})
    assert _field_of(refused) == [["body", "display_name"]]
    assert refused.json()["detail"][0]["type"] == "not_null"
    # Fields that may be empty are cleared with null; the others stay as they were.
    cleared = await http.patch(f"/api/users/{operator}", json={"phone": None, "on_duty": False})
    assert cleared.status_code == 200
    assert cleared.json()["phone"] is None
    assert cleared.json()["on_duty"] is False
    await _still_serves(http)
