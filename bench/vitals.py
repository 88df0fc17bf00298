"""Vital-sign detectors' cost per resident-day: the nightly personal baseline and the NEWS2 alarms every 30 s.

Platform: an embedded PostgreSQL with ``--residents`` residents, each wearing one of the Stanford file's
real wristbands (heart rate and steps a minute): for the nightly baseline, yesterday's minute rollups
and 28 stored days of features; for the alarms, the last 30 minutes of raw readings, a tenth of the
residents with a planted tachycardia (so that they are candidates and read in full). ``baseline.detect``
is timed for the night (every resident due), ``vitals.detect`` over ``--runs`` runs; a day of alarms
is 2,880 runs. Replay: the same functions over the whole Stanford file in memory (``homecare vitals
evaluate``), per resident-day of series. Prints the figures and writes bench/results/vitals.json.
Needs ../shared/datasets/vitals. Run: ``python -m bench.vitals``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from rich.console import Console

from bench.services import with_services, write_results
from homecare.backend.detection import baseline, vitals
from homecare.backend.detection.config import DEFAULTS, SettingsBook
from homecare.backend.detection.falls.dataset import datasets_dir
from homecare.backend.detection.replay.replay import (
    TICK_S,
    day_minutes,
    device_readings,
    replay_baseline,
    replay_vitals,
)
from homecare.backend.detection.replay.series import DAY_S, STANFORD, SeriesFile
from homecare.contracts.messages import Metric
from homecare.storage.maintenance import prepare_database
from homecare.storage.settings import StorageSettings

RESULTS = Path(__file__).parent / "results" / "vitals.json"
RUNS_PER_DAY = int(DAY_S / TICK_S)
SHANGHAI = ZoneInfo("Asia/Shanghai")
console = Console()


def _replay(series: SeriesFile) -> dict[str, Any]:
    """CPU seconds of the pure detector functions over every subject's whole series."""
    days = sum(s.span_s for s in series.subjects) / DAY_S
    readings = [(s, device_readings(s)) for s in series.subjects]
    started = time.process_time()
    for s, r in readings:
        replay_vitals(r, DEFAULTS.vitals, float(s.t[0]), float(s.t[0] + s.span_s))
    alarms = time.process_time() - started
    started = time.process_time()
    for s, r in readings:
        replay_baseline(r, DEFAULTS.baseline, float(s.t[0]), float(s.t[0] + s.span_s))
    nightly = time.process_time() - started
    return {
        "resident_days": round(days, 1),
        "alarms_cpu_ms_per_resident_day": round(1000 * alarms / days, 3),
        "baseline_cpu_ms_per_resident_day": round(1000 * nightly / days, 3),
        "note": "alarms judged at every 30-s run of the whole series at once (vectorised), not run by run",
    }


def _full_days(series: SeriesFile) -> list[tuple[dict[date, baseline.DayMinutes], list[date]]]:
    """Per subject: the minute rollups of every day, and the days with 29 well-worn days up to them."""
    out = []
    for s in series.subjects:
        minutes = day_minutes(device_readings(s))
        worn = [d for d, m in minutes.items() if baseline.day_features(m, DEFAULTS.baseline)[0] >= 16]
        out.append((minutes, sorted(worn)))
    return out


