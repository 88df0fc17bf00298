"""Enrolment: residents with home, card and alarm thresholds, devices with one-time secrets, stations, CSV imports."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import psycopg
from pydantic import ValidationError

from homecare.backend.accounts.models import Actor
from homecare.backend.detection.config import DEFAULTS, DetectionSettings, get_settings, set_overrides
from homecare.backend.devices.repository import enrol_device as store_device
from homecare.backend.dispatch import StationNotFound
from homecare.backend.enrolment import (
    AlreadyEnrolled,
    DeviceNotFound,
    DeviceRevoked,
    ImportRejected,
    InvalidEnrolment,
    RowError,
)
from homecare.backend.enrolment import repository as repo
from homecare.backend.enrolment.broker_accounts import BrokerAccounts
from homecare.backend.enrolment.emqx import EmqxSessions
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
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import open_resident
from homecare.backend.residents.repository import record_access, replace_contacts, set_home, upsert_resident
from homecare.backend.zones import find_zone
from homecare.storage.connections import Conn
from homecare.storage.device_secrets import hash_secret

SECRET_BYTES: Final = 24
"""A device secret is 24 random bytes (32 URL-safe characters): far beyond guessing, short enough to type."""
MAX_IMPORT_BYTES: Final = 5 * 1024 * 1024
MAX_IMPORT_ROWS: Final = 10_000

RESIDENT_COLUMNS: Final = (
    "external_ref",
    "display_name",
    "address",
    "lat",
    "lon",
    "station_code",
    "birth_year",
    "sex",
    "phone",
    "vulnerable",
    "conditions",
    "medications",
    "allergies",
    "mobility",
    "language",
    "access_notes",
    "consent_video",
    "timezone",
    "contacts",
)
"""The residents file's columns (any order; the first five are required). Lists are separated by ';', contacts
are 'name|relation|phone|email' separated by ';', yes/no columns take yes/no, true/false, 1/0 or 是/否."""
RESIDENT_REQUIRED: Final = RESIDENT_COLUMNS[:5]
DEVICE_COLUMNS: Final = ("uid", "kind", "resident_ref")
"""The devices file's columns; resident_ref (a resident's external_ref) may be empty for a device kept in stock."""
DEVICE_REQUIRED: Final = DEVICE_COLUMNS[:2]
CREDENTIAL_COLUMNS: Final = ("uid", "kind", "resident_ref", "username", "secret", "action")

_LIST_SEPARATOR = re.compile(r"\s*[;；]\s*")
_YES = frozenset({"yes", "y", "true", "1", "是"})
_NO = frozenset({"no", "n", "false", "0", "否"})
_SEX = {"female": "female", "f": "female", "女": "female", "male": "male", "m": "male", "男": "male"}


def _check_timezone(name: str) -> None:
    if find_zone(name) is None:
        raise InvalidEnrolment(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai", field="timezone")


def new_secret() -> str:
    """A fresh device secret. Never one starting with "-": the credentials CSV carries it as it is, and a spreadsheet
    would read that as a formula, so the export would have to put an apostrophe before it."""
    while (secret := secrets.token_urlsafe(SECRET_BYTES)).startswith("-"):
        pass
    return secret


# Residents


async def list_residents(
    conn: Conn, *, actor: Actor, query: str | None, station_id: int | None, offset: int, limit: int
) -> ResidentPage:
    """A page of residents; the search itself goes to the access log (it shows names and addresses)."""
    total, items = await repo.search_residents(conn, query=query, station_id=station_id, offset=offset, limit=limit)
    await record_access(
        conn,
        actor=actor.name,
        resident_id=None,
        action="admin.residents.search",
        detail={"query": query, "station_id": station_id, "shown": [item.id for item in items]},
    )
    return ResidentPage(total=total, offset=offset, limit=limit, items=items)


async def get_resident(conn: Conn, *, actor: Actor, resident_id: int, action: str = "admin.resident.read") -> Resident:
    await open_resident(conn, actor=actor, resident_id=resident_id, action=action)
    found = await repo.resident_record(conn, resident_id=resident_id)
    if found is None:
        raise ResidentNotFound(resident_id)
    return found


async def _save_resident(conn: Conn, *, resident_id: int | None, new: ResidentIn, external_ref: str) -> int:
    """Write everything about the resident (a new one when ``resident_id`` is None); returns the id."""
    if resident_id is None:
        resident_id = await upsert_resident(
            conn, external_ref=external_ref, display_name=new.display_name, timezone=new.timezone
        )
    elif not await repo.set_identity(
        conn, resident_id=resident_id, external_ref=external_ref, display_name=new.display_name, timezone=new.timezone
    ):
        raise ResidentNotFound(resident_id)
    await set_home(
        conn,
        resident_id=resident_id,
        address=new.address,
        lat=new.lat,
        lon=new.lon,
        station_id=new.station_id,
        birth_year=new.birth_year,
        sex=new.sex,
        phone=new.phone,
        vulnerable=new.vulnerable,
    )
    await repo.set_card(
        conn,
        resident_id=resident_id,
        access_notes=new.access_notes,
        conditions=new.conditions,
        medications=new.medications,
        allergies=new.allergies,
        mobility=new.mobility,
        language=new.language,
        consent_video=new.consent_video,
    )
    await replace_contacts(
        conn, resident_id=resident_id, contacts=[(c.name, c.relation, c.phone, c.email) for c in new.contacts]
    )
    return resident_id


async def _write_resident(
    conn: Conn, *, actor: Actor, resident_id: int | None, new: ResidentIn, external_ref: str
) -> Resident:
    _check_timezone(new.timezone)
    try:
        async with conn.transaction():
            if resident_id is None and await repo.resident_ids_by_ref(conn, refs=[external_ref]):
                raise AlreadyEnrolled(f"the reference {external_ref!r} belongs to another resident")
            saved = await _save_resident(conn, resident_id=resident_id, new=new, external_ref=external_ref)
    except psycopg.errors.ForeignKeyViolation as err:
        raise InvalidEnrolment(f"station {new.station_id} does not exist", field="station_id") from err
    except psycopg.errors.UniqueViolation as err:
        raise AlreadyEnrolled(f"the reference {external_ref!r} belongs to another resident") from err
    return await get_resident(
        conn,
        actor=actor,
        resident_id=saved,
        action="admin.resident.create" if resident_id is None else "admin.resident.update",
    )


def _generated_ref() -> str:
    return f"adm-{secrets.token_hex(5)}"


async def create_resident(conn: Conn, *, actor: Actor, new: ResidentIn) -> Resident:
    return await _write_resident(
        conn, actor=actor, resident_id=None, new=new, external_ref=new.external_ref or _generated_ref()
    )


async def update_resident(conn: Conn, *, actor: Actor, resident_id: int, new: ResidentIn) -> Resident:
    """Replace the resident's record; without a reference in ``new`` they keep theirs."""
    current = await get_resident(conn, actor=actor, resident_id=resident_id, action="admin.resident.open")
    return await _write_resident(
        conn,
        actor=actor,
        resident_id=resident_id,
        new=new,
        external_ref=new.external_ref or current.external_ref or _generated_ref(),
    )


