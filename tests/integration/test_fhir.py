"""The FHIR interface as a clinic system uses it: registration and consent by an administrator, the OAuth2
client-credentials token, and the read-only R4 endpoints scoped to the residents who consented."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fhir.resources.R4B import get_fhir_model_class

from homecare.contracts.messages import Metric
from homecare.storage.rollups import floor_time
from tests.support.backend import AUTH, Backend
from tests.support.telemetry import store_telemetry
from tests.support.world import World

Db = psycopg.AsyncConnection[tuple[Any, ...]]
HOUR = timedelta(hours=1)


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


def valid(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The answer's FHIR resource, checked against the fhir.resources model of its type (and a Bundle's entries
    against theirs)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    resource = dict(answer.json())
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return resource


def ndjson(exported: httpx.Response) -> list[dict[str, Any]]:
    """The resources of a bulk export, one a line, each checked against the fhir.resources model of its type."""
    lines = [json.loads(line) for line in exported.text.splitlines()]
    for line in lines:
        get_fhir_model_class(line["resourceType"]).model_validate(line)
    return lines


def outcome(answer: httpx.Response, status: int) -> str:
    """The diagnostics of an OperationOutcome answer with this status."""
    resource = valid(answer, status)
    assert resource["resourceType"] == "OperationOutcome"
    return str(resource["issue"][0]["diagnostics"])


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


async def consenting_clinic(client: httpx.AsyncClient, *resident_ids: int) -> tuple[dict[str, Any], dict[str, str]]:
    """A clinic the residents consented to share with, and the bearer header of a token it got."""
    clinic = await register_clinic(client)
    for resident_id in resident_ids:
        consent = await client.put(f"/api/residents/{resident_id}/clinic-consents/{clinic['id']}", headers=AUTH)
        assert consent.status_code == 200, consent.text
    token = (await request_token(client, clinic)).json()["access_token"]
    return clinic, {"Authorization": f"Bearer {token}"}


async def wristband_of(db: Db, resident_id: int) -> int:
    row = await (
        await db.execute("SELECT id FROM devices WHERE resident_id = %s AND kind = 'wristband'", (resident_id,))
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_clinic_reads_a_consenting_residents_patient_observations_devices_and_open_alarms(
    backend: Backend, world: World, db: Db
) -> None:
    resident, other = world.resident_ids[:2]
    now = datetime.now(UTC)
    first = floor_time(now, HOUR) - 3 * HOUR
    wristband = await wristband_of(db, resident)
    readings = {
        Metric.HEART_RATE: (70, 80),
        Metric.SPO2: (96, 98),
        Metric.RESP_RATE: (15, 17),
        Metric.SKIN_TEMP: (33.0, 34.0),
        Metric.STEPS: (100, 250),
    }
    await store_telemetry(
        db,
        [
            (hour + timedelta(minutes=minute), wristband, resident, metric, value)
            for hour in (first, first + HOUR)
            for metric, values in readings.items()
            for minute, value in zip((10, 40), values, strict=True)
        ],
        now=now,
    )
    opened = await (
        await db.execute(
            "INSERT INTO incidents (resident_id, cause, priority, status, explanation_en, explanation_zh, opened_at, "
            "alarm_at, last_seen_at) VALUES (%s, 'sos', 1, %s, 'SOS button pressed.', '按下了求助按钮。', %s, %s, %s) "
            "RETURNING id",
            (resident, "open", now - HOUR, now - HOUR, now - HOUR),
        )
    ).fetchone()
    assert opened is not None
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic, bearer = await consenting_clinic(client, resident)
        metadata = valid(await client.get("/fhir/R4/metadata"))
        assert metadata["fhirVersion"] == "4.0.1"
        assert {r["type"] for r in metadata["rest"][0]["resource"]} == {
            "Patient",
            "Observation",
            "Device",
            "Flag",
            "MedicationStatement",
        }

        patient = valid(await client.get(f"/fhir/R4/Patient/{resident}", headers=bearer))
        assert patient["id"] == str(resident)
        assert patient["name"][0]["text"]
        found = resources(
            valid(await client.get("/fhir/R4/Patient", params={"_lastUpdated": "ge2000"}, headers=bearer))
        )
        assert [p["id"] for p in found] == [str(resident)]  # only the resident who consented

        heart = resources(
            valid(
                await client.get(
                    "/fhir/R4/Observation",
                    params={"patient": f"Patient/{resident}", "code": "http://loinc.org|8867-4"},
                    headers=bearer,
                )
            )
        )
        assert [o["valueQuantity"] for o in heart] == [
            {"value": 75.0, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"}
        ] * 2
        assert [o["effectivePeriod"]["start"] for o in heart] == [
            first.isoformat().replace("+00:00", "Z"),
            (first + HOUR).isoformat().replace("+00:00", "Z"),
        ]
        assert heart[0]["subject"] == {"reference": f"Patient/{resident}"}

        every = resources(valid(await client.get("/fhir/R4/Observation", params={"patient": resident}, headers=bearer)))
        by_code = {
            o["code"]["coding"][0]["code"]: o["valueQuantity"]
            for o in every
            if o["effectivePeriod"]["start"] == heart[0]["effectivePeriod"]["start"]
        }
        assert by_code == {
            "8867-4": {"value": 75.0, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
            "59408-5": {"value": 97.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
            "9279-1": {"value": 16.0, "unit": "breaths/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
            "39106-0": {"value": 33.5, "unit": "°C", "system": "http://unitsofmeasure.org", "code": "Cel"},
            "55423-8": {"value": 350.0, "unit": "steps", "system": "http://unitsofmeasure.org", "code": "{steps}"},
        }
        assert len(every) == 10

        later = {"patient": resident, "date": f"ge{(first + HOUR).isoformat()}"}
        assert len(resources(valid(await client.get("/fhir/R4/Observation", params=later, headers=bearer)))) == 5
        updated = {"patient": resident, "_lastUpdated": f"gt{(first + HOUR).isoformat()}"}
        assert len(resources(valid(await client.get("/fhir/R4/Observation", params=updated, headers=bearer)))) == 5

        paged = valid(
            await client.get("/fhir/R4/Observation", params={"patient": resident, "_count": 4}, headers=bearer)
        )
        pages = [resources(paged)]
        while nxt := [link["url"] for link in paged["link"] if link["relation"] == "next"]:
            paged = valid(await client.get(nxt[0], headers=bearer))
            pages.append(resources(paged))
        assert [len(page) for page in pages] == [4, 4, 2]
        assert [o["id"] for page in pages for o in page] == [o["id"] for o in every]

        devices = resources(valid(await client.get("/fhir/R4/Device", params={"patient": resident}, headers=bearer)))
        assert str(wristband) in {d["id"] for d in devices}
        assert {d["patient"]["reference"] for d in devices} == {f"Patient/{resident}"}

        flags = resources(valid(await client.get("/fhir/R4/Flag", params={"patient": resident}, headers=bearer)))
        sos = [f for f in flags if f["id"] == str(opened[0])]
        assert [f["code"]["coding"][0]["code"] for f in sos] == ["sos"]
        assert sos[0]["status"] == "active"
        await db.execute("UPDATE incidents SET status = 'resolved', closed_at = now() WHERE id = %s", (opened[0],))
        flags = resources(valid(await client.get("/fhir/R4/Flag", params={"patient": resident}, headers=bearer)))
        assert str(opened[0]) not in {f["id"] for f in flags}

        since = (first + 2 * HOUR).isoformat()
        exported = await client.get("/fhir/R4/Patient/$export", params={"_since": since}, headers=bearer)
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"] == "application/fhir+ndjson"
        lines = ndjson(exported)
        kinds = [line["resourceType"] for line in lines]
        assert kinds.count("Patient") == 1
        assert [o["effectivePeriod"]["start"] for o in lines if o["resourceType"] == "Observation"] == [
            (first + HOUR).isoformat().replace("+00:00", "Z")
        ] * 5
        assert {d["id"] for d in lines if d["resourceType"] == "Device"} == {d["id"] for d in devices}
        only = await client.get("/fhir/R4/Patient/$export", params={"_type": "Observation"}, headers=bearer)
        assert len(only.text.splitlines()) == 10
        wrong = await client.get("/fhir/R4/Patient/$export", params={"_type": "Encounter"}, headers=bearer)
        assert "'Encounter' is not exported" in outcome(wrong, 400)

    reads = await (
        await db.execute(
            "SELECT DISTINCT resident_id, detail->>'resource' FROM access_log "
            "WHERE actor = %s AND action = 'fhir_read'",
            (f"clinic:{clinic['client_id']}",),
        )
    ).fetchall()
    assert set(reads) == {(resident, kind) for kind in ("Patient", "Observation", "Device", "Flag")}
    assert other not in {r for r, _ in reads}


async def test_a_clinic_reads_a_consenting_residents_adherence_as_medication_statements(
    backend: Backend, world: World, db: Db
) -> None:
    resident, other = world.resident_ids[:2]
    now = datetime.now(UTC).replace(microsecond=0)
    doses = []
    for who in (resident, other):
        made = await (
            await db.execute(
                "INSERT INTO medication_schedules (resident_id, medicine, dose, times, with_food, starts_on, "
                "created_by) VALUES (%s, '氨氯地平 Amlodipine', '5 mg', '{08:00}', false, '2026-01-01', 'test') "
                "RETURNING id",
                (who,),
            )
        ).fetchone()
        assert made is not None
        for back, confirmed, told in (
            (2, now - timedelta(days=2, minutes=-5), None),
            (1, None, now - timedelta(days=1)),
        ):
            row = await (
                await db.execute(
                    "INSERT INTO medication_doses (schedule_id, resident_id, due_at, confirmed_at, confirmed_by, "
                    "family_told_at, family_told) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (
                        made[0],
                        who,
                        now - timedelta(days=back),
                        confirmed,
                        confirmed and "pill_dispenser",
                        told,
                        told and 1,
                    ),
                )
            ).fetchone()
            assert row is not None
            doses.append(row[0])
    # A dose still inside its window is not a statement yet.
    await db.execute(
        "INSERT INTO medication_doses (schedule_id, resident_id, due_at) "
        "SELECT id, resident_id, %s FROM medication_schedules WHERE resident_id = %s",
        (now, resident),
    )
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        _, bearer = await consenting_clinic(client, resident)
        found = resources(
            valid(await client.get("/fhir/R4/MedicationStatement", params={"patient": resident}, headers=bearer))
        )
        assert [(m["id"], m["status"]) for m in found] == [(str(doses[0]), "completed"), (str(doses[1]), "not-taken")]
        assert found[0]["medicationCodeableConcept"] == {"text": "氨氯地平 Amlodipine"}
        assert found[0]["dosage"] == [{"text": "5 mg, without food"}]
        assert "pill dispenser" in found[0]["note"][0]["text"]
        assert found[1]["effectiveDateTime"] == (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
        assert {m["subject"]["reference"] for m in found} == {f"Patient/{resident}"}
        recent = {"patient": resident, "_lastUpdated": f"gt{(now - timedelta(days=1, hours=1)).isoformat()}"}
        assert [
            m["id"]
            for m in resources(valid(await client.get("/fhir/R4/MedicationStatement", params=recent, headers=bearer)))
        ] == [str(doses[1])]
        everyone = resources(valid(await client.get("/fhir/R4/MedicationStatement", headers=bearer)))
        assert len(everyone) == 2  # only the resident who consented
        refused = await client.get("/fhir/R4/MedicationStatement", params={"patient": other}, headers=bearer)
        assert outcome(refused, 404) == f"Patient/{other} is not known"
        exported = await client.get("/fhir/R4/Patient/$export", params={"_type": "MedicationStatement"}, headers=bearer)
        lines = ndjson(exported)
        assert [line["id"] for line in lines] == [str(doses[0]), str(doses[1])]


async def health_check_devices(db: Db, resident_id: int) -> tuple[int, int]:
    """A blood-pressure monitor and a glucose meter enrolled for the resident: (cuff id, meter id)."""
    ids = []
    for kind in ("blood_pressure_monitor", "glucose_meter"):
        row = await (
            await db.execute(
                "INSERT INTO devices (uid, kind, resident_id) VALUES (%s, %s, %s) RETURNING id",
                (f"fhir-{kind}-{resident_id}", kind, resident_id),
            )
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids[0], ids[1]


def z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def test_a_clinic_reads_each_blood_pressure_and_glucose_reading_as_an_observation_coded_by_its_context(
    backend: Backend, world: World, db: Db
) -> None:
    resident, other = world.resident_ids[:2]
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - 10 * HOUR
    cuff, meter = await health_check_devices(db, resident)
    other_cuff, _ = await health_check_devices(db, other)
    glucose = {  # hours after the start: (meal context's metric, mmol/L)
        0: (Metric.GLUCOSE_FASTING, 5.6),
        3: (Metric.GLUCOSE_AFTER_MEAL, 8.2),
        5: (Metric.GLUCOSE_BEFORE_MEAL, 6.1),
        7: (Metric.GLUCOSE_RANDOM, 7.0),
    }
    pressure = start + timedelta(minutes=5)
    await store_telemetry(
        db,
        [
            (pressure, cuff, resident, Metric.BP_SYSTOLIC, 152.0),
            (pressure, cuff, resident, Metric.BP_DIASTOLIC, 94.0),
            (pressure, cuff, resident, Metric.BP_PULSE, 72.0),
            (pressure, other_cuff, other, Metric.BP_SYSTOLIC, 181.0),
            (pressure, other_cuff, other, Metric.BP_DIASTOLIC, 100.0),
            *((start + hours * HOUR, meter, resident, metric, value) for hours, (metric, value) in glucose.items()),
        ],
        now=now,
    )
    mmhg = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    mmol = {"unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        _, bearer = await consenting_clinic(client, resident)

        async def search(**params: str | int) -> list[dict[str, Any]]:
            answer = await client.get("/fhir/R4/Observation", params={"patient": resident, **params}, headers=bearer)
            return resources(valid(answer))

        (panel,) = await search(code="http://loinc.org|85354-9")
        assert panel["code"]["coding"][0]["code"] == "85354-9"
        assert panel["category"][0]["coding"][0]["code"] == "vital-signs"
        assert panel["effectiveDateTime"] == z(pressure)
        assert panel["device"] == {"reference": f"Device/{cuff}"}
        assert "valueQuantity" not in panel
        assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in panel["component"]] == [
            ("8480-6", {"value": 152.0, **mmhg}),
            ("8462-4", {"value": 94.0, **mmhg}),
            ("8867-4", {"value": 72.0, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"}),
        ]
        assert await search(code="8867-4") == []  # the cuff's pulse is the panel's, not an hour's heart rate

        (fasting,) = await search(code="14770-2")
        assert fasting["valueQuantity"] == {"value": 5.6, **mmol}
        assert fasting["effectiveDateTime"] == z(start)
        assert fasting["device"] == {"reference": f"Device/{meter}"}
        (after,) = await search(code="14760-3")
        assert after["valueQuantity"] == {"value": 8.2, **mmol}
        untimed = await search(code="14743-9")
        assert [(o["valueQuantity"]["value"], o["code"]["text"]) for o in untimed] == [
            (6.1, "Glucose before a meal, capillary blood by meter"),
            (7.0, "Glucose at a random time, capillary blood by meter"),
        ]

        every = await search()
        assert [o["code"]["coding"][0]["code"] for o in every] == [
            "14770-2",
            "85354-9",
            "14760-3",
            "14743-9",
            "14743-9",
        ]
        assert len({o["id"] for o in every}) == 5
        later = await search(date=f"ge{(start + 4 * HOUR).isoformat()}")
        assert [o["valueQuantity"]["value"] for o in later] == [6.1, 7.0]
        updated = await search(_lastUpdated=f"lt{(start + HOUR).isoformat()}")
        assert [o["code"]["coding"][0]["code"] for o in updated] == ["14770-2", "85354-9"]
        paged = valid(
            await client.get("/fhir/R4/Observation", params={"patient": resident, "_count": 2}, headers=bearer)
        )
        ids = [o["id"] for o in resources(paged)]
        while nxt := [link["url"] for link in paged["link"] if link["relation"] == "next"]:
            paged = valid(await client.get(nxt[0], headers=bearer))
            ids += [o["id"] for o in resources(paged)]
        assert ids == [o["id"] for o in every]

        refused = await client.get("/fhir/R4/Observation", params={"patient": other}, headers=bearer)
        assert outcome(refused, 404) == f"Patient/{other} is not known"
        exported = await client.get("/fhir/R4/Patient/$export", params={"_type": "Observation"}, headers=bearer)
        lines = ndjson(exported)
        assert [line["id"] for line in lines] == [o["id"] for o in every]  # the other resident's crisis is not there


async def test_a_clinic_gets_404_for_a_resident_who_did_not_consent_and_once_consent_is_revoked(
    backend: Backend, world: World, db: Db
) -> None:
    resident, other = world.resident_ids[:2]
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic, bearer = await consenting_clinic(client, resident)
        assert outcome(await client.get(f"/fhir/R4/Patient/{other}", headers=bearer), 404) == (
            f"Patient/{other} is not known"
        )
        assert (
            outcome(await client.get("/fhir/R4/Patient/999999", headers=bearer), 404) == "Patient/999999 is not known"
        )
        assert outcome(await client.get("/fhir/R4/Patient/abc", headers=bearer), 404) == "Patient/abc is not known"
        for resource_type in ("Observation", "Device", "Flag"):
            refused = await client.get(f"/fhir/R4/{resource_type}", params={"patient": other}, headers=bearer)
            assert outcome(refused, 404) == f"Patient/{other} is not known"
        both = await client.get("/fhir/R4/Observation", params={"patient": f"{resident},{other}"}, headers=bearer)
        assert outcome(both, 404) == f"Patient/{other} is not known"

        valid(await client.get(f"/fhir/R4/Patient/{resident}", headers=bearer))
        revoked = await client.delete(f"/api/residents/{resident}/clinic-consents/{clinic['id']}", headers=AUTH)
        assert revoked.status_code == 200
        assert outcome(await client.get(f"/fhir/R4/Patient/{resident}", headers=bearer), 404) == (
            f"Patient/{resident} is not known"
        )
        observations = await client.get("/fhir/R4/Observation", params={"patient": resident}, headers=bearer)
        assert outcome(observations, 404) == f"Patient/{resident} is not known"
        assert resources(valid(await client.get("/fhir/R4/Patient", headers=bearer))) == []
    logged = await (
        await db.execute(
            "SELECT count(*) FROM access_log WHERE actor = %s AND resident_id = %s",
            (f"clinic:{clinic['client_id']}", other),
        )
    ).fetchone()
    assert logged == (0,)


async def test_every_invalid_fhir_request_answers_an_operation_outcome_naming_the_problem(
    backend: Backend, world: World
) -> None:
    resident = world.resident_ids[0]
    async with httpx.AsyncClient(base_url=backend.url, timeout=10) as client:
        clinic, bearer = await consenting_clinic(client, resident)
        no_token = await client.get(f"/fhir/R4/Patient/{resident}")
        assert "bearer token is required" in outcome(no_token, 401)
        assert no_token.headers["www-authenticate"] == "Bearer"
        wrong = await client.get(f"/fhir/R4/Patient/{resident}", headers={"Authorization": "Bearer not-a-token"})
        assert "not valid" in outcome(wrong, 401)
        service_token = await client.get(f"/fhir/R4/Patient/{resident}", headers=AUTH)
        assert outcome(service_token, 401) == "the bearer token is not valid or has expired"

        async def refusal(resource_type: str, **params: str | int) -> str:
            return outcome(await client.get(f"/fhir/R4/{resource_type}", params=params, headers=bearer), 400)

        assert "'1234-5' is not served" in await refusal("Observation", patient=resident, code="1234-5")
        assert "the system must be http://loinc.org" in await refusal("Observation", code="http://snomed.info/sct|1")
        assert await refusal("Observation", date="2026-13-01") == "date: '2026-13-01' is not a date that exists"
        assert "prefix 'ne' is not served" in await refusal("Observation", date="ne2026-01-01")
        assert "_lastUpdated: 'yesterday' is not a FHIR date" in await refusal("Patient", _lastUpdated="yesterday")
        assert "has no search parameter 'name'" in await refusal("Patient", name="Li")
        assert "_count must be a whole number from 1 to 1000" in await refusal("Device", _count=0)
        assert "patient must be a Patient reference" in await refusal("Flag", patient="Device/1")
        assert "answers only" in await refusal("Patient", _format="xml")
        assert "given more than once" in outcome(
            await client.get(f"/fhir/R4/Flag?patient={resident}&patient={resident}", headers=bearer), 400
        )
        assert outcome(await client.get("/fhir/R4/Encounter", headers=bearer), 404) == (
            "the resource type 'Encounter' is not known"
        )
        assert outcome(await client.post("/fhir/R4/Patient", headers=bearer), 405).endswith("Method Not Allowed")

        await client.post(f"/api/fhir/clinics/{clinic['id']}/disable", headers=AUTH)
        assert "not valid" in outcome(await client.get(f"/fhir/R4/Patient/{resident}", headers=bearer), 401)
