"""Welfare visit rounds (巡访): a month's visits planned for every vulnerable resident, assigned to their station's
visitors, and recorded with the wellbeing and home-safety checklist; a worrying finding opens an incident."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, time, timedelta
from typing import Any, Final, get_args

from homecare.backend.accounts.models import Actor, Role
from homecare.backend.care import InvalidCareInput, VisitNotFound
from homecare.backend.care import repository as repo
from homecare.backend.care.models import (
    Checklist,
    Contact,
    ResidentBrief,
    Round,
    Visit,
    VisitCard,
    VisitRecord,
    VisitRecordIn,
)
from homecare.backend.care.service import standing
from homecare.backend.detection.config import get_settings
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.backend.incidents.policy import Escalation
from homecare.backend.incidents.service import apply_signal
from homecare.backend.residents import repository as residents_repo
from homecare.backend.residents.access import open_resident
from homecare.backend.zones import zone_or_service
from homecare.storage.connections import Conn

URGENT: Final = frozenset(
    {"wellbeing.mood:distressed", "wellbeing.health:unwell", "home_safety.gas:hazard", "home_safety.electrics:hazard"}
)
"""Findings that open an incident on their own; any other does when the visitor asks."""
RECENT_RECORD: Final = timedelta(hours=12)  # a visitor still sees a resident this long after recording the visit
EARLY_TOLERANCE: Final = timedelta(minutes=5)  # phones' clocks run a little ahead

# Words for the incident's explanation (the console shows it as written); the pages have their own for the form.
FINDING_WORDS: Final[dict[str, tuple[str, str]]] = {
    "wellbeing.mood:low": ("情绪低落", "low mood"),
    "wellbeing.mood:distressed": ("情绪非常不好", "distressed"),
    "wellbeing.health:complaint": ("身体不适", "a health complaint"),
    "wellbeing.health:unwell": ("身体状况差", "unwell"),
    "wellbeing.eating:poor": ("饮食差", "eating poorly"),
    "wellbeing.medication:missed": ("漏服药", "medication missed"),
    "wellbeing.hygiene:neglected": ("个人卫生差", "hygiene neglected"),
    "wellbeing.lonely:yes": ("感到孤独", "lonely"),
    "home_safety.gas:hazard": ("燃气隐患", "gas hazard"),
    "home_safety.electrics:hazard": ("用电隐患", "electrical hazard"),
    "home_safety.fall_hazards:present": ("有跌倒隐患", "fall hazards"),
    "home_safety.smoke_alarm:faulty": ("烟雾报警器故障", "smoke alarm faulty"),
    "home_safety.smoke_alarm:absent": ("无烟雾报警器", "no smoke alarm"),
    "home_safety.heating_cooling:inadequate": ("取暖/降温不足", "heating or cooling inadequate"),
    "home_safety.food_supply:short": ("食物不足", "short of food"),
    "home_safety.home_unit:faulty": ("家庭主机故障", "home unit faulty"),
}
REASSURING: Final = {"gas": frozenset({"safe", "no_gas"})}
"""Items with more than one reassuring answer; for every other item it is the first value the form offers."""


def month_bounds(month: str | None, *, today: date) -> tuple[date, date]:
    """The first day of the month and of the next one; ``month`` is YYYY-MM (default: today's)."""
    start = today.replace(day=1) if month is None else date(int(month[:4]), int(month[5:7]), 1)
    return start, start + timedelta(days=monthrange(start.year, start.month)[1])


def periods(frequency: str, *, start: date, end: date) -> list[tuple[date, date]]:
    """The periods of a month a resident is visited in, as (first day, last day): the month, or its weeks
    (Monday to Sunday, the first and last cut at the month's edges)."""
    if frequency == "monthly":
        return [(start, end - timedelta(days=1))]
    found, first = [], start
    while first < end:
        last = min(first + timedelta(days=6 - first.weekday()), end - timedelta(days=1))
        found.append((first, last))
        first = last + timedelta(days=1)
    return found


def findings(checklist: Checklist | None) -> list[str]:
    """section.item:value of every answer that is not a reassuring one."""
    if checklist is None:
        return []
    found = []
    for section, answers in (("wellbeing", checklist.wellbeing), ("home_safety", checklist.home_safety)):
        for name, field in type(answers).model_fields.items():
            value = getattr(answers, name)
            reassuring = REASSURING.get(name) or frozenset({get_args(field.annotation)[0]})
            if value not in reassuring:
                found.append(f"{section}.{name}:{value}")
    return found


def _today(actor: Actor, now: datetime) -> date:
    return now.astimezone(zone_or_service(actor.timezone)).date()


async def generate_round(conn: Conn, *, actor: Actor, month: str | None, now: datetime) -> Round:
    """Plan the month's visits for every resident vulnerable now, each assigned to the home's station and to its
    least-loaded visitor; visits already planned are kept, so running it again adds only what is missing."""
    start, end = month_bounds(month, today=_today(actor, now))
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7142012)")  # two rounds at once would pick the same visitor
        due = await repo.vulnerable_residents(conn)
        created = 0
        for resident in due:
            for first, last in periods(resident.visit_frequency, start=start, end=end):
                visitor = None
                if resident.station_id is not None:
                    visitors = await repo.station_visitors(conn, station_id=resident.station_id)
                    visitor = visitors[0][0] if visitors else None
                created += await repo.insert_visit(
                    conn,
                    resident_id=resident.resident_id,
                    station_id=resident.station_id,
                    visitor_id=visitor,
                    frequency=resident.visit_frequency,
                    due_from=first,
                    due_by=last,
                )
        planned, unassigned = await repo.month_counts(conn, start=start, end=end)
    return Round(month=f"{start:%Y-%m}", vulnerable=len(due), created=created, planned=planned, unassigned=unassigned)