async def _platform(dsn: str, series: SeriesFile, residents: int, runs: int) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await prepare_database(conn, settings=StorageSettings())
        now = datetime.now(UTC).replace(microsecond=0)
        local_now = now.astimezone(SHANGHAI)
        night = datetime.combine(local_now.date(), datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=3)
        judged = baseline.judged_day(night, "Asia/Shanghai")
        cursor = await conn.execute(
            "INSERT INTO residents (display_name) SELECT 'bench ' || g FROM generate_series(1, %s) g RETURNING id",
            (residents,),
        )
        ids = [row[0] for row in await cursor.fetchall()]
        days = _full_days(series)
        rng = np.random.default_rng(1)
        stored, minute_rows = [], []
        for rid in ids:
            minutes, worn = days[rid % len(days)]
            source = worn[int(rng.integers(len(worn)))]
            for k in range(1, DEFAULTS.baseline.history_days + 1):
                day = minutes.get(source - timedelta(days=k))
                if day is not None:
                    hours, features = baseline.day_features(day, DEFAULTS.baseline)
                    stored.append((rid, judged - timedelta(days=k), hours, [float(v) for v in features]))
            day = minutes[source]
            start = datetime.combine(judged, datetime.min.time(), tzinfo=SHANGHAI)
            for row, metric in enumerate(baseline.ROLLUP_METRICS):
                for minute in np.flatnonzero(day.n[row] > 0):
                    bucket = start + timedelta(minutes=int(minute))
                    value = float(day.total[row][minute])
                    minute_rows.append((bucket, rid, int(metric), int(day.n[row][minute]), value, value, value))
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO resident_baseline_days (resident_id, day, worn_hours, features) VALUES (%s, %s, %s, %s)",
                stored,
            )
            async with cur.copy("COPY telemetry_1m (bucket, resident_id, metric, n, sum, min, max) FROM STDIN") as c:
                for minute_row in minute_rows:
                    await c.write_row(minute_row)
        book = SettingsBook({})
        started, cpu = time.perf_counter(), time.process_time()
        findings = await baseline.detect(conn, now=night, book=book)
        night_s, night_cpu = time.perf_counter() - started, time.process_time() - cpu

        # The alarms: the last 30 minutes of real readings, a tenth of the residents in a tachycardia.
        raw = []
        for rid in ids:
            s = series.subjects[rid % len(series.subjects)]
            heart, steps = s.metrics[Metric.HEART_RATE], s.metrics[Metric.STEPS]
            at = int(rng.integers(30, len(s.t)))
            for k in range(30):
                ts = now - timedelta(minutes=30 - k)
                hr = 140.0 if rid % 10 == 0 and k >= 20 else heart[at - 30 + k]
                if not np.isnan(hr):
                    raw.append((ts, rid, rid, int(Metric.HEART_RATE), float(round(hr)), 2 * k))
                if not np.isnan(steps[at - 30 + k]):
                    raw.append((ts, rid, rid, int(Metric.STEPS), float(steps[at - 30 + k]), 2 * k + 1))
        async with (
            conn.cursor() as cur,
            cur.copy("COPY telemetry (ts, device_id, resident_id, metric, value, seq) FROM STDIN") as c,
        ):
            for raw_row in raw:
                await c.write_row(raw_row)
        await conn.execute("ANALYZE")
        timings, cpus, alarms = [], [], 0
        for run in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            found = await vitals.detect(conn, now=now + timedelta(seconds=TICK_S * run / runs), book=book)
            timings.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            alarms = max(alarms, sum(1 for f in found if f.state.value == "holds"))
        run_s = float(np.median(timings))
        return {
            "residents": residents,
            "nightly_baseline": {
                "seconds": round(night_s, 3),
                "client_cpu_seconds": round(night_cpu, 3),
                "ms_per_resident_day": round(1000 * night_s / residents, 3),
                "findings": len(findings),
                "minute_rows_read": len(minute_rows),
            },
            "alarms": {
                "runs": runs,
                "median_run_ms": round(1000 * run_s, 2),
                "median_client_cpu_ms": round(1000 * float(np.median(cpus)), 2),
                "ms_per_resident_day": round(1000 * run_s * RUNS_PER_DAY / residents, 2),
                "residents_alarming": alarms,
                "raw_rows": len(raw),
            },
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20, help="runs of the vital-sign alarms timed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    path = datasets_dir() / STANFORD
    if not path.exists():
        raise SystemExit(f"{path} is missing: the vitals benchmark replays the shared Stanford wearables file")
    series = SeriesFile.load(path)
    result: dict[str, Any] = {"replay": _replay(series)}
    result["platform"] = with_services(
        "vitals", lambda work, dsn, broker_url: _platform(dsn, series, args.residents, args.runs), broker=None
    )
    write_results(args.output, result)
    replay, platform = result["replay"], result["platform"]
    night, alarms = platform["nightly_baseline"], platform["alarms"]
    console.print(
        f"[bold]nightly baseline[/] ({args.residents} residents): {night['seconds']:.2f} s, "
        f"{night['ms_per_resident_day']:.2f} ms per resident-day"
    )
    console.print(
        f"[bold]vital-sign alarms[/]: median run {alarms['median_run_ms']:.1f} ms for {args.residents} residents, "
        f"{alarms['ms_per_resident_day']:.1f} ms per resident-day ({RUNS_PER_DAY} runs a day)"
    )
    console.print(
        f"[bold]replay[/] ({replay['resident_days']:.0f} resident-days in memory): alarms "
        f"{replay['alarms_cpu_ms_per_resident_day']:.2f} ms, baseline {replay['baseline_cpu_ms_per_resident_day']:.2f} "
        "ms CPU per resident-day"
    )


if __name__ == "__main__":
    main()
