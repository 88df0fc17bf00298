"""CSV exports open in a spreadsheet as text: a cell that would start a formula (CSV injection) never runs."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg

from homecare.backend.enrolment.service import new_secret
from tests.support.backend import AUTH, Backend
from tests.support.world import World

HOSTILE = [
    '=HYPERLINK("http://evil.example/x","open me")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tTab",
    "\rCR",
]


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_names_that_start_a_formula_are_exported_as_text(
    backend: Backend, world: World, db: psycopg.AsyncConnection
) -> None:
    names = dict(zip(world.resident_ids, HOSTILE, strict=False))
    for resident_id, name in names.items():
        await db.execute("UPDATE residents SET display_name = %s WHERE id = %s", (name, resident_id))
    await db.execute("UPDATE stations SET name = '=1+1' WHERE id = %s", (world.station_ids[0],))
    async with httpx.AsyncClient(base_url=backend.url, headers=AUTH, timeout=10) as http:
        response = await http.get("/api/reports/coverage/gaps.csv")
    assert response.status_code == 200
    rows = {int(row["resident_id"]): row for row in _rows(response.content)}
    for resident_id, name in names.items():
        assert rows[resident_id]["resident_name"] == "'" + name
    assert {row["station_name"] for row in rows.values()} >= {"'=1+1"}
    # Numbers stay numbers, and harmless text is left as it is.
    assert all(row["devices"].isdigit() for row in rows.values())
    assert all(row["timezone"] == "Asia/Shanghai" for row in rows.values())


def test_device_secrets_never_start_like_a_formula() -> None:
    # The credentials CSV must carry a secret exactly; one in 64 URL-safe tokens would start with "-".
    assert not any(new_secret().startswith("-") for _ in range(5000))
