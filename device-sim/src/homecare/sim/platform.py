"""Simulated homes enrolled at a running platform through its administration API, each device with its own secret.

Exceptions::

    PlatformError        the API cannot be reached, refuses the token, or refuses the enrolment (message says which)
"""

from __future__ import annotations

import csv
import io
import math
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import httpx

from homecare.sim.carers import CATALOGUE
from homecare.sim.equipment import safe_zones
from homecare.sim.records import ResidentRecord

TIMEOUT_S: Final = 30.0


class PlatformError(RuntimeError):
    """The platform's API did not take part: unreachable, a refused token, or a refused enrolment."""


class Platform:
    """The administration API of a running platform, as an administrator's machine account uses it."""

    def __init__(self, api_url: str, token: str | None) -> None:
        if token is None:
            raise PlatformError(
                "no API token: set HOMECARE_API_TOKEN, or run where `homecare run` keeps it (HOMECARE_DATA_DIR)"
            )
        self.api_url = api_url
        self._http = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def enrol(self, residents: Sequence[ResidentRecord], *, reference: str) -> dict[str, str]:
        """Add or update the residents (matched by `reference` with their number) at the platform's stations and
        enrol their devices with fresh secrets (an enrolled uid gets new ones, revoked or not); uid → secret."""
        stations = self._request("GET", "/api/admin/stations").json()
        rows = [
            {
                "external_ref": reference.format(index=r.index),
                "display_name": r.name,
                "address": r.address,
                "lat": r.lat,
                "lon": r.lon,
                "station_code": _station_for(r, stations),
                "birth_year": r.birth_year,
                "sex": {"f": "female", "m": "male"}[r.sex],
                "phone": r.phone,
                "vulnerable": "yes" if r.vulnerable else "no",
                "conditions": ";".join(r.conditions),
                "contacts": ";".join(f"{c.name}|{c.relation}|{c.phone}|" for c in r.contacts),
            }
            for r in residents
        ]
        self._request("POST", "/api/admin/import/residents", content=_csv(rows))
        devices = [
            {"uid": d.uid, "kind": d.kind.value, "resident_ref": reference.format(index=r.index)}
            for r in residents
            for d in r.devices
        ]
        issued = self._request("POST", "/api/admin/import/devices", content=_csv(devices))
        for r in residents:
            if first := safe_zones(r):
                self._first_safe_zones(reference.format(index=r.index), first)
        return {row["uid"]: row["secret"] for row in csv.DictReader(io.StringIO(issued.text.lstrip("\ufeff")))}

    def _first_safe_zones(self, reference: str, first: list[dict[str, Any]]) -> None:
        """The safe zones of a resident with a GPS watch, unless staff already keep some."""
        zones = f"/api/residents/{self._resident_id(reference)}/safe-zones"
        if not self._request("GET", zones).json():
            for zone in first:
                self._request("POST", zones, json=zone)

    def prescribe(
        self, reference: str, *, medicine: str, dose: str, due: datetime, windows_min: tuple[int, int] | None = None
    ) -> int:
        """Schedule a medicine daily at ``due``'s local time (the resident's zone) from its day, for the resident with
        this reference, as the call centre would, with its own confirmation windows (minutes before the family is
        told, then before the station is) when given; the schedule's id."""
        confirm, station = windows_min or (None, None)
        made = self._request(
            "POST",
            f"/api/medication/residents/{self._resident_id(reference)}/schedules",
            json={
                "medicine": medicine,
                "dose": dose,
                "times": [due.strftime("%H:%M")],
                "starts_on": due.date().isoformat(),
                "confirm_window_min": confirm,
                "station_after_min": station,
            },
        )
        return int(made.json()["id"])

    def _resident_id(self, reference: str) -> int:
        """The platform's id of the resident with this reference."""
        found = self._request("GET", "/api/admin/residents", params={"q": reference}).json()["items"]
        [resident_id] = [r["id"] for r in found if r["external_ref"] == reference]
        return int(resident_id)

    def retire(self, uids: Iterable[str], *, prefix: str) -> int:
        """Revoke these devices (found by their common uid prefix), so that they do not linger as offline homes;
        how many were revoked."""
        wanted, revoked, offset = set(uids), 0, 0
        while True:
            page = self._request(
                "GET",
                "/api/admin/devices",
                params={"q": prefix, "include_revoked": "false", "offset": offset, "limit": 500},
            ).json()
            for device in page["items"]:
                if device["uid"] in wanted:
                    self._request("POST", f"/api/admin/devices/{device['id']}/revoke")
                    revoked += 1
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return revoked

    def book_visit(self, *, reference: str, kind: str, starts_at: datetime, carer: str) -> int:
        """Book a home service of the catalogue for the resident with this reference at their station (the service
        and the carer, username ``carer``, made there when missing) and give it to that carer; the booking's id."""
        found = self._request("GET", "/api/admin/residents", params={"q": reference}).json()["items"]
        resident = next(r for r in found if r["external_ref"] == reference)
        station = resident["station_id"]
        offer = next(o for o in CATALOGUE if o.kind == kind)
        services = self._request("GET", "/api/care/services", params={"station_id": station}).json()
        service = next((s for s in services if s["name"] == offer.name), None)
        if service is None:
            body = {
                "station_id": station,
                "kind": offer.kind,
                "name": offer.name,
                "duration_min": offer.duration_min,
                "price_yuan": offer.price_yuan,
                "capacity": 5,
                "radius_km": 10,
                "tasks": list(offer.tasks),
            }
            service = self._request("POST", "/api/care/services", json=body).json()
        users = self._request("GET", "/api/users", params={"role": "carer", "station_id": station}).json()
        user = next((u for u in users if u["username"] == carer), None)
        if user is None:
            body = {
                "username": carer,
                "display_name": f"模拟服务人员 {station}",
                "role": "carer",
                "password": secrets.token_urlsafe(18),
                "station_id": station,
            }
            user = self._request("POST", "/api/users", json=body).json()
        body = {"resident_id": resident["id"], "service_id": service["id"], "starts_at": starts_at.isoformat()}
        booking = self._request("POST", "/api/care/bookings", json=body).json()
        self._request("PUT", f"/api/care/bookings/{booking['id']}/carer", json={"carer_id": user["id"]})
        return int(booking["id"])

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "content" in kwargs:
            kwargs["headers"] = {"Content-Type": "text/csv; charset=utf-8"}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise PlatformError(
                f"no homecare API at {self.api_url} ({err}); start `homecare run`, or set HOMECARE_API_PORT "
                "or --api-url"
            ) from err
        if response.status_code in (401, 403):
            raise PlatformError(
                f"the API at {self.api_url} refused the token (HTTP {response.status_code}): set HOMECARE_API_TOKEN "
                "to the platform's, or HOMECARE_DATA_DIR to where `homecare run` keeps it"
            )
        if response.is_error:
            raise PlatformError(f"the API refused {method} {path} (HTTP {response.status_code}): {_detail(response)}")
        return response


def _station_for(resident: ResidentRecord, stations: list[dict[str, Any]]) -> str:
    """The platform's station with the resident's station code, else the nearest one, else none."""
    for station in stations:
        if station["code"] == resident.station:
            return str(station["code"])
    if not stations:
        return ""

    def distance(station: dict[str, Any]) -> float:
        north = station["lat"] - resident.lat
        east = (station["lon"] - resident.lon) * math.cos(math.radians(resident.lat))
        return math.hypot(north, east)

    return str(min(stations, key=distance)["code"])


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))[:500]
    except ValueError:
        return response.text[:500]
