"""HTTP routes of the administration: residents with alarm thresholds, devices and credentials, stations, imports."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from homecare.backend.deps import AdminActor, ConnDep, ManagerActor, limited_body
from homecare.backend.detection.config import DetectionSettings
from homecare.backend.enrolment import (
    service,
)
from homecare.backend.enrolment.broker_accounts import BrokerAccounts, BrokerAccountSettings, configured_accounts
from homecare.backend.enrolment.emqx import EmqxSessions, EmqxSettings, configured_sessions
from homecare.backend.enrolment.models import (
    DetectionView,
    Device,
    DeviceIn,
    DevicePage,
    ImportResult,
    IssuedCredentials,
    Resident,
    ResidentIn,
    ResidentPage,
    Station,
    StationIn,
)
from homecare.backend.inputs import RowId, Text
from homecare.backend.reports.export import to_csv

router = APIRouter(prefix="/admin", tags=["administration"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]
DeviceId = Annotated[RowId, Path(description="The device's id.")]
StationId = Annotated[RowId, Path(description="The station's id.")]
Search = Annotated[Text | None, Query(min_length=1, max_length=100, description="Text to look for.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]

NO_STORE: Final = {"Cache-Control": "no-store"}
CSV_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV, with or without a byte-order mark; the header names the columns.",
    }
}


def get_broker() -> BrokerAccounts | None:
    """Mosquitto's password file or dynamic-security plugin as HOMECARE_MOSQUITTO_* name them (read when
    credentials change)."""
    return configured_accounts(BrokerAccountSettings())


BrokerDep = Annotated[BrokerAccounts | None, Depends(get_broker)]


def get_emqx() -> EmqxSessions | None:
    """EMQX's REST API as HOMECARE_EMQX_* name it (read when a device is revoked)."""
    return configured_sessions(EmqxSettings())


EmqxDep = Annotated[EmqxSessions | None, Depends(get_emqx)]