def _visit(row: dict[str, Any], today: date) -> Visit:
    return Visit(**row, overdue=row["status"] == "planned" and row["due_by"] < today)


async def visits_for(
    conn: Conn, *, actor: Actor, now: datetime, station_id: int | None = None, overdue: bool = False
) -> list[Visit]:
    """A visitor's visits for today: those still to make whose period has begun, and those done today. Managers see
    every planned visit (of one station if given), or only the overdue ones."""
    today = _today(actor, now)
    if actor.role is Role.VISITOR:
        start_of_day = datetime.combine(today, time(), zone_or_service(actor.timezone))
        rows = await repo.visits(
            conn, visitor_id=actor.user_id, due_on_or_before=today, open_or_done_since=start_of_day
        )
    else:
        rows = await repo.visits(
            conn,
            station_id=station_id,
            status=None if overdue else "planned",
            overdue_on=today if overdue else None,
        )
    return [_visit(row, today) for row in rows]


async def _visit_in_scope(conn: Conn, *, actor: Actor, visit_id: int, lock: bool = False) -> dict[str, Any]:
    """The visit, if the actor may see it: a visitor only their own; else VisitNotFound."""
    row = await repo.visit(conn, visit_id=visit_id, lock=lock)
    if row is None or (actor.role is Role.VISITOR and row["visitor_id"] != actor.user_id):
        raise VisitNotFound(visit_id)
    return row


def _record(row: dict[str, Any]) -> VisitRecord:
    return VisitRecord.model_validate(row)


async def resident_brief(conn: Conn, *, resident_id: int, now: datetime) -> ResidentBrief:
    """What someone calling at the home needs about the person (the caller has opened the resident)."""
    card = await residents_repo.card_row(conn, resident_id=resident_id)
    assert card is not None  # visits and bookings reference residents
    contacts = await residents_repo.contacts(conn, resident_id=resident_id)
    year = now.astimezone(zone_or_service(card.timezone)).year
    return ResidentBrief(
        id=card.id,
        name=card.display_name,
        age=None if card.birth_year is None else year - card.birth_year,
        sex=card.sex,
        address=card.address,
        phone=card.phone,
        access_notes=card.access_notes,
        conditions=card.conditions,
        mobility=card.mobility,
        language=card.language,
        contacts=[Contact(name=c["name"], relation=c["relation"], phone=c["phone"]) for c in contacts],
    )


async def visit_card(conn: Conn, *, actor: Actor, visit_id: int, now: datetime) -> VisitCard:
    """The visit with the resident's card, standing and the records so far; the opening is checked and logged."""
    async with conn.transaction():
        row = await _visit_in_scope(conn, actor=actor, visit_id=visit_id)
        resident_id = row["resident_id"]
        await open_resident(
            conn, actor=actor, resident_id=resident_id, action="care.visit_card", detail={"visit_id": visit_id}
        )
        resident = await resident_brief(conn, resident_id=resident_id, now=now)
        resident_standing = await standing(conn, resident_id=resident_id)
        profile = await repo.profile(conn, resident_id=resident_id)
        records = [_record(r) for r in await repo.records(conn, visit_id=visit_id)]
    return VisitCard(
        visit=_visit(row, _today(actor, now)),
        resident=resident,
        standing=resident_standing,
        living_situation=(profile.living_situation if profile else None) or [],
        records=records,
    )


