"""The FHIR reads a clinic makes: only residents who consented to share with it, each read in the access log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from homecare.backend.fhir import ResourceNotFound
from homecare.backend.fhir import repository as repo
from homecare.backend.fhir import resources as fhir
from homecare.backend.fhir.models import CallingClinic
from homecare.backend.fhir.search import ALWAYS, MAX_COUNT, PERIODIC, Export, Search
from homecare.backend.residents.repository import record_access
from homecare.contracts.messages import BLOOD_PRESSURE_METRICS, Metric
from homecare.storage.connections import Conn

READ_ACTION = "fhir_read"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a search's matches, and whether another follows."""

    resources: list[fhir.Resource]
    more: bool


async def _in_scope(conn: Conn, *, clinic: CallingClinic, patients: list[int] | None) -> list[int]:
    """The residents a search may read: those it names, each of whom must have consented (else ResourceNotFound,
    as if they did not exist), or every resident who consented."""
    consenting = await repo.consenting_residents(conn, clinic_id=clinic.id, resident_ids=patients)
    for resident_id in patients or ():
        if resident_id not in consenting:
            raise ResourceNotFound(f"Patient/{resident_id}")
    return consenting


async def _answer(
    conn: Conn,
    *,
    clinic: CallingClinic,
    search: Search,
    query: str,
    resource_type: str,
    rows: Sequence[Any],
    build: Callable[..., fhir.Resource],
) -> Page:
    """The page of ``rows`` (fetched one past the page, to tell whether more follow) as resources, after the
    access log has a row for each resident the search named or the page shows."""
    shown = rows[: search.count]
    named = search.patients or []
    for resident_id in sorted({*named, *(row.resident_id for row in shown)}):
        await record_access(
            conn,
            actor=clinic.audit_name,
            resident_id=resident_id,
            action=READ_ACTION,
            detail={"clinic": clinic.name, "resource": resource_type, "query": query},
        )
    return Page([build(**asdict(row)) for row in shown], len(rows) > search.count)


async def read_patient(conn: Conn, *, clinic: CallingClinic, resident_id: int) -> fhir.Resource:
    search = Search(patients=[resident_id], count=1)
    await _in_scope(conn, clinic=clinic, patients=search.patients)
    rows = await repo.patients(conn, resident_ids=[resident_id], updated=search.last_updated, limit=1, offset=0)
    page = await _answer(
        conn, clinic=clinic, search=search, query="", resource_type="Patient", rows=rows, build=fhir.patient
    )
    return page.resources[0]


async def search_patients(conn: Conn, *, clinic: CallingClinic, search: Search, query: str) -> Page:
    scope = await _in_scope(conn, clinic=clinic, patients=None)
    rows = await repo.patients(
        conn, resident_ids=scope, updated=search.last_updated, limit=search.count + 1, offset=search.offset
    )
    return await _answer(
        conn, clinic=clinic, search=search, query=query, resource_type="Patient", rows=rows, build=fhir.patient
    )


async def search_observations(conn: Conn, *, clinic: CallingClinic, search: Search, query: str) -> Page:
    """The hourly vitals and the health checks (each reading, a blood pressure with its diastolic and pulse)."""
    scope = await _in_scope(conn, clinic=clinic, patients=search.patients)
    metrics = search.codes or [*fhir.VITALS, *fhir.HEALTH_CHECKS]
    rows = await repo.observations(
        conn,
        resident_ids=scope,
        vitals=[int(metric) for metric in metrics if metric in fhir.VITALS],
        checks=[
            int(part)
            for metric in metrics
            if metric in fhir.HEALTH_CHECKS
            for part in (BLOOD_PRESSURE_METRICS if metric is Metric.BP_SYSTOLIC else (metric,))
        ],
        hours=search.date & search.last_updated.shifted(-fhir.HOUR),  # an hour was last updated when it ended
        taken=search.date & search.last_updated,  # a health check, when it was taken
        limit=search.count + 1,
        offset=search.offset,
    )
    return await _answer(
        conn, clinic=clinic, search=search, query=query, resource_type="Observation", rows=rows, build=fhir.observation
    )


async def search_devices(conn: Conn, *, clinic: CallingClinic, search: Search, query: str) -> Page:
    scope = await _in_scope(conn, clinic=clinic, patients=search.patients)
    rows = await repo.devices(conn, resident_ids=scope, limit=search.count + 1, offset=search.offset)
    return await _answer(
        conn, clinic=clinic, search=search, query=query, resource_type="Device", rows=rows, build=fhir.device
    )


async def search_flags(conn: Conn, *, clinic: CallingClinic, search: Search, query: str) -> Page:
    scope = await _in_scope(conn, clinic=clinic, patients=search.patients)
    rows = await repo.open_alarms(conn, resident_ids=scope, limit=search.count + 1, offset=search.offset)
    return await _answer(
        conn, clinic=clinic, search=search, query=query, resource_type="Flag", rows=rows, build=fhir.flag
    )


async def search_medication_statements(conn: Conn, *, clinic: CallingClinic, search: Search, query: str) -> Page:
    scope = await _in_scope(conn, clinic=clinic, patients=search.patients)
    rows = await repo.doses(
        conn, resident_ids=scope, updated=search.last_updated, limit=search.count + 1, offset=search.offset
    )
    return await _answer(
        conn,
        clinic=clinic,
        search=search,
        query=query,
        resource_type="MedicationStatement",
        rows=rows,
        build=fhir.medication_statement,
    )


SEARCHERS: Final = {
    "Patient": search_patients,
    "Observation": search_observations,
    "Device": search_devices,
    "Flag": search_flags,
    "MedicationStatement": search_medication_statements,
}
"""The search of each resource type served."""


async def export(conn: Conn, *, clinic: CallingClinic, export: Export, query: str) -> list[fhir.Resource]:
    """Every resource of the exported types for the consenting residents: their Patients, Devices and open Flags,
    and the Observations and MedicationStatements last updated within the period;
    read page by page like a search, and logged alike."""
    found: list[fhir.Resource] = []
    for resource_type in export.types:
        updated = export.period if resource_type in PERIODIC else ALWAYS
        offset = 0
        while True:
            search = Search(last_updated=updated, count=MAX_COUNT, offset=offset)
            page = await SEARCHERS[resource_type](conn, clinic=clinic, search=search, query=query)
            found += page.resources
            if not page.more:
                break
            offset += MAX_COUNT
    return found
