"""HTTP routes for home care: the information base, assessments, the rules, and the welfare visit rounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from homecare.backend.accounts.models import STAFF_ROLES, Actor, Role
from homecare.backend.care import bookings, carers, feedback, rounds, service
from homecare.backend.care.models import (
    Assessment,
    AssessmentIn,
    AssessmentItem,
    AssignIn,
    Booking,
    BookingIn,
    CancelIn,
    CarerCode,
    CarerFigures,
    CarerIn,
    CareRules,
    CareRulesIn,
    CarerVisit,
    CarerVisitCard,
    CheckOutIn,
    Complaint,
    ComplaintIn,
    MoveIn,
    Offer,
    PhoneProof,
    Profile,
    ProfileIn,
    Rating,
    RatingIn,
    ResidentBrief,
    Round,
    RoundIn,
    SeriesIn,
    Service,
    ServiceBoard,
    ServiceIn,
    ServiceKind,
    Visit,
    VisitCard,
    VisitRecord,
    VisitRecordIn,
)
from homecare.backend.deps import (
    AdminActor,
    ConnDep,
    CurrentActor,
    ManagerActor,
    SettingsDep,
    StaffActor,
    limited_body,
    require_role,
)
from homecare.backend.incidents.router import AlarmsDep
from homecare.backend.inputs import BigRowId, Instant, RowId

router = APIRouter(prefix="/care", tags=["care"])

ResidentId = Annotated[RowId, Path(description="The resident's id.")]
VisitId = Annotated[BigRowId, Path(description="The planned visit's id.")]
VisitActor = Annotated[Actor, Depends(require_role(Role.VISITOR, Role.ADMIN, Role.SUPERVISOR))]
"""Visitors (their own visits), and the administrators and supervisors who plan the rounds."""
RoundsReader = Annotated[Actor, Depends(require_role(*STAFF_ROLES, Role.VISITOR))]
CarerActor = Annotated[Actor, Depends(require_role(Role.CARER))]
AlertReader = Annotated[Actor, Depends(require_role(*STAFF_ROLES, Role.RESPONDER))]
"""The call centre, and station responders (their own station's)."""
PhotoReader = Annotated[Actor, Depends(require_role(*STAFF_ROLES, Role.RESPONDER, Role.CARER))]
PHOTO_BODY = {
    "requestBody": {
        "required": True,
        "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in sorted(carers.PHOTO_TYPES)},
    }
}
BoardReader = Annotated[Actor, Depends(require_role(Role.RESPONDER, Role.ADMIN, Role.SUPERVISOR))]
"""Station responders (their own station's board), administrators and supervisors (any station's, or all)."""
BookingId = Annotated[BigRowId, Path(description="The booking's id.")]
ProviderFilter = Annotated[RowId | None, Query(description="Only this providing station's (responders: theirs).")]
BookerActor = Annotated[Actor, Depends(require_role(*STAFF_ROLES, Role.RESPONDER, Role.VISITOR))]
"""Staff who book on a resident's behalf: the call centre (the hotline), station responders and welfare visitors."""
FeedbackActor = Annotated[Actor, Depends(require_role(Role.FAMILY, *STAFF_ROLES, Role.RESPONDER))]
"""Family for themselves; the call centre and station responders for the resident."""


@router.get("/assessment-items", summary="The 26 items of GB/T 42195-2022 with their part and highest score")
async def get_assessment_items(actor: StaffActor) -> list[AssessmentItem]:
    return service.assessment_items()


@router.get(
    "/residents/{resident_id}",
    summary="A resident's information base, standing (level, vulnerable, visits, subsidies) and assessments (logged)",
)
async def get_profile(actor: StaffActor, conn: ConnDep, resident_id: ResidentId) -> Profile:
    return await service.profile(conn, actor=actor, resident_id=resident_id)


@router.put("/residents/{resident_id}", summary="Replace a resident's information base")
async def put_profile(actor: ManagerActor, conn: ConnDep, resident_id: ResidentId, body: ProfileIn) -> Profile:
    return await service.save_profile(conn, actor=actor, resident_id=resident_id, body=body, now=datetime.now(UTC))


@router.post(
    "/residents/{resident_id}/assessments",
    status_code=201,
    summary="Record an ability assessment (every item scored); it is scored by the standard and never changed",
)
async def post_assessment(
    actor: ManagerActor, conn: ConnDep, resident_id: ResidentId, body: AssessmentIn
) -> Assessment:
    return await service.record_assessment(conn, actor=actor, resident_id=resident_id, body=body, now=datetime.now(UTC))


@router.get("/rules", summary="What makes a resident vulnerable, when they are visited weekly, what each level earns")
async def get_rules(actor: StaffActor, conn: ConnDep) -> CareRules:
    return await service.rules(conn)


@router.put("/rules", summary="Replace the care rules (administrators)")
async def put_rules(actor: AdminActor, conn: ConnDep, body: CareRulesIn) -> CareRules:
    return await service.replace_rules(conn, actor=actor, body=body, now=datetime.now(UTC))


@router.post("/rounds", summary="Plan a month's welfare visits for every vulnerable resident (again: adds the missing)")
async def post_round(actor: ManagerActor, conn: ConnDep, body: RoundIn) -> Round:
    return await rounds.generate_round(conn, actor=actor, month=body.month, now=datetime.now(UTC))


@router.get(
    "/visits",
    summary="A visitor's visits for today (to make, and made today); for staff every planned or overdue visit",
)
async def get_visits(
    actor: RoundsReader,
    conn: ConnDep,
    station_id: Annotated[RowId | None, Query(description="Only this station's (staff).")] = None,
    overdue: Annotated[bool, Query(description="Only visits still planned after their last day (staff).")] = False,
) -> list[Visit]:
    return await rounds.visits_for(conn, actor=actor, now=datetime.now(UTC), station_id=station_id, overdue=overdue)


@router.get("/visits/{visit_id}", summary="A visit with the resident's card and the records so far (logged)")
async def get_visit(actor: VisitActor, conn: ConnDep, visit_id: VisitId) -> VisitCard:
    return await rounds.visit_card(conn, actor=actor, visit_id=visit_id, now=datetime.now(UTC))


@router.put("/visits/{visit_id}/visitor", summary="Give a planned visit to a visitor")
async def put_visitor(actor: ManagerActor, conn: ConnDep, visit_id: VisitId, body: AssignIn) -> Visit:
    return await rounds.assign(conn, actor=actor, visit_id=visit_id, visitor_id=body.visitor_id, now=datetime.now(UTC))


@router.post(
    "/visits/{visit_id}/records",
    status_code=201,
    summary="Record a visit with the wellbeing and home-safety checklist, or that nobody was at home",
)
async def post_record(
    actor: VisitActor, conn: ConnDep, alarms: AlarmsDep, visit_id: VisitId, body: VisitRecordIn
) -> VisitRecord:
    return await rounds.record_visit(
        conn, actor=actor, visit_id=visit_id, body=body, now=alarms.clock.now(), escalation=alarms.escalation
    )


@router.post("/services", status_code=201, summary="Add a service to a station's catalogue, with its subsidies")
async def post_service(actor: ManagerActor, conn: ConnDep, body: ServiceIn) -> Service:
    return await bookings.add_service(conn, body=body)


@router.get("/services", summary="The stations' service catalogue")
async def get_services(
    actor: CurrentActor,
    conn: ConnDep,
    station_id: Annotated[RowId | None, Query(description="Only this station's.")] = None,
) -> list[Service]:
    return await bookings.catalogue(conn, station_id=station_id)


@router.get(
    "/residents/{resident_id}/offers",
    summary="Services of a kind that can come at a time, nearest first, with the price, subsidy and co-payment",
)
async def get_offers(
    actor: CurrentActor,
    conn: ConnDep,
    resident_id: ResidentId,
    kind: Annotated[ServiceKind, Query()],
    starts_at: Annotated[Instant, Query(description="When the service should start, with its offset.")],
) -> list[Offer]:
    return await bookings.offers(conn, actor=actor, resident_id=resident_id, kind=kind, starts_at=starts_at)


@router.get(
    "/residents/{resident_id}/brief",
    summary="Who the resident is, where, and whom to call: for staff booking on their behalf (logged)",
)
async def get_resident_brief(actor: BookerActor, conn: ConnDep, resident_id: ResidentId) -> ResidentBrief:
    return await bookings.resident_for_booking(conn, actor=actor, resident_id=resident_id, now=datetime.now(UTC))


@router.get("/residents/{resident_id}/bookings", summary="A resident's bookings, soonest first")
async def get_bookings(actor: CurrentActor, conn: ConnDep, resident_id: ResidentId) -> list[Booking]:
    return await bookings.resident_bookings(conn, actor=actor, resident_id=resident_id)


@router.post(
    "/bookings",
    status_code=201,
    summary="Book a service (family, the hotline, the station): in its area, a place free, no overlap",
)
async def post_booking(actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, body: BookingIn) -> Booking:
    return await bookings.book(conn, actor=actor, body=body, now=alarms.clock.now())


@router.post("/bookings/{booking_id}/cancel", summary="Cancel a booking, with the reason")
async def post_cancel(
    actor: CurrentActor,
    conn: ConnDep,
    alarms: AlarmsDep,
    booking_id: BookingId,
    body: CancelIn,
) -> Booking:
    return await bookings.cancel(conn, actor=actor, booking_id=booking_id, reason=body.reason, now=alarms.clock.now())


@router.post(
    "/bookings/series",
    status_code=201,
    summary="Book a recurring service (a meal every weekday): every visit checked, all booked or none",
)
async def post_series(actor: CurrentActor, conn: ConnDep, alarms: AlarmsDep, body: SeriesIn) -> list[Booking]:
    return await bookings.book_series(conn, actor=actor, body=body, now=alarms.clock.now())


@router.post("/bookings/{booking_id}/move", summary="Move a booking to another time, with the reason")
async def post_move(
    actor: CurrentActor,
    conn: ConnDep,
    alarms: AlarmsDep,
    booking_id: BookingId,
    body: MoveIn,
) -> Booking:
    return await bookings.move(conn, actor=actor, booking_id=booking_id, body=body, now=alarms.clock.now())


@router.put("/bookings/{booking_id}/carer", summary="Give a booked visit to a carer of the providing station")
async def put_carer(actor: ManagerActor, conn: ConnDep, booking_id: BookingId, body: CarerIn) -> Booking:
    return await carers.assign(conn, actor=actor, booking_id=booking_id, carer_id=body.carer_id)


@router.post(
    "/carers/{user_id}/code",
    status_code=201,
    summary="Issue a carer a new six-digit code for the home units (the old one stops working)",
)
async def post_carer_code(
    actor: ManagerActor, conn: ConnDep, user_id: Annotated[RowId, Path(description="The carer's user id.")]
) -> CarerCode:
    return await carers.issue_code(conn, actor=actor, user_id=user_id, now=datetime.now(UTC))


@router.get("/carer-visits", summary="The carer's visits today, in the order they start (the route)")
async def get_carer_visits(actor: CarerActor, conn: ConnDep, alarms: AlarmsDep) -> list[CarerVisit]:
    return await carers.todays_visits(conn, actor=actor, now=alarms.clock.now())


@router.get("/carer-visits/{booking_id}", summary="One of the carer's visits with the resident's card (logged)")
async def get_carer_visit(actor: CarerActor, conn: ConnDep, alarms: AlarmsDep, booking_id: BookingId) -> CarerVisitCard:
    return await carers.visit_card(conn, actor=actor, booking_id=booking_id, now=alarms.clock.now())


@router.post(
    "/carer-visits/{booking_id}/check-in",
    summary="Check in with the phone: within the set distance of the home (the home unit's code is the other proof)",
)
async def post_check_in(
    actor: CarerActor, conn: ConnDep, alarms: AlarmsDep, settings: SettingsDep, booking_id: BookingId, body: PhoneProof
) -> CarerVisit:
    return await carers.check_in(
        conn,
        actor=actor,
        booking_id=booking_id,
        proof=body,
        now=alarms.clock.now(),
        radius_m=settings.carer_check_radius_m,
        escalation=alarms.escalation,
    )


@router.post(
    "/carer-visits/{booking_id}/check-out",
    summary="Check out near the home with the checklist of the service's tasks, notes and the outcome "
    "(not at home or unwell raises an incident)",
)
async def post_check_out(
    actor: CarerActor, conn: ConnDep, alarms: AlarmsDep, settings: SettingsDep, booking_id: BookingId, body: CheckOutIn
) -> CarerVisit:
    return await carers.check_out(
        conn,
        actor=actor,
        booking_id=booking_id,
        body=body,
        now=alarms.clock.now(),
        radius_m=settings.carer_check_radius_m,
        escalation=alarms.escalation,
    )


@router.put(
    "/carer-visits/{booking_id}/photo",
    summary="The carer's photo of the visit in progress (JPEG, PNG or WebP, at most 1 MiB); a new one replaces it",
    openapi_extra=PHOTO_BODY,
)
async def put_photo(
    actor: CarerActor, conn: ConnDep, alarms: AlarmsDep, booking_id: BookingId, request: Request
) -> CarerVisit:
    return await carers.save_photo(
        conn,
        actor=actor,
        booking_id=booking_id,
        content_type=request.headers.get("content-type", ""),
        image=await limited_body(request, limit=carers.MAX_PHOTO_BYTES),
        now=alarms.clock.now(),
    )


@router.get(
    "/carer-visits/{booking_id}/photo",
    response_class=Response,
    summary="A visit's photo: for its carer, the providing station and the call centre (logged)",
    responses={200: {"content": {kind: {} for kind in sorted(carers.PHOTO_TYPES)}, "description": "The photo."}},
)
async def get_photo(actor: PhotoReader, conn: ConnDep, booking_id: BookingId) -> Response:
    content_type, image = await carers.visit_photo(conn, actor=actor, booking_id=booking_id)
    return Response(image, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.get("/visit-photos", summary="Visits checked out with a photo, latest first (responders: their station's)")
async def get_visit_photos(
    actor: AlertReader,
    conn: ConnDep,
    since: Annotated[Instant, Query(description="Checked out from then, with its offset.")],
    station_id: ProviderFilter = None,
) -> list[CarerVisit]:
    return await carers.photographed_visits(conn, actor=actor, station_id=station_id, since=since)


@router.get(
    "/non-arrivals",
    summary="Today's visits not checked in in time after their start (carer non-arrival), still not checked in",
)
async def get_non_arrivals(
    actor: AlertReader,
    conn: ConnDep,
    alarms: AlarmsDep,
    station_id: ProviderFilter = None,
) -> list[CarerVisit]:
    return await carers.non_arrivals(conn, actor=actor, station_id=station_id, now=alarms.clock.now())


@router.post(
    "/bookings/{booking_id}/ratings",
    status_code=201,
    summary="Rate a checked-out visit 1–5 with an optional comment: family for themselves, staff for the resident; "
    "once per rater",
)
async def post_rating(
    actor: FeedbackActor, conn: ConnDep, alarms: AlarmsDep, booking_id: BookingId, body: RatingIn
) -> Rating:
    return await feedback.rate(conn, actor=actor, booking_id=booking_id, body=body, now=alarms.clock.now())


@router.post(
    "/bookings/{booking_id}/complaints",
    status_code=201,
    summary="Complain about a visit that has begun or was due, with a reason category; the providing station sees it",
)
async def post_complaint(
    actor: FeedbackActor, conn: ConnDep, alarms: AlarmsDep, booking_id: BookingId, body: ComplaintIn
) -> Complaint:
    return await feedback.complain(conn, actor=actor, booking_id=booking_id, body=body, now=alarms.clock.now())


@router.get("/complaints", summary="Complaints about the visits a station provided, newest first (logged)")
async def get_complaints(
    actor: AlertReader,
    conn: ConnDep,
    since: Annotated[Instant, Query(description="Raised from then, with its offset.")],
    station_id: ProviderFilter = None,
) -> list[Complaint]:
    return await feedback.station_complaints(conn, actor=actor, station_id=station_id, since=since)


@router.get(
    "/carer-figures",
    summary="Late, missed and short visits, ratings and complaints per carer and providing station",
)
async def get_carer_figures(
    actor: AlertReader,
    conn: ConnDep,
    alarms: AlarmsDep,
    settings: SettingsDep,
    since: Annotated[Instant, Query(description="Visits due to start from then, with its offset.")],
    until: Annotated[Instant | None, Query(description="…and before then (default: no end).")] = None,
    station_id: ProviderFilter = None,
) -> list[CarerFigures]:
    return await carers.figures(
        conn,
        actor=actor,
        station_id=station_id,
        since=since,
        until=until,
        now=alarms.clock.now(),
        late_after=timedelta(minutes=settings.carer_late_after_min),
    )


@router.get(
    "/board",
    summary="The service board: today's visits per providing station and carer with where each stands, the open "
    "non-arrivals first (logged when it changes)",
    response_model=ServiceBoard,
    responses={304: {"description": "Unchanged since the ETag given in If-None-Match."}},
)
async def get_board(
    actor: BoardReader,
    conn: ConnDep,
    alarms: AlarmsDep,
    settings: SettingsDep,
    response: Response,
    station_id: Annotated[
        RowId | None, Query(description="Only this providing station's (responders: theirs; managers: default all).")
    ] = None,
    if_none_match: Annotated[str | None, Header(max_length=1024)] = None,
) -> ServiceBoard | Response:
    given = [tag.strip().strip('"') for tag in (if_none_match or "").split(",") if tag.strip()]
    found = await carers.board(
        conn,
        actor=actor,
        station_id=station_id,
        now=alarms.clock.now(),
        late_after=timedelta(minutes=settings.carer_late_after_min),
        unless_version=given[0] if len(given) == 1 else None,
    )
    if found is None:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": f'"{given[0]}"'})
    response.headers["ETag"] = f'"{found.version}"'
    response.headers["Cache-Control"] = "no-cache"
    return found
