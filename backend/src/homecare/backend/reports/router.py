"""HTTP routes for the figures: response times, coverage, welfare visits, health management; JSON and CSV (UTF-8
with BOM)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Response

from homecare.backend.deps import ConnDep, ManagerActor, SettingsDep
from homecare.backend.incidents.router import AlarmsDep, AnswerTargetsDep
from homecare.backend.inputs import Day, Text
from homecare.backend.reports import export, service
from homecare.backend.reports.models import Coverage, HealthManagement, ResponseTimes, ServiceQuality, WelfareVisits

router = APIRouter(prefix="/reports", tags=["reports"])

StartDate = Annotated[
    Day | None, Query(description="First local day included (default: 29 days before end).", examples=["2026-11-01"])
]
EndDate = Annotated[Day | None, Query(description="Last local day included (default: today).", examples=["2026-11-30"])]
TimeZone = Annotated[
    Text | None, Query(max_length=64, description="IANA zone the days are in (default: the server's, Asia/Shanghai).")
]
Month = Annotated[
    Text | None, Query(max_length=7, description="YYYY-MM in the zone (default: this month).", examples=["2026-11"])
]

CSV_RESPONSE: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "UTF-8 CSV with a byte-order mark, as a download; times in the report's zone.",
    }
}


def _csv(body: bytes, filename: str) -> Response:
    """A report's rows as the CSV download of that report (the JSON route answers the report itself)."""
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _response_times(
    actor: ManagerActor,
    conn: ConnDep,
    settings: SettingsDep,
    targets: AnswerTargetsDep,
    start: StartDate = None,
    end: EndDate = None,
    tz: TimeZone = None,
) -> ResponseTimes:
    return await service.response_times(
        conn, actor=actor.name, start=start, end=end, timezone=tz or settings.timezone, targets=targets
    )


ResponseTimesReport = Annotated[ResponseTimes, Depends(_response_times)]


@router.get(
    "/response-times",
    summary="Time to acknowledge (median, p90, share within 60 s / 180 s, every breach) and to on-scene",
)
async def get_response_times(report: ResponseTimesReport) -> ResponseTimes:
    return report


def _span(report: ResponseTimes) -> str:
    return f"{report.period.start_date.isoformat()}_{report.period.end_date.isoformat()}"


@router.get(
    "/response-times/breaches.csv",
    summary="Alarms not acknowledged within 60 s, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_breaches_csv(report: ResponseTimesReport) -> Response:
    return _csv(export.breaches_csv(report), f"acknowledge-breaches_{_span(report)}.csv")


@router.get(
    "/response-times/by-operator.csv",
    summary="Response figures per operator, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_operators_csv(report: ResponseTimesReport) -> Response:
    return _csv(
        export.groups_csv(report.by_operator, key="operator"), f"response-times-by-operator_{_span(report)}.csv"
    )


@router.get(
    "/response-times/by-station.csv",
    summary="Response figures per station, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_stations_csv(report: ResponseTimesReport) -> Response:
    return _csv(export.groups_csv(report.by_station, key="station"), f"response-times-by-station_{_span(report)}.csv")


async def _coverage(actor: ManagerActor, conn: ConnDep, settings: SettingsDep, tz: TimeZone = None) -> Coverage:
    return await service.coverage(conn, actor=actor.name, timezone=tz or settings.timezone)


CoverageReport = Annotated[Coverage, Depends(_coverage)]


@router.get("/coverage", summary="Share of enrolled residents whose devices were online in the last 24 h")
async def get_coverage(report: CoverageReport) -> Coverage:
    return report


@router.get(
    "/coverage/gaps.csv",
    summary="Residents with a device silent for 24 h, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_coverage_csv(report: CoverageReport) -> Response:
    return _csv(export.coverage_csv(report), f"coverage-gaps_{report.at.strftime('%Y-%m-%d_%H%M')}.csv")


async def _welfare(
    actor: ManagerActor, conn: ConnDep, settings: SettingsDep, month: Month = None, tz: TimeZone = None
) -> WelfareVisits:
    return await service.welfare_visits(conn, actor=actor.name, month=month, timezone=tz or settings.timezone)


WelfareReport = Annotated[WelfareVisits, Depends(_welfare)]


@router.get("/welfare-visits", summary="Monthly welfare-visit rate of vulnerable residents, and who was not visited")
async def get_welfare_visits(report: WelfareReport) -> WelfareVisits:
    return report


@router.get(
    "/welfare-visits/not-visited.csv",
    summary="Vulnerable residents not visited in the month, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_not_visited_csv(report: WelfareReport) -> Response:
    return _csv(export.not_visited_csv(report), f"welfare-not-visited_{report.month}.csv")


async def _service_quality(
    actor: ManagerActor,
    conn: ConnDep,
    alarms: AlarmsDep,
    settings: SettingsDep,
    month: Month = None,
    tz: TimeZone = None,
) -> ServiceQuality:
    return await service.service_quality(
        conn,
        actor=actor,
        month=month,
        timezone=tz or settings.timezone,
        late_after=timedelta(minutes=settings.carer_late_after_min),
        now=alarms.clock.now(),  # the alarm pipeline's, which decides non-arrivals
    )


ServiceQualityReport = Annotated[ServiceQuality, Depends(_service_quality)]


@router.get(
    "/service-quality",
    summary="Home services in the month per providing station and carer: late, short and missed visits, on-time rate",
)
async def get_service_quality(report: ServiceQualityReport) -> ServiceQuality:
    return report


@router.get(
    "/service-quality.csv",
    summary="Home-service figures of the month per providing station and carer, as CSV",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def get_service_quality_csv(report: ServiceQualityReport) -> Response:
    return _csv(export.service_quality_csv(report), f"service-quality_{report.month}.csv")


@router.get(
    "/health-management",
    summary="Health-management rate: the share of residents with a blood-pressure or glucose check in the period",
)
async def get_health_management(
    actor: ManagerActor,
    conn: ConnDep,
    settings: SettingsDep,
    start: StartDate = None,
    end: EndDate = None,
    tz: TimeZone = None,
) -> HealthManagement:
    return await service.health_management(
        conn, actor=actor.name, start=start, end=end, timezone=tz or settings.timezone
    )
