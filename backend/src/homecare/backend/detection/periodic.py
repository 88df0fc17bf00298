"""The periodic detectors' single entry point: findings of every detector become ALARM and CLEAR signals.

A condition that holds gives an ALARM on every run (new or continuing: the incidents service folds
repeats) and is remembered in ``detection_conditions``; when a detector sees it gone, one CLEAR
follows and the memory is dropped. A detector that cannot tell (no fresh data) changes nothing, so
missing data never clears an alarm. Deterministic for a given database and ``now``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final, Protocol

from homecare.backend.detection import activity, baseline, device_health, health_checks, safe_zones, vitals
from homecare.backend.detection.config import SettingsBook, load_settings
from homecare.backend.detection.findings import Finding, State
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)


class Detector(Protocol):
    """What every detector module's ``detect`` is."""

    async def __call__(self, conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]: ...


DETECTORS: Final[tuple[tuple[str, Detector, tuple[Cause, ...]], ...]] = (
    ("vitals", vitals.detect, vitals.CAUSES),
    ("health_checks", health_checks.detect, health_checks.CAUSES),
    ("safe_zones", safe_zones.detect, safe_zones.CAUSES),
    ("baseline", baseline.detect, (Cause.WELFARE,)),
    ("activity", activity.detect, activity.CAUSES),
    ("device_health", device_health.detect, device_health.CAUSES),
)


async def run_periodic_detectors(conn: Conn, *, now: datetime) -> list[Signal]:
    """Run every periodic detector over recent data for all residents and return their signals.

    ``now`` must be timezone-aware; nothing here reads the wall clock. The detectors' memory (open
    conditions, the day's baselines and rhythms) is written on ``conn``: on an autocommit connection
    it commits here; inside the caller's transaction it commits with it, so a caller that applies the
    signals to incidents in the same transaction never loses a CLEAR or an ALARM to a crash between.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    book = await load_settings(conn)
    findings: list[Finding] = []
    for name, detect, _ in DETECTORS:
        found = await detect(conn, now=now, book=book)
        log.debug("detector %s: %d findings", name, len(found))
        findings.extend(found)
    async with conn.transaction():
        return await _to_signals(conn, findings, now=now, book=book)


async def _to_signals(conn: Conn, findings: list[Finding], *, now: datetime, book: SettingsBook) -> list[Signal]:
    cursor = await conn.execute("SELECT resident_id, cause FROM detection_conditions FOR UPDATE")
    active = {(rid, Cause(cause)) for rid, cause in await cursor.fetchall()}
    signals: list[Signal] = []
    raised: list[tuple[int, str]] = []
    cleared: list[tuple[int, str]] = []
    for f in sorted(findings, key=lambda f: (f.resident_id, f.cause)):
        key = (f.resident_id, f.cause)
        if f.state is State.HOLDS:
            signals.append(_signal(f, SignalKind.ALARM, now, book))
            raised.append((f.resident_id, f.cause.value))
        elif f.state is State.GONE and key in active:
            signals.append(_signal(f, SignalKind.CLEAR, now, book))
            cleared.append((f.resident_id, f.cause.value))
    if raised:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO detection_conditions (resident_id, cause, since, last_seen_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (resident_id, cause) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                [(rid, cause, now, now) for rid, cause in raised],
            )
    if cleared:
        async with conn.cursor() as cur:
            await cur.executemany("DELETE FROM detection_conditions WHERE resident_id = %s AND cause = %s", cleared)
    return signals


def _signal(f: Finding, kind: SignalKind, now: datetime, book: SettingsBook) -> Signal:
    priority = book.for_resident(f.resident_id).priority(f.cause)
    if f.priority is not None and f.cause not in book.for_resident(f.resident_id).priorities:
        priority = f.priority  # a detector's own grading (a NEWS2 score-2 band is medium) unless overridden
    return Signal(
        resident_id=f.resident_id,
        cause=f.cause,
        kind=kind,
        priority=priority,
        explanation_en=f.explanation_en,
        explanation_zh=f.explanation_zh,
        detected_at=now,
        device_id=f.device_id,
    )