# Detector settings


async def _detection_view(conn: Conn, *, resident_id: int) -> DetectionView:
    stored = await repo.detection_overrides(conn, resident_id=resident_id) or {}
    # Effective as the detectors see it: a stored object that no longer validates means the defaults.
    return DetectionView(
        resident_id=resident_id,
        effective=await get_settings(conn, resident_id=resident_id),
        overrides=stored.get("overrides", {}),
        defaults=DEFAULTS,
        updated_at=stored.get("updated_at"),
        updated_by=stored.get("updated_by"),
    )


async def get_detection(conn: Conn, *, actor: Actor, resident_id: int) -> DetectionView:
    """The resident's detector settings: effective, overridden and default."""
    await open_resident(conn, actor=actor, resident_id=resident_id, action="admin.detection.read")
    return await _detection_view(conn, resident_id=resident_id)


async def set_detection(conn: Conn, *, actor: Actor, resident_id: int, settings: DetectionSettings) -> DetectionView:
    """Replace the resident's overrides with the values ``settings`` was given (none: back to the defaults).

    Nothing caches them: the pipeline reads every resident's settings for each batch of events and the periodic
    detectors at each run, so the next run after this commits uses them."""
    overrides = settings.model_dump(mode="json", exclude_unset=True)
    async with conn.transaction():
        await open_resident(
            conn, actor=actor, resident_id=resident_id, action="admin.detection.update", detail={"overrides": overrides}
        )
        await set_overrides(conn, resident_id=resident_id, overrides=overrides, updated_by=actor.name)
    return await _detection_view(conn, resident_id=resident_id)


