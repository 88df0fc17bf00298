"""The information base, ability assessments and the administrator's rules: every read of a resident is logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homecare.backend.accounts.models import Actor
from homecare.backend.care import InvalidCareInput
from homecare.backend.care import repository as repo
from homecare.backend.care.ability import ITEMS, score
from homecare.backend.care.models import (
    Assessment,
    AssessmentIn,
    AssessmentItem,
    CareRules,
    CareRulesIn,
    Profile,
    ProfileIn,
    Standing,
    Subsidy,
)
from homecare.backend.residents import ResidentNotFound
from homecare.backend.residents.access import open_resident
from homecare.backend.zones import zone_or_service
from homecare.storage.connections import Conn


def assessment_items() -> list[AssessmentItem]:
    """The 26 items of GB/T 42195-2022 in the standard's order, with their part and highest score."""
    return [AssessmentItem(code=i.code, part=i.part, max_score=i.max_score) for i in ITEMS.values()]


def check_items(items: dict[str, int]) -> None:
    """Every item present, none unknown, each within its range; else InvalidCareInput naming each one at fault."""
    errors = [
        (f"items.{code}", "missing: every item of GB/T 42195-2022 is scored") for code in ITEMS if code not in items
    ]
    errors += [(f"items.{code}", "not an item of GB/T 42195-2022") for code in items if code not in ITEMS]
    errors += [
        (f"items.{code}", f"scores run from 0 to {ITEMS[code].max_score}")
        for code, value in items.items()
        if code in ITEMS and not 0 <= value <= ITEMS[code].max_score
    ]
    if errors:
        raise InvalidCareInput(errors)


async def standing(conn: Conn, *, resident_id: int) -> Standing:
    """Where the resident stands now: level, vulnerability, visit frequency and the subsidies the level earns."""
    row = await repo.standing(conn, resident_id=resident_id)
    if row is None:
        raise ResidentNotFound(resident_id)
    earned = (
        [] if row.level is None else await repo.subsidies(conn, level=row.level, economic_status=row.economic_status)
    )
    return Standing(
        level=row.level,
        assessed_on=row.assessed_on,
        vulnerable=row.vulnerable,
        vulnerable_because=row.vulnerable_because,
        visit_frequency=row.visit_frequency,
        subsidies=[Subsidy.model_validate(s, from_attributes=True) for s in earned],
    )


def _assessment(row: dict[str, Any]) -> Assessment:
    parts = {part: row[part] for part in ("self_care", "mobility", "mental", "perception")}
    return Assessment.model_validate({**row, "parts": parts})


async def _profile(conn: Conn, *, resident_id: int) -> Profile:
    row = await repo.profile(conn, resident_id=resident_id)
    if row is None:
        raise ResidentNotFound(resident_id)
    return Profile(
        resident_id=row.resident_id,
        name=row.name,
        living_situation=row.living_situation or [],
        economic_status=row.economic_status,
        disability=row.disability,
        disability_grade=row.disability_grade,
        chronic_conditions=row.conditions,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        standing=await standing(conn, resident_id=resident_id),
        assessments=[_assessment(a) for a in await repo.assessments(conn, resident_id=resident_id)],
    )


async def profile(conn: Conn, *, actor: Actor, resident_id: int) -> Profile:
    """The resident's information base, standing and assessments; the opening is checked and logged."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.profile")
        return await _profile(conn, resident_id=resident_id)


async def save_profile(conn: Conn, *, actor: Actor, resident_id: int, body: ProfileIn, now: datetime) -> Profile:
    """Replace the resident's information base (the chronic conditions are the resident card's)."""
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.profile.save")
        await repo.save_profile(
            conn,
            resident_id=resident_id,
            living_situation=sorted(set(body.living_situation)),
            economic_status=body.economic_status,
            disability=body.disability,
            disability_grade=body.disability_grade,
            conditions=body.chronic_conditions,
            actor=actor.name,
            now=now,
        )
        return await _profile(conn, resident_id=resident_id)


async def record_assessment(
    conn: Conn, *, actor: Actor, resident_id: int, body: AssessmentIn, now: datetime
) -> Assessment:
    """Score a complete assessment by the standard and append it; earlier assessments stay as they were."""
    check_items(body.items)
    if body.assessed_on > now.astimezone(zone_or_service(actor.timezone)).date():
        raise InvalidCareInput([("assessed_on", "an assessment cannot be dated in the future")])
    scored = score(body.items, coma=body.coma, dementia=body.dementia, risk_events=body.risk_events)
    async with conn.transaction():
        await open_resident(conn, actor=actor, resident_id=resident_id, action="care.assessment.record")
        row = await repo.insert_assessment(
            conn,
            values={
                "resident_id": resident_id,
                "assessed_on": body.assessed_on,
                "assessor": body.assessor,
                "reason": body.reason,
                "items": {code: body.items[code] for code in ITEMS},
                "coma": body.coma,
                "dementia": body.dementia,
                "risk_events": body.risk_events,
                **{part.value: value for part, value in scored.parts.items()},
                "total": scored.total,
                "preliminary_level": int(scored.preliminary_level),
                "level": int(scored.level),
                "adjustments": [a.value for a in scored.adjustments],
                "note": body.note,
                "recorded_by": actor.name,
                "recorded_at": now,
            },
        )
    return _assessment(row)


async def rules(conn: Conn) -> CareRules:
    """The rules in force: what makes a resident vulnerable, when they are visited weekly, what each level earns."""
    policy = await repo.policy(conn)
    return CareRules(
        vulnerable_categories=await repo.vulnerable_categories(conn),
        vulnerable_from_level=policy.vulnerable_from_level,
        weekly_alone_from_level=policy.weekly_alone_from_level,
        subsidies=[Subsidy.model_validate(s, from_attributes=True) for s in await repo.subsidies(conn)],
        updated_at=policy.updated_at,
        updated_by=policy.updated_by,
    )


async def replace_rules(conn: Conn, *, actor: Actor, body: CareRulesIn, now: datetime) -> CareRules:
    """Replace the whole rule set in one transaction; residents' standing follows at once."""
    async with conn.transaction():
        await repo.replace_rules(
            conn,
            categories=sorted(set(body.vulnerable_categories)),
            vulnerable_from_level=body.vulnerable_from_level,
            weekly_alone_from_level=body.weekly_alone_from_level,
            subsidies=[(s.level, s.economic_status, s.name, s.monthly_yuan) for s in body.subsidies],
            actor=actor.name,
            now=now,
        )
    return await rules(conn)