async def assign(conn: Conn, *, actor: Actor, visit_id: int, visitor_id: int, now: datetime) -> Visit:
    """Give a planned visit to a visitor (an active visitor account)."""
    async with conn.transaction():
        row = await _visit_in_scope(conn, actor=actor, visit_id=visit_id, lock=True)
        if await repo.visitor_station(conn, user_id=visitor_id) is None:
            raise InvalidCareInput([("visitor_id", f"user {visitor_id} is not an active visitor")])
        if row["status"] != "planned":
            raise InvalidCareInput([("visitor_id", "the visit is already done")])
        await repo.assign_visit(conn, visit_id=visit_id, visitor_id=visitor_id)
        updated = await repo.visit(conn, visit_id=visit_id)
    assert updated is not None
    return _visit(updated, _today(actor, now))


def _explanation(visitor: str, outcome: str, found: list[str], note: str | None) -> tuple[str, str]:
    if outcome == "not_home":
        en, zh = f"Welfare visit by {visitor}: nobody answered at home.", f"{visitor} 巡访：老人不在家或无人应门。"
    else:
        words = [FINDING_WORDS.get(code, (code, code)) for code in found]
        en = f"Welfare visit by {visitor} found: " + (", ".join(w[1] for w in words) or "a concern") + "."
        zh = f"{visitor} 巡访发现：" + ("、".join(w[0] for w in words) or "需要关注的情况") + "。"
    if note:
        en, zh = f"{en} Note: {note}", f"{zh} 备注：{note}"
    return en[:300], zh[:300]


async def record_visit(
    conn: Conn, *, actor: Actor, visit_id: int, body: VisitRecordIn, now: datetime, escalation: Escalation
) -> VisitRecord:
    """Record what the visitor found. The resident seen completes the visit; not at home leaves it to do again.
    Not at home, an urgent finding or the visitor's request opens an incident through the alarm path, in the same
    transaction as the record."""
    found = findings(body.checklist)
    async with conn.transaction():
        row = await _visit_in_scope(conn, actor=actor, visit_id=visit_id, lock=True)
        if row["status"] != "planned":
            raise InvalidCareInput([("visit", "this visit is already recorded as done")])
        tz = zone_or_service(actor.timezone)
        if body.visited_at > now + EARLY_TOLERANCE:
            raise InvalidCareInput([("visited_at", "a visit cannot be recorded before it happened")])
        if body.visited_at < datetime.combine(row["due_from"], time(), tz):
            raise InvalidCareInput([("visited_at", f"the visit's period starts on {row['due_from']:%Y-%m-%d}")])
        await open_resident(
            conn, actor=actor, resident_id=row["resident_id"], action="care.visit_record", detail={"visit_id": visit_id}
        )
        visitor = actor.display_name if not actor.is_service else actor.name
        record_id = await repo.insert_record(
            conn,
            visit_id=visit_id,
            resident_id=row["resident_id"],
            station_id=row["station_id"],
            visited_at=body.visited_at,
            visitor=visitor,
            visitor_id=actor.user_id,
            outcome=body.outcome,
            checklist=None if body.checklist is None else body.checklist.model_dump(),
            findings=found,
            note=body.note,
            now=now,
        )
        if body.outcome == "seen":
            await repo.mark_done(conn, visit_id=visit_id)
        if body.outcome == "not_home" or body.open_incident or URGENT.intersection(found):
            en, zh = _explanation(visitor, body.outcome, found, body.note)
            applied = await apply_signal(
                conn,
                signal=Signal(
                    resident_id=row["resident_id"],
                    cause=Cause.VISIT_FINDING,
                    kind=SignalKind.ALARM,
                    priority=(await get_settings(conn, resident_id=row["resident_id"])).priority(Cause.VISIT_FINDING),
                    explanation_en=en,
                    explanation_zh=zh,
                    detected_at=body.visited_at,
                ),
                now=now,
                escalation=escalation,
            )
            if applied.incident_id is not None:
                await repo.link_incident(conn, record_id=record_id, incident_id=applied.incident_id)
        stored = await repo.records(conn, visit_id=visit_id)
    return _record(next(r for r in stored if r["id"] == record_id))