# Devices


async def list_devices(
    conn: Conn,
    *,
    actor: Actor,
    query: str | None,
    resident_id: int | None,
    include_revoked: bool,
    offset: int,
    limit: int,
) -> DevicePage:
    """Devices of one resident (an opening of their record) or of everyone (a logged search)."""
    if resident_id is not None:
        await open_resident(conn, actor=actor, resident_id=resident_id, action="admin.devices")
    total, items = await repo.list_devices(
        conn, query=query, resident_id=resident_id, include_revoked=include_revoked, offset=offset, limit=limit
    )
    if resident_id is None:
        await record_access(
            conn,
            actor=actor.name,
            resident_id=None,
            action="admin.devices.search",
            detail={"query": query, "shown": [item.id for item in items]},
        )
    return DevicePage(total=total, offset=offset, limit=limit, items=items)


async def _update_broker(broker: BrokerAccounts | None, changes: dict[str, str | None]) -> None:
    if broker is not None and changes:
        await asyncio.to_thread(broker.apply, changes)


async def _device(conn: Conn, device_id: int) -> Device:
    found = await repo.get_device(conn, device_id=device_id)
    if found is None:
        raise DeviceNotFound(device_id)
    return found


async def enrol_device(
    conn: Conn, *, actor: Actor, resident_id: int, new: DeviceIn, broker: BrokerAccounts | None
) -> IssuedCredentials:
    """Enrol a device for the resident with a fresh secret, shown only in the answer (a revoked uid may return)."""
    await open_resident(
        conn, actor=actor, resident_id=resident_id, action="admin.device.enrol", detail={"uid": new.uid}
    )
    secret = new_secret()
    async with conn.transaction():
        existing = await repo.get_device(conn, uid=new.uid)
        if existing is not None and existing.revoked_at is None:
            raise AlreadyEnrolled(f"device {new.uid} is enrolled already; issue new credentials or revoke it first")
        device_id = await store_device(conn, uid=new.uid, kind=new.kind, resident_id=resident_id, secret=secret)
        # Inside the transaction: if the broker cannot be told, the device is not enrolled either.
        await _update_broker(broker, {new.uid: secret})
    return IssuedCredentials(device=await _device(conn, device_id), username=new.uid, secret=secret)


async def reissue_credentials(
    conn: Conn, *, actor: Actor, device_id: int, broker: BrokerAccounts | None
) -> IssuedCredentials:
    """A new secret for an active device; the old one stops working."""
    device = await _device(conn, device_id)
    if device.revoked_at is not None:
        raise DeviceRevoked(f"device {device.uid} was revoked; enrol it again to give it credentials")
    secret = new_secret()
    async with conn.transaction():
        await repo.set_secret_hash(conn, device_id=device_id, secret_hash=hash_secret(secret))
        await record_access(
            conn,
            actor=actor.name,
            resident_id=device.resident_id,
            action="admin.device.reissue",
            detail={"uid": device.uid},
        )
        await _update_broker(broker, {device.uid: secret})
    return IssuedCredentials(device=await _device(conn, device_id), username=device.uid, secret=secret)


async def revoke_device(
    conn: Conn, *, actor: Actor, device_id: int, broker: BrokerAccounts | None, emqx: EmqxSessions | None = None
) -> Device:
    """The device loses its credentials at the broker and the gateways stop accepting it; its data stays. On EMQX
    its open session ends once the revocation is committed (ended before, the device could sign in again at once);
    if EMQX cannot be told, BrokerAccountsFailed says so, and revoking again is harmless."""
    device = await _device(conn, device_id)
    async with conn.transaction():
        await repo.revoke_device(conn, device_id=device_id)
        await record_access(
            conn,
            actor=actor.name,
            resident_id=device.resident_id,
            action="admin.device.revoke",
            detail={"uid": device.uid},
        )
        await _update_broker(broker, {device.uid: None})
    if emqx is not None:
        await conn.commit()  # the request's transaction: EMQX must find the device revoked when it signs in again
        await asyncio.to_thread(emqx.end, device.uid)
    return await _device(conn, device_id)


# Stations


async def list_stations(conn: Conn) -> list[Station]:
    return await repo.list_stations(conn)


