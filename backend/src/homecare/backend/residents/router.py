"""HTTP routes for a resident's record: the card the call centre reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from homecare.backend.deps import ConnDep, StaffActor
from homecare.backend.inputs import RowId
from homecare.backend.residents import service
from homecare.backend.residents.models import ResidentCard

router = APIRouter(prefix="/residents", tags=["residents"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]


@router.get(
    "/{resident_id}",
    summary="The resident card: person, home and access, health, contacts, devices, "
    "past incidents (each opening is logged)",
)
async def get_resident_card(actor: StaffActor, conn: ConnDep, resident_id: ResidentId) -> ResidentCard:
    return await service.resident_card(conn, actor=actor, resident_id=resident_id, now=datetime.now(UTC))
