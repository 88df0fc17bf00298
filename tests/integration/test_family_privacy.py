"""A family member reaches only their own relative, and only what the relative shares: every endpoint that
takes a resident, incident or task id is tried with another family's ids, found from the app's own routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.support.backend import AUTH, Backend
from tests.support.waiting import eventually
from tests.support.world import Login, World

ID_PARAMS = frozenset({"resident_id", "incident_id", "task_id"})
NOW = datetime.now(UTC)
# Query parameters whose type alone does not make a valid value.
QUERY_VALUES = {"metric": "heart_rate", "start": (NOW - timedelta(hours=1)).isoformat(), "end": NOW.isoformat()}


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


def example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A smallest valid value for a JSON Schema of the app's OpenAPI document (required fields only)."""
    if "$ref" in schema:
        return example(components[schema["$ref"].rsplit("/", 1)[1]], components)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return NOW.isoformat()
    return "x" * max(3, schema.get("minLength", 3))


def requests_with_ids(app: FastAPI, ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any], Any]]:
    """(method, url, query, body) for every API route taking a resident, incident or task id, filled with ``ids``
    (other path parameters: 1) and with valid query parameters and bodies, so that only the scope check can
    refuse them."""
    spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    found = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path
        if not isinstance(route, APIRoute) or path is None:
            continue
        names = set(re.findall(r"\{(\w+)", path))
        if not names & ID_PARAMS:
            continue
        for method in sorted(route.methods):
            operation = spec["paths"][path][method.lower()]
            query = {
                p["name"]: QUERY_VALUES.get(p["name"], example(p["schema"], components))
                for p in operation.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            body = example(body_schema["schema"], components) if body_schema else None
            url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(ids.get(m.group(1), 1)), path)
            found.append((method, url, query, body))
    return found


async def an_incident_with_a_task(
    db: psycopg.AsyncConnection[Any], backend: Backend, resident_id: int, station_id: int
) -> tuple[int, int]:
    """An SOS of the resident, through the alarm pipeline, dispatched to a station."""
    pendant = (
        await (
            await db.execute("SELECT id FROM devices WHERE resident_id = %s AND kind = 'sos_pendant'", (resident_id,))
        ).fetchone()
    )[0]
    await db.execute(
        "INSERT INTO events (device_id, resident_id, seq, ts, kind, priority) VALUES (%s, %s, 1, now(), 'sos', 1)",
        (pendant, resident_id),
    )

    async def opened() -> int | None:
        row = await (await db.execute("SELECT id FROM incidents WHERE resident_id = %s", (resident_id,))).fetchone()
        return None if row is None else int(row[0])

    incident_id = await eventually(opened)
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        task = await service.post(f"/api/incidents/{incident_id}/dispatch", json={"station_id": station_id})
    assert task.status_code == 201, task.text
    return incident_id, int(task.json()["id"])


async def test_another_family_cannot_reach_the_resident_through_any_endpoint(
    backend: Backend, world: World, db: psycopg.AsyncConnection[Any], login: Login
) -> None:
    relative = world.resident_ids[0]
    incident_id, task_id = await an_incident_with_a_task(db, backend, relative, world.station_ids[0])
    ids = {"resident_id": relative, "incident_id": incident_id, "task_id": task_id, "user_id": world.user_ids["family"]}
    requests = requests_with_ids(backend.server.config.app, ids)
    urls = {url for _, url, _, _ in requests}
    # The enumeration finds the endpoints it must (and, by construction, any added later).
    assert {
        f"/api/family/residents/{relative}/status",
        f"/api/family/residents/{relative}/incidents",
        f"/api/residents/{relative}/vitals/rollups",
        f"/api/incidents/{incident_id}",
        f"/api/tasks/{task_id}/accept",
    } <= urls

    stranger = await login("family2")
    answers = []
    for method, url, query, body in requests:
        response = await stranger.request(method, url, params=query, json=body)
        answers.append((method, url, response.status_code))
        assert world.enrolment.residents[0].name not in response.text, (method, url)
    assert [a for a in answers if a[2] not in (403, 404)] == []

    mine = (await stranger.get("/api/family/residents")).json()
    assert [r["resident_id"] for r in mine] == [world.resident_ids[1]]
    # Nothing changed on the way: the task is still offered and the incident not touched by family2.
    state = await (await db.execute("SELECT status FROM station_tasks WHERE id = %s", (task_id,))).fetchone()
    assert state == ("offered",)


async def test_family_reads_their_own_and_only_what_is_shared(
    backend: Backend, world: World, db: psycopg.AsyncConnection[Any], login: Login
) -> None:
    relative = world.resident_ids[0]
    await an_incident_with_a_task(db, backend, relative, world.station_ids[0])
    family = await login("family")
    rollups = f"/api/residents/{relative}/vitals/rollups"
    readable = [
        f"/api/family/residents/{relative}/status",
        f"/api/family/residents/{relative}/incidents",
        f"/api/family/residents/{relative}/sleep",
        f"/api/residents/{relative}/vitals/recent",
    ]
    for url in readable:
        assert (await family.get(url)).status_code == 200, url
    assert (await family.get(rollups, params=QUERY_VALUES)).status_code == 200
    assert (await family.get(rollups, params={**QUERY_VALUES, "metric": "steps"})).status_code == 200
    assert len((await family.get(f"/api/family/residents/{relative}/incidents")).json()) == 1

    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        response = await service.put(
            f"/api/residents/{relative}/family",
            json={
                "user_id": world.user_ids["family"],
                "relation": "女儿",
                "share_status": True,
                "share_vitals": False,
                "share_activity": False,
                "share_incidents": False,
            },
        )
        assert response.status_code == 200, response.text
    shared = (await family.get("/api/family/residents")).json()[0]
    assert (shared["share_status"], shared["share_vitals"], shared["share_incidents"]) == (True, False, False)
    for url in readable[1:]:
        assert (await family.get(url)).status_code == 404, url
    assert (await family.get(rollups, params=QUERY_VALUES)).status_code == 404
    assert (await family.get(rollups, params={**QUERY_VALUES, "metric": "steps"})).status_code == 404
    status = await family.get(readable[0])
    assert status.status_code == 200
    assert status.json()["today"] is None  # steps are activity, no longer shared

    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH) as service:
        await service.put(
            f"/api/residents/{relative}/family",
            json={"user_id": world.user_ids["family"], "share_status": False, "share_incidents": False},
        )
    assert (await family.get(readable[0])).status_code == 404