async def save_station(conn: Conn, *, station_id: int | None, new: StationIn) -> Station:
    """Add a station (``station_id`` None) or change one; a taken code is refused."""
    _check_timezone(new.timezone)
    try:
        async with conn.transaction():
            saved = await repo.save_station(conn, station_id=station_id, values=new.model_dump())
    except psycopg.errors.UniqueViolation as err:
        raise AlreadyEnrolled(f"the station code {new.code!r} is taken") from err
    if saved is None:
        raise StationNotFound(station_id or 0)
    found = await repo.get_station(conn, station_id=saved)
    assert found is not None
    return found


# CSV imports


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: dict[str, str]


def _read_csv(data: bytes, *, columns: tuple[str, ...], required: tuple[str, ...]) -> list[_Row]:
    """The rows of a UTF-8 CSV file (an Excel byte-order mark is skipped), or ImportRejected for an unreadable
    file or header. Cells are stripped; empty lines are skipped; line numbers count the header as line 1."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRejected([RowError(1, f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ImportRejected([RowError(line, "not UTF-8 text: save the file as “CSV UTF-8”")]) from err
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ImportRejected([RowError(1, f"the file is empty; the header is {','.join(columns)}")]) from None
    unknown = [name for name in header if name not in columns]
    missing = [name for name in required if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        reason = "; ".join(
            filter(
                None,
                [
                    f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                    f"missing column(s) {', '.join(missing)}" if missing else "",
                    "a column appears twice" if len(set(header)) != len(header) else "",
                ],
            )
        )
        raise ImportRejected([RowError(1, f"{reason}; the columns are {','.join(columns)}")])
    rows: list[_Row] = []
    errors: list[RowError] = []
    line = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record[len(header) :]):  # empty trailing cells are what Excel adds
                errors.append(RowError(line, f"{len(record)} cells but the header has {len(header)} columns"))
            elif any(cell.strip() for cell in record):
                rows.append(_Row(line, {name: cell.strip() for name, cell in zip(header, record, strict=False)}))
            line = reader.line_num + 1
    except csv.Error as err:
        errors.append(RowError(line, f"not readable as CSV: {err}"))
    if errors:
        raise ImportRejected(errors)
    if not rows:
        raise ImportRejected([RowError(1, "the file has a header but no rows")])
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportRejected([RowError(1, f"at most {MAX_IMPORT_ROWS} rows per file")])
    return rows


def _flag(column: str) -> Callable[[str], bool]:
    def parse(value: str) -> bool:
        if value.lower() in _YES:
            return True
        if value.lower() in _NO:
            return False
        raise ValueError(f"{column}: write yes or no, not {value!r}")

    return parse


def _items(value: str) -> list[str]:
    return [item for item in _LIST_SEPARATOR.split(value) if item]


def _contacts(value: str) -> list[dict[str, str | None]]:
    contacts = []
    for entry in _items(value):
        parts = [part.strip() for part in entry.split("|")]
        if len(parts) > 4:
            raise ValueError(f"contacts: write name|relation|phone|e-mail, not {entry!r}")
        name, relation, phone, email = [*parts, "", "", ""][:4]
        contacts.append({"name": name, "relation": relation or None, "phone": phone or None, "email": email or None})
    return contacts


def _sex(value: str) -> str:
    if value.lower() not in _SEX:
        raise ValueError(f"sex: write female or male, not {value!r}")
    return _SEX[value.lower()]


_RESIDENT_CELLS: dict[str, Callable[[str], Any]] = {
    "conditions": _items,
    "medications": _items,
    "allergies": _items,
    "vulnerable": _flag("vulnerable"),
    "consent_video": _flag("consent_video"),
    "contacts": _contacts,
    "sex": _sex,
}


def _reasons(err: ValidationError) -> str:
    """Pydantic's complaints as one line: 'lat: Input should be less than or equal to 90; …'."""
    parts = []
    for problem in err.errors():
        where = " ".join(str(part + 1) if isinstance(part, int) else str(part) for part in problem["loc"])
        parts.append(f"{where}: {problem['msg']}" if where else str(problem["msg"]))
    return "; ".join(parts)


