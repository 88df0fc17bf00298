"""The FHIR interface as a clinic system uses it: registration and consent by an administrator, the OAuth2
client-credentials token, and the read-only R4 endpoints scoped to the residents who consented."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.backend import AUTH, Backend
from tests.support.world import World


@pytest.fixture
def broker_url(amqtt_url: str) -> str:
    return amqtt_url


async def register_clinic(client: httpx.AsyncClient, name: str = "Jing'an Community Health Centre") -> dict[str, Any]:
    response = await client.post("/api/fhir/clinics", json={"name": name}, headers=AUTH)
    assert response.status_code == 201, response.text
    return dict(response.json())


def basic(clinic: dict[str, Any], secret: str | None = None) -> dict[str, str]:
    raw = f"{clinic['client_id']}:{secret or clinic['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def request_token(client: httpx.AsyncClient, clinic: dict[str, Any], **form: str) -> httpx.Response:
    return await client.post("/fhir/token", data={"grant_type": "client_credentials", **form}, headers=basic(clinic))


async def test_an_administrator_registers_a_clinic_whose_secret_is_shown_once_and_kept_hashed(
    backend: Backend, world: World, database_url: str
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic = await register_clinic(client)
        assert clinic["client_id"].startswith("clinic-")
        assert len(clinic["client_secret"]) >= 40
        listed = (await client.get("/api/fhir/clinics", headers=AUTH)).json()
        assert [c["client_id"] for c in listed] == [clinic["client_id"]]
        assert "client_secret" not in listed[0]
        assert clinic["client_secret"] not in str(listed)
        refused = await client.post("/api/fhir/clinics", json={"name": ""}, headers=AUTH)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "name"]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        (stored,) = await (await conn.execute("SELECT secret_hash FROM clinic_clients")).fetchone() or ("",)
    assert stored.startswith("$argon2id$")
    assert clinic["client_secret"] not in stored


async def test_a_clinic_gets_a_short_lived_bearer_token_for_its_client_credentials(
    backend: Backend, world: World
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic = await register_clinic(client)
        response = await request_token(client, clinic)
        assert response.status_code == 200, response.text
        token = response.json()
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 300
        assert len(token["access_token"]) >= 40
        assert "system/Observation.read" in token["scope"]
        assert response.headers["cache-control"] == "no-store"
        in_form = await client.post(
            "/fhir/token",
            data={
                "grant_type": "client_credentials",
                "client_id": clinic["client_id"],
                "client_secret": clinic["client_secret"],
            },
        )
        assert in_form.status_code == 200
        assert in_form.json()["access_token"] != token["access_token"]


async def test_a_token_request_is_refused_with_the_oauth2_error_that_names_the_problem(
    backend: Backend, world: World
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic = await register_clinic(client)
        wrong_secret = await client.post(
            "/fhir/token", data={"grant_type": "client_credentials"}, headers=basic(clinic, "not-the-secret")
        )
        assert wrong_secret.status_code == 401
        assert wrong_secret.json()["error"] == "invalid_client"
        no_grant = await client.post("/fhir/token", data={"scope": "system/*.read"}, headers=basic(clinic))
        assert no_grant.status_code == 400
        assert no_grant.json() == {"error": "invalid_request", "error_description": "grant_type is required"}
        password = await client.post("/fhir/token", data={"grant_type": "password"}, headers=basic(clinic))
        assert password.status_code == 400
        assert password.json()["error"] == "unsupported_grant_type"
        as_json = await client.post("/fhir/token", json={"grant_type": "client_credentials"}, headers=basic(clinic))
        assert as_json.status_code == 400
        assert "x-www-form-urlencoded" in as_json.json()["error_description"]
        nul = await client.post(
            "/fhir/token", data={"grant_type": "client_credentials"}, headers=basic(clinic, "a\x00b")
        )
        assert nul.status_code == 400
        assert nul.json()["error_description"] == "the client credentials hold a NUL character"
        disabled = await client.post(f"/api/fhir/clinics/{clinic['id']}/disable", headers=AUTH)
        assert disabled.status_code == 200
        assert disabled.json()["disabled_at"] is not None
        after = await request_token(client, clinic)
        assert after.status_code == 401
        assert after.json()["error"] == "invalid_client"


async def test_a_residents_consent_to_a_clinic_is_recorded_with_who_and_when_and_can_be_revoked(
    backend: Backend, world: World, database_url: str
) -> None:
    resident = world.resident_ids[0]
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic = await register_clinic(client)
        path = f"/api/residents/{resident}/clinic-consents/{clinic['id']}"
        recorded = (await client.put(path, headers=AUTH)).json()
        assert recorded["recorded_by"] == "service"
        assert recorded["revoked_at"] is None
        assert recorded["clinic_name"] == clinic["name"]
        revoked = (await client.delete(path, headers=AUTH)).json()
        assert revoked["revoked_by"] == "service"
        assert revoked["recorded_at"] == recorded["recorded_at"]
        listed = (await client.get(f"/api/residents/{resident}/clinic-consents", headers=AUTH)).json()
        assert listed == [revoked]
        again = (await client.put(path, headers=AUTH)).json()
        assert again["revoked_at"] is None
        assert again["recorded_at"] > recorded["recorded_at"]
        unknown_clinic = await client.put(f"/api/residents/{resident}/clinic-consents/999999", headers=AUTH)
        assert unknown_clinic.status_code == 404
        assert "clinic 999999" in unknown_clinic.json()["detail"]
        unknown_resident = await client.put(f"/api/residents/999999/clinic-consents/{clinic['id']}", headers=AUTH)
        assert unknown_resident.status_code == 404
        never = await client.delete(
            f"/api/residents/{world.resident_ids[1]}/clinic-consents/{clinic['id']}", headers=AUTH
        )
        assert never.status_code == 404
        assert "no consent" in never.json()["detail"]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        actions = await (
            await conn.execute("SELECT action FROM access_log WHERE resident_id = %s ORDER BY id", (resident,))
        ).fetchall()
    assert [a for (a,) in actions if a.startswith("clinic_consent")] == [
        "clinic_consent_recorded",
        "clinic_consent_revoked",
        "clinic_consents",
        "clinic_consent_recorded",
    ]
