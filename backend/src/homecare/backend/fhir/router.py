"""HTTP routes for clinic systems: their registration and residents' consents (administrators), the OAuth2 token
endpoint clinics call with their client credentials, and the read-only FHIR R4 interface they read with it."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse

from homecare.backend.deps import AdminActor, ConnDep, SettingsDep
from homecare.backend.fhir import ResourceNotFound, TokenRefused, clients, service
from homecare.backend.fhir import resources as fhir
from homecare.backend.fhir.models import (
    CallingClinic,
    Clinic,
    ClinicConsent,
    ClinicToken,
    NewClinic,
    RegisteredClinic,
)
from homecare.backend.fhir.resources import FHIR_JSON, FHIR_NDJSON, R4_PREFIX
from homecare.backend.fhir.search import SEARCHES, Search, parse_export, parse_search, patient_id
from homecare.backend.fhir.service import Page
from homecare.backend.inputs import RowId
from homecare.backend.zones import zone_or_service

router = APIRouter(tags=["fhir"])
token_router = APIRouter(prefix="/fhir", tags=["fhir"])

ClinicId = Annotated[RowId, Path(description="The clinic's id (not its OAuth2 client id).")]
ResidentId = Annotated[RowId, Path(description="The resident's id.")]
FORM: Final = "application/x-www-form-urlencoded"
MAX_TOKEN_REQUEST_BYTES: Final = 4096


@router.post(
    "/fhir/clinics",
    summary="Register a clinic system; its client secret is in this answer only (administrators)",
    status_code=status.HTTP_201_CREATED,
)
async def post_clinic(actor: AdminActor, conn: ConnDep, body: NewClinic) -> RegisteredClinic:
    return await clients.register_clinic(conn, actor=actor, name=body.name)


@router.get("/fhir/clinics", summary="The registered clinic systems (administrators)")
async def get_clinics(_: AdminActor, conn: ConnDep) -> list[Clinic]:
    return await clients.list_clinics(conn)


@router.post(
    "/fhir/clinics/{clinic_id}/disable",
    summary="Disable a clinic system: no more tokens, and its tokens stop working (administrators)",
)
async def disable_clinic(_: AdminActor, conn: ConnDep, clinic_id: ClinicId) -> Clinic:
    return await clients.disable_clinic(conn, clinic_id=clinic_id, now=datetime.now(UTC))


@router.get("/residents/{resident_id}/clinic-consents", summary="The resident's consents to clinics (administrators)")
async def get_consents(actor: AdminActor, conn: ConnDep, resident_id: ResidentId) -> list[ClinicConsent]:
    return await clients.consents(conn, actor=actor, resident_id=resident_id)


@router.put(
    "/residents/{resident_id}/clinic-consents/{clinic_id}",
    summary="Record that the resident consents to share their record with the clinic (administrators)",
)
async def put_consent(actor: AdminActor, conn: ConnDep, resident_id: ResidentId, clinic_id: ClinicId) -> ClinicConsent:
    return await clients.record_consent(
        conn, actor=actor, resident_id=resident_id, clinic_id=clinic_id, now=datetime.now(UTC)
    )


@router.delete(
    "/residents/{resident_id}/clinic-consents/{clinic_id}",
    summary="Revoke the resident's consent: the clinic no longer sees them (administrators)",
)
async def delete_consent(
    actor: AdminActor, conn: ConnDep, resident_id: ResidentId, clinic_id: ClinicId
) -> ClinicConsent:
    return await clients.revoke_consent(
        conn, actor=actor, resident_id=resident_id, clinic_id=clinic_id, now=datetime.now(UTC)
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """RFC 6749 section 2.3.1: client id and secret, each form-encoded, in an HTTP Basic header."""
    if header is None or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise TokenRefused("invalid_request", "the Basic authorization header is not valid base64") from err
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise TokenRefused("invalid_request", "the Basic authorization header has no client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


async def _form(request: Request) -> dict[str, str]:
    """The token request's form fields; each at most once (RFC 6749 section 3.2)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise TokenRefused("invalid_request", f"the token request's body must be {FORM}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TOKEN_REQUEST_BYTES:
            raise TokenRefused("invalid_request", f"the token request is longer than {MAX_TOKEN_REQUEST_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as err:
        raise TokenRefused("invalid_request", "the token request's body is not a valid form") from err
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise TokenRefused("invalid_request", f"{name} is given more than once")
        fields[name] = value
    return fields


@token_router.post(
    "/token",
    summary="OAuth2 client credentials: a short-lived bearer token for a clinic's FHIR reads",
    # The form is read here rather than declared: FastAPI's Form needs python-multipart, which nothing else needs.
    description="Form-encoded (application/x-www-form-urlencoded) `grant_type=client_credentials`; the clinic's "
    "`client_id` and `client_secret` in an HTTP Basic header or as form fields `client_id` and `client_secret`. "
    'Refusals answer RFC 6749\'s `{"error": …, "error_description": …}`.',
)
async def post_token(request: Request, response: Response, conn: ConnDep) -> ClinicToken:
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1: no cache keeps a token
    response.headers["Pragma"] = "no-cache"
    fields = await _form(request)
    basic = _basic_credentials(request.headers.get("authorization"))
    if basic is not None and ("client_id" in fields or "client_secret" in fields):
        raise TokenRefused("invalid_request", "give the client credentials once: in the Basic header or the form")
    client_id, client_secret = basic or (fields.get("client_id"), fields.get("client_secret"))
    if "\x00" in f"{client_id}{client_secret}":  # PostgreSQL text cannot hold it
        raise TokenRefused("invalid_request", "the client credentials hold a NUL character")
    return await clients.issue_token(
        conn,
        grant_type=fields.get("grant_type"),
        client_id=client_id,
        client_secret=client_secret,
        now=datetime.now(UTC),
    )


# The R4 interface: read-only, JSON, outside the OpenAPI document (its own description is GET /fhir/R4/metadata).
# Errors under it answer as OperationOutcome (homecare.backend.http).
r4_router = APIRouter(prefix=R4_PREFIX, include_in_schema=False)


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


async def get_clinic(request: Request, conn: ConnDep) -> CallingClinic:
    """The clinic behind the request's bearer token; 401 OperationOutcome without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return await clients.token_clinic(conn, token=presented, now=datetime.now(UTC))


ClinicDep = Annotated[CallingClinic, Depends(get_clinic)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + R4_PREFIX


def _bundle(request: Request, search: Search, page: Page) -> FhirResponse:
    """The page as a searchset Bundle, linking the next page (same query, a later _offset) when there is one."""
    next_url = None
    if page.more:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
        next_url = str(request.url.replace(query=urlencode([*params, ("_offset", str(search.offset + search.count))])))
    return FhirResponse(fhir.bundle(page.resources, base=_base(request), self_url=str(request.url), next_url=next_url))


@r4_router.get("/metadata")
async def metadata(request: Request) -> FhirResponse:
    """The CapabilityStatement; readable without a token, so a client can learn where to get one."""
    return FhirResponse(fhir.capability_statement(base=_base(request), published=datetime.now(UTC), searches=SEARCHES))


@r4_router.get("/Patient/$export")
async def export(request: Request, clinic: ClinicDep, conn: ConnDep, settings: SettingsDep) -> Response:
    """A bulk export answered at once (not the Bulk Data specification's asynchronous kick-off): NDJSON, one
    resource a line, of the consenting residents (parameters: ``_since``, ``_until``, ``_type``)."""
    asked = parse_export(list(request.query_params.multi_items()), zone=zone_or_service(settings.timezone))
    found = await service.export(conn, clinic=clinic, export=asked, query=request.url.query)
    body = "".join(json.dumps(resource, ensure_ascii=False) + "\n" for resource in found)
    return Response(body, media_type=FHIR_NDJSON)


@r4_router.get("/Patient/{resource_id}")
async def read_patient(clinic: ClinicDep, conn: ConnDep, resource_id: str) -> FhirResponse:
    resident_id = patient_id(resource_id)
    return FhirResponse(await service.read_patient(conn, clinic=clinic, resident_id=resident_id))


@r4_router.get("/{resource_type}")
async def search(
    request: Request, clinic: ClinicDep, conn: ConnDep, settings: SettingsDep, resource_type: str
) -> FhirResponse:
    """A search of one resource type (SEARCHES says which parameters each serves)."""
    if resource_type not in service.SEARCHERS:
        raise ResourceNotFound(f"the resource type {resource_type!r}")
    found = parse_search(
        resource_type, list(request.query_params.multi_items()), zone=zone_or_service(settings.timezone)
    )
    page = await service.SEARCHERS[resource_type](conn, clinic=clinic, search=found, query=request.url.query)
    return _bundle(request, found, page)