def _each_valid(rows: list[_Row], parse: Callable[[_Row], Any], errors: list[RowError]) -> Iterator[tuple[_Row, Any]]:
    """Every row parsed, or ImportRejected listing every bad row (not only the first), with ``errors`` found
    before."""
    parsed = []
    for row in rows:
        try:
            parsed.append((row, parse(row)))
        except ValidationError as err:
            errors.append(RowError(row.line, _reasons(err)))
        except ValueError as err:
            errors.append(RowError(row.line, str(err)))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda error: error.line))
    yield from parsed


def _duplicates(rows: list[_Row], column: str) -> list[RowError]:
    first: dict[str, int] = {}
    errors = []
    for row in rows:
        value = row.cells.get(column, "")
        if value in first:
            errors.append(RowError(row.line, f"{column} {value!r} is also on line {first[value]}"))
        first.setdefault(value, row.line)
    return errors


async def import_residents(conn: Conn, *, actor: Actor, data: bytes) -> ImportResult:
    """Add or update (matched by external_ref) every resident of the file, or none if any row is bad."""
    rows = _read_csv(data, columns=RESIDENT_COLUMNS, required=RESIDENT_REQUIRED)
    stations = await repo.station_ids_by_code(conn)

    def parse(row: _Row) -> ResidentIn:
        values: dict[str, Any] = {}
        problems = []
        for column, cell in row.cells.items():
            if cell and column != "station_code":
                try:
                    values[column] = _RESIDENT_CELLS.get(column, str)(cell)
                except ValueError as err:
                    problems.append(str(err))
        code = row.cells.get("station_code")
        if code and code not in stations:
            problems.append(f"station_code: no station has the code {code!r}")
        elif code:
            values["station_id"] = stations[code]
        if problems:
            raise ValueError("; ".join(problems))
        resident = ResidentIn.model_validate(values)
        try:
            _check_timezone(resident.timezone)
        except InvalidEnrolment as err:
            raise ValueError(f"timezone: {err}") from None
        return resident

    residents = list(_each_valid(rows, parse, _duplicates(rows, "external_ref")))
    async with conn.transaction():
        existing = await repo.resident_ids_by_ref(conn, refs=[new.external_ref for _, new in residents])
        for _, new in residents:
            assert new.external_ref is not None  # a required column
            await _save_resident(conn, resident_id=None, new=new, external_ref=new.external_ref)
        result = ImportResult(added=len(residents) - len(existing), updated=len(existing))
        await record_access(
            conn, actor=actor.name, resident_id=None, action="admin.import.residents", detail=result.model_dump()
        )
    return result


@dataclass(frozen=True, slots=True)
class IssuedRow:
    """One imported device with its new secret, for the one-time credentials file."""

    uid: str
    kind: str
    resident_ref: str
    secret: str
    added: bool


async def import_devices(
    conn: Conn, *, actor: Actor, data: bytes, broker: BrokerAccounts | None
) -> tuple[ImportResult, list[IssuedRow]]:
    """Enrol every device of the file with a fresh secret (an enrolled uid gets new credentials), or none."""
    rows = _read_csv(data, columns=DEVICE_COLUMNS, required=DEVICE_REQUIRED)
    refs = await repo.resident_ids_by_ref(conn, refs=[row.cells.get("resident_ref", "") for row in rows])

    def parse(row: _Row) -> tuple[DeviceIn, int | None]:
        ref = row.cells.get("resident_ref", "")
        if ref and ref not in refs:
            raise ValueError(f"resident_ref: no resident has the reference {ref!r}")
        return DeviceIn.model_validate({"uid": row.cells["uid"], "kind": row.cells["kind"]}), refs.get(ref)

    devices = list(_each_valid(rows, parse, _duplicates(rows, "uid")))
    issued: list[IssuedRow] = []
    async with conn.transaction():
        known = await repo.devices_by_uid(conn, uids=[new.uid for _, (new, _) in devices])
        for row, (new, resident_id) in devices:
            secret = new_secret()
            await store_device(conn, uid=new.uid, kind=new.kind, resident_id=resident_id, secret=secret)
            issued.append(
                IssuedRow(new.uid, new.kind.value, row.cells.get("resident_ref", ""), secret, new.uid not in known)
            )
        result = ImportResult(added=sum(row.added for row in issued), updated=sum(not row.added for row in issued))
        await record_access(
            conn,
            actor=actor.name,
            resident_id=None,
            action="admin.import.devices",
            detail={**result.model_dump(), "uids": [row.uid for row in issued]},
        )
        await _update_broker(broker, {row.uid: row.secret for row in issued})
    return result, issued
