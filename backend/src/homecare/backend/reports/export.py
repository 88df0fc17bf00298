"""Every CSV the platform writes: UTF-8 with a BOM so that Excel (zh-CN) opens it, and no cell a spreadsheet runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from homecare.backend.reports.models import Coverage, GroupFigures, ResponseTimes, ServiceQuality, WelfareVisits

BOM = "\ufeff"
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (CSV injection: a resident named =HYPERLINK(…))."""


def _inert(text: str) -> str:
    """Text a spreadsheet shows as text and never runs: a leading apostrophe before a formula's first character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return _inert(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # local time of the report's zone (in its own column)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV document with a BOM and CRLF line ends (what Excel writes)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def breaches_csv(report: ResponseTimes) -> bytes:
    tz = report.period.timezone
    return to_csv(
        [
            "incident_id",
            "resident_id",
            "resident_name",
            "cause",
            "priority",
            "status",
            "alarm_at",
            "acknowledged_at",
            "acknowledged_by",
            "wait_s",
            "missed_180s",
            "station_id",
            "station_name",
            "timezone",
        ],
        (
            [
                b.incident_id,
                b.resident_id,
                b.resident_name,
                b.cause,
                b.priority,
                b.status,
                b.alarm_at,
                b.acknowledged_at,
                b.acknowledged_by,
                b.wait_s,
                b.missed_180s,
                b.station_id,
                b.station_name,
                tz,
            ]
            for b in report.breaches
        ),
    )


def groups_csv(groups: Sequence[GroupFigures], *, key: str) -> bytes:
    return to_csv(
        [
            key,
            "station_id",
            "alarms",
            "acknowledged",
            "median_ack_s",
            "p90_ack_s",
            "share_within_60s",
            "share_within_180s",
            "on_scene",
            "median_on_scene_s",
            "p90_on_scene_s",
        ],
        (
            [
                g.key,
                g.station_id,
                g.alarms,
                g.acknowledged,
                g.median_ack_s,
                g.p90_ack_s,
                g.share_within_60s,
                g.share_within_180s,
                g.on_scene,
                g.median_on_scene_s,
                g.p90_on_scene_s,
            ]
            for g in groups
        ),
    )


def coverage_csv(report: Coverage) -> bytes:
    return to_csv(
        [
            "resident_id",
            "resident_name",
            "station_id",
            "station_name",
            "devices",
            "devices_online",
            "covered",
            "last_seen_at",
            "timezone",
        ],
        (
            [
                g.resident_id,
                g.resident_name,
                g.station_id,
                g.station_name,
                g.devices,
                g.devices_online,
                g.covered,
                g.last_seen_at,
                report.timezone,
            ]
            for g in report.gaps
        ),
    )


def not_visited_csv(report: WelfareVisits) -> bytes:
    return to_csv(
        ["month", "resident_id", "resident_name", "station_id", "station_name", "last_visit_at", "timezone"],
        (
            [
                report.month,
                r.resident_id,
                r.resident_name,
                r.station_id,
                r.station_name,
                r.last_visit_at,
                report.timezone,
            ]
            for r in report.not_visited
        ),
    )


def service_quality_csv(report: ServiceQuality) -> bytes:
    return to_csv(
        [
            "month",
            "station_id",
            "station_name",
            "carer_id",
            "carer_name",
            "provider_total",
            "visits",
            "checked_in",
            "late",
            "late_min_avg",
            "short",
            "missed",
            "on_time_rate",
            "ratings",
            "rating_avg",
            "complaints",
            "timezone",
        ],
        (
            [
                report.month,
                f.station_id,
                f.station_name,
                f.carer_id,
                f.carer_name,
                f.provider_total,
                f.visits,
                f.checked_in,
                f.late,
                f.late_min_avg,
                f.short,
                f.missed,
                f.on_time_rate,
                f.ratings,
                f.rating_avg,
                f.complaints,
                report.timezone,
            ]
            for f in report.lines
        ),
    )