def _download(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


@router.get("/residents", summary="Residents by name, address or reference, with their station and devices")
async def list_residents(
    actor: ManagerActor,
    conn: ConnDep,
    q: Search = None,
    station_id: Annotated[RowId | None, Query()] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> ResidentPage:
    return await service.list_residents(conn, actor=actor, query=q, station_id=station_id, offset=offset, limit=limit)


@router.post(
    "/residents", summary="Enrol a resident with their home, card and contacts", status_code=status.HTTP_201_CREATED
)
async def create_resident(actor: AdminActor, conn: ConnDep, body: ResidentIn) -> Resident:
    return await service.create_resident(conn, actor=actor, new=body)


@router.get("/residents/{resident_id}", summary="A resident's full record (logged)")
async def get_resident(actor: ManagerActor, conn: ConnDep, resident_id: ResidentId) -> Resident:
    return await service.get_resident(conn, actor=actor, resident_id=resident_id)


@router.put("/residents/{resident_id}", summary="Change a resident's record (contacts are replaced, in order)")
async def put_resident(actor: AdminActor, conn: ConnDep, resident_id: ResidentId, body: ResidentIn) -> Resident:
    return await service.update_resident(conn, actor=actor, resident_id=resident_id, new=body)


@router.get("/residents/{resident_id}/devices", summary="A resident's devices, revoked ones included")
async def resident_devices(actor: ManagerActor, conn: ConnDep, resident_id: ResidentId) -> list[Device]:
    page = await service.list_devices(
        conn, actor=actor, query=None, resident_id=resident_id, include_revoked=True, offset=0, limit=500
    )
    return page.items


@router.post(
    "/residents/{resident_id}/devices",
    status_code=status.HTTP_201_CREATED,
    summary="Enrol a device for the resident; the answer holds its secret, shown this once",
)
async def enrol_device(
    actor: AdminActor, conn: ConnDep, broker: BrokerDep, resident_id: ResidentId, body: DeviceIn, response: Response
) -> IssuedCredentials:
    response.headers.update(NO_STORE)
    return await service.enrol_device(conn, actor=actor, resident_id=resident_id, new=body, broker=broker)


@router.get(
    "/residents/{resident_id}/detection",
    summary="A resident's detector settings: effective, their overrides and the defaults (logged)",
)
async def get_detection(actor: ManagerActor, conn: ConnDep, resident_id: ResidentId) -> DetectionView:
    return await service.get_detection(conn, actor=actor, resident_id=resident_id)


@router.put(
    "/residents/{resident_id}/detection",
    summary="Replace a resident's detector overrides; {} restores the defaults. Used from the next run on",
)
async def put_detection(
    actor: AdminActor,
    conn: ConnDep,
    resident_id: ResidentId,
    body: Annotated[
        DetectionSettings,
        Body(
            description="Only what differs from the defaults, e.g. NEWS2 SpO2 "
            'scale 2: {"vitals": {"spo2_low": 83, "spo2_moderate": 85}}.'
        ),
    ],
) -> DetectionView:
    return await service.set_detection(conn, actor=actor, resident_id=resident_id, settings=body)


@router.get("/devices", summary="Devices by uid or holder's name; active ones first")
async def list_devices(
    actor: ManagerActor,
    conn: ConnDep,
    q: Search = None,
    include_revoked: bool = True,
    offset: Offset = 0,
    limit: Limit = 50,
) -> DevicePage:
    return await service.list_devices(
        conn, actor=actor, query=q, resident_id=None, include_revoked=include_revoked, offset=offset, limit=limit
    )


@router.post(
    "/devices/{device_id}/credentials",
    summary="New credentials for a device: the old secret stops working; the new one is shown this once",
)
async def reissue(
    actor: AdminActor, conn: ConnDep, broker: BrokerDep, device_id: DeviceId, response: Response
) -> IssuedCredentials:
    response.headers.update(NO_STORE)
    return await service.reissue_credentials(conn, actor=actor, device_id=device_id, broker=broker)


@router.post("/devices/{device_id}/revoke", summary="Revoke a device: the broker and gateways refuse it")
async def revoke(actor: AdminActor, conn: ConnDep, broker: BrokerDep, emqx: EmqxDep, device_id: DeviceId) -> Device:
    return await service.revoke_device(conn, actor=actor, device_id=device_id, broker=broker, emqx=emqx)


@router.get("/stations", summary="Stations with their hours, capacity and number of homes")
async def list_stations(_: ManagerActor, conn: ConnDep) -> list[Station]:
    return await service.list_stations(conn)


@router.post("/stations", summary="Add a station", status_code=status.HTTP_201_CREATED)
async def create_station(_: AdminActor, conn: ConnDep, body: StationIn) -> Station:
    return await service.save_station(conn, station_id=None, new=body)


@router.put("/stations/{station_id}", summary="Change a station")
async def put_station(_: AdminActor, conn: ConnDep, station_id: StationId, body: StationIn) -> Station:
    return await service.save_station(conn, station_id=station_id, new=body)


@router.get(
    "/import/residents.csv", summary="An empty residents file with the expected header", response_class=Response
)
async def residents_template(_: ManagerActor) -> Response:
    return _download(to_csv(service.RESIDENT_COLUMNS, []), "residents.csv")


@router.get("/import/devices.csv", summary="An empty devices file with the expected header", response_class=Response)
async def devices_template(_: ManagerActor) -> Response:
    return _download(to_csv(service.DEVICE_COLUMNS, []), "devices.csv")


@router.post(
    "/import/residents",
    summary="Import residents from CSV: every row valid, or nothing is imported",
    openapi_extra=CSV_BODY,
)
async def import_residents(actor: AdminActor, conn: ConnDep, request: Request) -> ImportResult:
    return await service.import_residents(
        conn, actor=actor, data=await limited_body(request, limit=service.MAX_IMPORT_BYTES)
    )


@router.post(
    "/import/devices",
    response_class=Response,
    openapi_extra=CSV_BODY,
    summary="Import devices from CSV (all or nothing); the answer is a CSV of their new secrets, shown this once",
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "uid, kind, resident_ref, username, secret, action (added / updated); "
            "the X-Added and X-Updated headers count them.",
        }
    },
)
async def import_devices(actor: AdminActor, conn: ConnDep, broker: BrokerDep, request: Request) -> Response:
    result, issued = await service.import_devices(
        conn, actor=actor, data=await limited_body(request, limit=service.MAX_IMPORT_BYTES), broker=broker
    )
    body = to_csv(
        service.CREDENTIAL_COLUMNS,
        [
            (row.uid, row.kind, row.resident_ref, row.uid, row.secret, "added" if row.added else "updated")
            for row in issued
        ],
    )
    response = _download(body, "device-credentials.csv")
    response.headers.update({"X-Added": str(result.added), "X-Updated": str(result.updated)})
    return response
