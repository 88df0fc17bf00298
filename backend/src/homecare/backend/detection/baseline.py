"""Personal baseline per resident: daily features against their own robust history, a low-priority welfare check.

Each local day of a resident becomes a vector of features read from the minute telemetry rollups by
``day_features``: night heart rate (01–05 h), resting heart rate (minutes without steps), daytime
activity, steps and hours asleep (hours with almost no wrist movement); a feature the wristband gives
nothing for (no activity sensor) is NaN and left out. The baseline is the median and MAD of each
feature over the previous ``history_days`` days (at least ``min_days`` with enough data), and, with
enough days for a covariance (``ENVELOPE_MIN_DAYS``), scikit-learn's ``EllipticEnvelope`` (a
minimum-covariance-determinant fit, robust to the odd bad day) over the robust z-scores, which
catches a combination of changes that no single feature shows. A feature deviates when its robust
z-score reaches ``z_threshold`` *and* the change is large enough to matter; the welfare check names
it: "night heart rate 84, usually 62±4".

Each day's features are computed once and kept in ``resident_baseline_days``; the fit is stored as
plain numbers in ``resident_baselines`` and refitted once a day; yesterday is judged once its last
hour has been rolled up (from 02:00 local time), and the verdict is stored so that later runs of the
day repeat it without recomputing. ``judge_day`` is the whole judgement, on in-memory days: the
platform and ``homecare vitals evaluate`` call the same function.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from psycopg.types.json import Jsonb
from sklearn.covariance import EllipticEnvelope

from homecare.backend.detection.config import BaselineSettings, SettingsBook
from homecare.backend.detection.findings import Finding, State, clip, resident_zone
from homecare.backend.detection.signals import Cause
from homecare.contracts.messages import Metric
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

FEATURES: Final = ("night_hr", "resting_hr", "activity", "steps", "sleep_h")
_LABELS: Final = {
    "night_hr": ("night heart rate", "夜间心率", 0),
    "resting_hr": ("resting heart rate", "静息心率", 0),
    "activity": ("daytime activity", "日间活动量", 0),
    "steps": ("steps", "步数", 0),
    "sleep_h": ("hours asleep", "睡眠时长（小时）", 1),
}
CONCERN: Final = np.array([1.0, 1.0, -1.0, -1.0, 0.0])
"""Which way a change is a welfare concern: heart rates up, activity and steps down, sleep either way
(a brisk day or a calm heart is not a reason to visit; very low heart rates are the vitals detector's)."""
ENVELOPE_MIN_DAYS: Final = 2 * len(FEATURES) + 4
"""A covariance over 5 features needs clearly more days than features; below this, robust z-scores only."""
MAD_TO_SD: Final = 1.4826
MIN_SPREAD: Final = np.array([2.0, 2.0, 25.0, 600.0, 1.0])
"""Floor of each feature's robust spread: day-to-day noise no history can rule out (and hours asleep is
counted in whole hours), so that a resident with a very steady week is not flagged for a trifle."""
JUDGE_AFTER: Final = timedelta(hours=2)
"""Yesterday is judged from 02:00 local time, once its last hour is surely in the hourly rollup."""

ROLLUP_METRICS: Final = (Metric.HEART_RATE, Metric.ACTIVITY, Metric.STEPS)
"""The metrics a day's features are read from, in the row order of ``DayMinutes``."""
MINUTES: Final = 1440

# The minute rollups of each resident due, from the first local day whose features are not stored yet.
_MINUTES: Final = """
WITH p AS (SELECT * FROM unnest(%(ids)s::int[], %(since)s::timestamptz[]) AS p(resident_id, since))
SELECT m.resident_id, (m.bucket AT TIME ZONE r.timezone) AS local, m.metric, m.n, m.sum
FROM p JOIN residents r ON r.id = p.resident_id
JOIN telemetry_1m m ON m.resident_id = p.resident_id
WHERE m.metric = ANY(%(metrics)s::smallint[]) AND m.bucket >= p.since AND m.bucket < %(until)s AND m.n > 0
"""


@dataclass(frozen=True, slots=True)
class DayMinutes:
    """One local day minute by minute, per metric of ``ROLLUP_METRICS``: readings and their sum (as rolled up)."""

    n: FloatArray  # (metrics, 1440)
    total: FloatArray  # (metrics, 1440)

    @classmethod
    def empty(cls) -> DayMinutes:
        """A day without any reading yet."""
        return cls(np.zeros((len(ROLLUP_METRICS), MINUTES)), np.zeros((len(ROLLUP_METRICS), MINUTES)))

    def add(self, metric: Metric, minute: npt.NDArray[np.intp], n: FloatArray, total: FloatArray) -> None:
        """Add rolled-up readings of ``metric`` at these minutes of the day."""
        row = ROLLUP_METRICS.index(metric)
        np.add.at(self.n[row], minute, n)
        np.add.at(self.total[row], minute, total)


def day_features(day: DayMinutes, settings: BaselineSettings) -> tuple[float, FloatArray]:
    """Hours the wristband was worn, and the day's features (NaN where the day has nothing to read one from).

    Worn: a minute with a heart rate or with steps (a band taken off reports neither, and no steps is not
    no activity). Resting heart rate: the median heart rate of the minutes with no step in them nor in the
    ``rest_after_steps_min`` minutes before (at least ``min_rest_minutes`` of them), which is robust to
    how much the resident walked that day. Night heart rate: the mean from 01:00 to 05:00 (at least half
    an hour of it). Daytime activity: the mean activity counts from 08:00 to 21:00; hours asleep: hours
    whose mean activity is below 30 counts; steps: the day's total.
    """
    n, total = day.n, day.total
    seen = n > 0
    hr = np.divide(total[0], n[0], out=np.full(MINUTES, np.nan), where=seen[0])
    activity = np.divide(total[1], n[1], out=np.full(MINUTES, np.nan), where=seen[1])
    steps = np.where(seen[2], total[2], np.nan)
    worn = seen[0] | (np.nan_to_num(steps) > 0)
    # No step known in this minute nor in the ones before (a minute without a steps reading is not known).
    window = settings.rest_after_steps_min + 1
    stepping = np.convolve(np.where(seen[2], steps > 0, True).astype(np.float64), np.ones(window))[:MINUTES]
    stepping[: window - 1] += 1  # the previous day's last minutes are not known here
    rest = seen[0] & (stepping == 0)
    night = slice(60, 5 * 60)
    hourly_activity = np.array(
        [
            activity[h * 60 : (h + 1) * 60][seen[1][h * 60 : (h + 1) * 60]].mean()
            if seen[1][h * 60 : (h + 1) * 60].any()
            else np.nan
            for h in range(24)
        ]
    )
    known_activity = ~np.isnan(hourly_activity)
    features = np.array(
        [
            float(np.mean(hr[night][seen[0][night]])) if seen[0][night].sum() >= 30 else np.nan,
            float(np.median(hr[rest])) if rest.sum() >= settings.min_rest_minutes else np.nan,
            float(np.mean(activity[8 * 60 : 21 * 60][seen[1][8 * 60 : 21 * 60]]))
            if seen[1][8 * 60 : 21 * 60].any()
            else np.nan,
            float(np.nansum(steps)) if seen[2].any() else np.nan,
            float((hourly_activity[known_activity] < 30).sum()) if known_activity.any() else np.nan,
        ]
    )
    return float(worn.sum()) / 60, features


@dataclass(frozen=True, slots=True)
class Baseline:
    """A fitted personal baseline, as stored."""

    days: int
    median: FloatArray
    mad: FloatArray
    envelope_location: FloatArray | None = None
    envelope_precision: FloatArray | None = None  # (k, k)
    envelope_offset: float | None = None

    def sigma(self) -> FloatArray:
        """Robust standard deviation per feature, never below ``MIN_SPREAD``."""
        return np.asarray(np.maximum(self.mad * MAD_TO_SD, MIN_SPREAD), dtype=np.float64)

    def z(self, x: FloatArray) -> FloatArray:
        """Robust z-score of each feature of day vector ``x``."""
        return np.asarray((x - self.median) / self.sigma(), dtype=np.float64)

    def envelope_outlier(self, z: FloatArray) -> bool:
        """Whether the day lies outside the fitted envelope (EllipticEnvelope.decision_function < 0)."""
        if self.envelope_location is None or self.envelope_precision is None or self.envelope_offset is None:
            return False
        d = z - self.envelope_location
        return bool(-(d @ self.envelope_precision @ d) - self.envelope_offset < 0)


def fit(history: FloatArray, settings: BaselineSettings) -> Baseline:
    """Median and MAD per feature over the history (days × features), and the envelope when there are enough days.

    A feature known on fewer than ``min_days`` of the days (NaN on the others) has no baseline (NaN), and
    is not judged; the envelope needs every feature on every day.
    """
    known = (~np.isnan(history)).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no baseline for that feature
        median = np.nanmedian(history, axis=0)
        mad = np.nanmedian(np.abs(history - median), axis=0)
    median[known < settings.min_days] = np.nan
    mad[known < settings.min_days] = np.nan
    base = Baseline(history.shape[0], median, mad)
    if history.shape[0] < ENVELOPE_MIN_DAYS or np.isnan(history).any():
        return base
    z = (history - median) / base.sigma()
    try:
        with warnings.catch_warnings():
            # A near-singular covariance (a feature that never changes) is expected here, not an error.
            warnings.simplefilter("ignore")
            envelope = EllipticEnvelope(contamination=settings.envelope_contamination, random_state=0).fit(z)
    except (ValueError, np.linalg.LinAlgError) as err:
        log.info("baseline envelope not fitted: %s", err)
        return base
    return Baseline(
        base.days,
        median,
        mad,
        np.asarray(envelope.location_, dtype=np.float64),
        np.asarray(envelope.get_precision(), dtype=np.float64),
        float(envelope.offset_),
    )


def _min_change(settings: BaselineSettings) -> FloatArray:
    s = settings
    return np.array([s.min_change_hr, s.min_change_hr, s.min_change_activity, s.min_change_steps, s.min_change_sleep_h])


@dataclass(frozen=True, slots=True)
class Deviation:
    """One feature's departure from the resident's usual: the feature is the code, the rest its parameters."""

    feature: str
    value: float
    usual: float
    spread: float
    days: int = 1
    """Consecutive days it has lasted, the judged day included."""

    def params(self) -> dict[str, float | int | str]:
        """As stored and sent to the pages (rounded as they are worded)."""
        decimals = _LABELS[self.feature][2]
        return {
            "feature": self.feature,
            "value": round(self.value, decimals),
            "usual": round(self.usual, decimals),
            "spread": round(self.spread, decimals + 1),
            "days": self.days,
        }


@dataclass(frozen=True, slots=True)
class Judgement:
    """Why a day is unusual: the deviating features, most deviating first (at most three)."""

    deviations: list[Deviation]
    overall: bool = False
    """No single feature is far off, but the combination is (the envelope): the two largest departures."""

    def params(self) -> dict[str, object]:
        """The code's parameters, as stored in ``resident_baselines.deviations``."""
        return {"overall": self.overall, "deviations": [d.params() for d in self.deviations]}


def _deviating(
    x: FloatArray, baseline: Baseline, settings: BaselineSettings, *, share: float = 1.0, z: float | None = None
) -> npt.NDArray[np.bool_]:
    """Which features of day ``x`` depart from the baseline in a concerning direction, by at least ``share`` of
    the minimum change and ``z`` (default: the setting) robust z-scores."""
    scores = baseline.z(x)  # NaN for a feature without a value or a baseline: never deviates
    concerning = (CONCERN == 0) | (np.sign(x - baseline.median) == CONCERN)
    with np.errstate(invalid="ignore"):
        return np.asarray(
            concerning
            & (np.abs(scores) >= (settings.z_threshold if z is None else z))
            & (np.abs(x - baseline.median) >= _min_change(settings) * share)
        )


def assess(x: FloatArray, baseline: Baseline, settings: BaselineSettings) -> Judgement | None:
    """How the day ``x`` is unusual for this resident, or None when it is not."""
    z = np.abs(baseline.z(x))
    order = [int(i) for i in np.argsort(-np.nan_to_num(z, nan=-1.0)) if _deviating(x, baseline, settings)[i]]
    overall = False
    # The envelope speaks only for a day with at least one clear, if not alarming, concerning departure.
    leaning = _deviating(x, baseline, settings, share=0.5, z=2.5)
    if not order and leaning.any() and baseline.envelope_outlier(baseline.z(x)):
        # No single feature is far off, but the combination is: name the two largest departures.
        order = [int(i) for i in np.argsort(-np.nan_to_num(z, nan=-1.0)) if leaning[i]][:2]
        overall = True
    if not order:
        return None
    sigma = baseline.sigma()
    return Judgement(
        [Deviation(FEATURES[i], float(x[i]), float(baseline.median[i]), float(sigma[i])) for i in order[:3]], overall
    )


_WORDS: Final = {
    # feature: (English, Chinese), each with {change}, {usual}, and the direction words below.
    "night_hr": (
        "night heart rate {change} beats/min {en} usual ({usual})",
        "夜间心率比平时（{usual}）{zh} {change} 次/分",
    ),
    "resting_hr": (
        "resting heart rate {change} beats/min {en} usual ({usual})",
        "静息心率比平时（{usual}）{zh} {change} 次/分",
    ),
    "activity": ("daytime activity {change} counts {en} usual ({usual})", "日间活动量比平时（{usual}）{zh} {change}"),
    "steps": ("{change} {en} steps than usual ({usual})", "步数比平时（{usual}）{zh} {change} 步"),
    "sleep_h": ("asleep {change} h {en} than usual ({usual} h)", "睡眠比平时（{usual} 小时）{zh} {change} 小时"),
}
_DIRECTION: Final = {  # feature: (English up, English down, Chinese up, Chinese down)
    "night_hr": ("above", "below", "高", "低"),
    "resting_hr": ("above", "below", "高", "低"),
    "activity": ("above", "below", "高", "低"),
    "steps": ("more", "fewer", "多", "少"),
    "sleep_h": ("more", "less", "多", "少"),
}


def words(judgement: Judgement) -> tuple[str, str]:
    """The judgement in plain words (English, Chinese): "resting heart rate 9 beats/min above usual (76) for 2 days"."""
    parts_en, parts_zh = [], []
    for d in judgement.deviations:
        decimals = _LABELS[d.feature][2]
        up_en, down_en, up_zh, down_zh = _DIRECTION[d.feature]
        up = d.value >= d.usual
        fields = {
            "change": f"{abs(d.value - d.usual):,.{decimals}f}",
            "usual": f"{d.usual:,.{decimals}f}",
            "en": up_en if up else down_en,
            "zh": up_zh if up else down_zh,
        }
        en, zh = (template.format(**fields) for template in _WORDS[d.feature])
        parts_en.append(en + (f" for {d.days} days" if d.days > 1 else ""))
        parts_zh.append(zh.replace(",", "") + (f"，已连续 {d.days} 天" if d.days > 1 else ""))
    prefix_en, prefix_zh = ("unusual day overall: ", "整体异常：") if judgement.overall else ("", "")
    return clip(prefix_en + "; ".join(parts_en) + "."), clip(prefix_zh + "；".join(parts_zh) + "。")


def judge(x: FloatArray, baseline: Baseline, settings: BaselineSettings) -> tuple[str, str] | None:
    """Why the day ``x`` is unusual for this resident in plain words (English, Chinese), or None when it is not."""
    judgement = assess(x, baseline, settings)
    return None if judgement is None else words(judgement)


def judged_day(now: datetime, timezone: str) -> date:
    """The resident's local day that is judged at ``now``: yesterday, from 02:00 local time."""
    return (now.astimezone(resident_zone(timezone)) - JUDGE_AFTER).date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BaselineStatus:
    """Whether a resident has a baseline yet, for screens and logs."""

    ready: bool
    days: int
    needed: int
    explanation_en: str
    explanation_zh: str


async def baseline_status(conn: Conn, *, resident_id: int, settings: BaselineSettings) -> BaselineStatus:
    """Says whether the resident's personal baseline exists or how many more days of data it needs."""
    cursor = await conn.execute(
        "SELECT days, cardinality(median) > 0, fitted_through FROM resident_baselines WHERE resident_id = %s",
        (resident_id,),
    )
    row = await cursor.fetchone()
    days, fitted, through = (row[0], row[1], row[2]) if row is not None else (0, False, None)
    if fitted:
        return BaselineStatus(
            True,
            days,
            settings.min_days,
            f"Personal baseline from {days} days up to {through}.",
            f"个人基线：截至 {through} 的 {days} 天数据。",
        )
    return BaselineStatus(
        False,
        days,
        settings.min_days,
        f"No personal baseline yet: {days} of the {settings.min_days} days of data it needs.",
        f"尚无个人基线：已有 {days} 天数据，需要 {settings.min_days} 天。",
    )


async def detect(conn: Conn, *, now: datetime, book: SettingsBook) -> list[Finding]:
    """Welfare findings for every resident with wristband data; fits and judges each resident once a day."""
    cursor = await conn.execute(
        "SELECT r.id, r.timezone, b.evaluated_day, b.verdict, b.finding_en, b.finding_zh "
        "FROM residents r LEFT JOIN resident_baselines b ON b.resident_id = r.id ORDER BY r.id"
    )
    findings: list[Finding] = []
    due: dict[int, date] = {}
    for rid, timezone, evaluated_day, verdict, finding_en, finding_zh in await cursor.fetchall():
        if not book.for_resident(rid).baseline.enabled:
            continue
        day = judged_day(now, timezone)
        if evaluated_day == day:
            findings.extend(_stored(rid, verdict, finding_en, finding_zh))
        else:
            due[rid] = day
    if due:
        findings.extend(await _evaluate(conn, now=now, book=book, due=due))
    return findings


def _stored(rid: int, verdict: str | None, en: str | None, zh: str | None) -> list[Finding]:
    if verdict == "unusual" and en and zh:
        return [Finding(rid, Cause.WELFARE, State.HOLDS, explanation_en=en, explanation_zh=zh)]
    if verdict == "usual":
        return [Finding(rid, Cause.WELFARE, State.GONE, explanation_en=_USUAL_EN, explanation_zh=_USUAL_ZH)]
    return []


_USUAL_EN: Final = "Daily pattern back within the personal baseline."
_USUAL_ZH: Final = "日常指标已回到个人基线范围内。"


async def _evaluate(conn: Conn, *, now: datetime, book: SettingsBook, due: dict[int, date]) -> list[Finding]:
    ids = sorted(due)
    first = {rid: due[rid] - timedelta(days=book.for_resident(rid).baseline.history_days) for rid in ids}
    cursor = await conn.execute(
        "SELECT resident_id, day, worn_hours, features FROM resident_baseline_days "
        "WHERE resident_id = ANY(%s::int[]) AND day >= %s",
        (ids, min(first.values())),
    )
    by_day: dict[int, dict[date, tuple[float, FloatArray]]] = {rid: {} for rid in ids}
    for rid, day, worn, features in await cursor.fetchall():
        by_day[rid][day] = (worn, np.array(features, dtype=np.float64))
    # Each day's features are computed once, from the minute rollups, and kept: a night reads one day.
    missing = {
        rid: [
            d
            for k in range((due[rid] - first[rid]).days + 1)
            if (d := first[rid] + timedelta(days=k)) not in by_day[rid]
        ]
        for rid in ids
    }
    todo = [rid for rid in ids if missing[rid]]
    if todo:
        zones = await _zones(conn, todo)
        cursor = await conn.execute(
            _MINUTES,
            {
                "ids": todo,
                "since": [datetime.combine(missing[rid][0], time(), tzinfo=zones[rid]) for rid in todo],
                "until": max(datetime.combine(due[rid] + timedelta(days=1), time(), tzinfo=zones[rid]) for rid in todo),
                "metrics": [int(m) for m in ROLLUP_METRICS],
            },
        )
        grouped: dict[tuple[int, date, int], list[tuple[int, float, float]]] = {}
        for rid, local, metric, n, total in await cursor.fetchall():
            if local.date() <= due[rid] and local.date() not in by_day[rid]:
                grouped.setdefault((rid, local.date(), metric), []).append((local.hour * 60 + local.minute, n, total))
        minutes: dict[tuple[int, date], DayMinutes] = {}
        for (rid, day, metric), values in grouped.items():
            at, n, total = (np.array(column) for column in zip(*values, strict=True))
            minutes.setdefault((rid, day), DayMinutes.empty()).add(Metric(metric), at, n, total)
        rows = []
        for (rid, day), day_minutes in minutes.items():
            worn, features = day_features(day_minutes, book.for_resident(rid).baseline)
            by_day[rid][day] = (worn, features)
            rows.append((rid, day, worn, [float(v) for v in features]))
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO resident_baseline_days (resident_id, day, worn_hours, features) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (resident_id, day) DO UPDATE SET worn_hours = excluded.worn_hours, "
                "features = excluded.features",
                rows,
            )
    await conn.execute(
        "DELETE FROM resident_baseline_days WHERE resident_id = ANY(%s::int[]) AND day < %s",
        (ids, min(first.values()) - timedelta(days=1)),
    )
    findings = []
    for rid in ids:
        finding, row = _judge_resident(rid, due[rid], by_day[rid], book.for_resident(rid).baseline)
        await _store(conn, rid, now, due[rid], row)
        if finding is not None:
            findings.append(finding)
    return findings


async def _zones(conn: Conn, ids: list[int]) -> dict[int, ZoneInfo]:
    cursor = await conn.execute("SELECT id, timezone FROM residents WHERE id = ANY(%s::int[])", (ids,))
    return {rid: resident_zone(timezone) for rid, timezone in await cursor.fetchall()}


@dataclass(frozen=True, slots=True)
class Verdict:
    """One judged day: the baseline it was judged against, ``usual``, ``unusual`` or ``unknown``, and why."""

    baseline: Baseline
    verdict: str
    judgement: Judgement | None = None

    @property
    def reason(self) -> tuple[str, str] | None:
        """The judgement in plain words (English, Chinese)."""
        return None if self.judgement is None else words(self.judgement)


def _complete(entry: tuple[float, FloatArray] | None, settings: BaselineSettings) -> FloatArray | None:
    if entry is None or entry[0] < settings.min_hours_of_data:
        return None
    return entry[1]


def judge_day(day: date, by_day: Mapping[date, tuple[float, FloatArray]], settings: BaselineSettings) -> Verdict:
    """Judge ``day`` against the baseline of the days before it (``by_day``: hours worn and features per
    local day, from ``day_features``). Used by the platform and by the evaluator on real series."""
    history_days = [day - timedelta(days=k) for k in range(settings.history_days, 0, -1)]
    rows = [x for d in history_days if (x := _complete(by_day.get(d), settings)) is not None]
    if len(rows) < settings.min_days:
        return Verdict(Baseline(len(rows), np.array([]), np.array([])), "unknown")
    baseline = fit(np.vstack(rows), settings)
    x = _complete(by_day.get(day), settings)
    if x is None:
        return Verdict(baseline, "unknown")
    judgement = assess(x, baseline, settings)
    if judgement is None:
        return Verdict(baseline, "usual")
    # How long each departure has lasted: the days before that depart the same way from the same baseline.
    lasting = []
    for deviation in judgement.deviations:
        i, days = FEATURES.index(deviation.feature), 1
        while (before := _complete(by_day.get(day - timedelta(days=days)), settings)) is not None and (
            _deviating(before, baseline, settings)[i]
            and (before[i] >= baseline.median[i]) == (x[i] >= baseline.median[i])
        ):
            days += 1
        lasting.append(replace(deviation, days=days))
    return Verdict(baseline, "unusual", replace(judgement, deviations=lasting))


@dataclass(frozen=True, slots=True)
class _Row:
    baseline: Baseline
    fitted_through: date
    verdict: str
    en: str | None
    zh: str | None
    judgement: Judgement | None = None


def _judge_resident(
    rid: int, day: date, by_day: dict[date, tuple[float, FloatArray]], settings: BaselineSettings
) -> tuple[Finding | None, _Row]:
    through = day - timedelta(days=1)
    if not by_day:
        # No wristband data: remembered for the day, so the next runs do not look again.
        return None, _Row(Baseline(0, np.array([]), np.array([])), through, "unknown", None, None)
    verdict = judge_day(day, by_day, settings)
    if verdict.verdict == "unknown":
        if verdict.baseline.median.size == 0:
            log.info(
                "resident %s: no personal baseline yet (%d of %d days)", rid, verdict.baseline.days, settings.min_days
            )
        return None, _Row(verdict.baseline, through, "unknown", None, None)
    if verdict.reason is None:
        finding = Finding(rid, Cause.WELFARE, State.GONE, explanation_en=_USUAL_EN, explanation_zh=_USUAL_ZH)
        return finding, _Row(verdict.baseline, through, "usual", None, None)
    en, zh = verdict.reason
    en, zh = clip(f"Welfare check: {en}"), clip(f"建议探访：{zh}")
    finding = Finding(rid, Cause.WELFARE, State.HOLDS, explanation_en=en, explanation_zh=zh)
    return finding, _Row(verdict.baseline, through, "unusual", en, zh, verdict.judgement)


async def _store(conn: Conn, rid: int, now: datetime, day: date, row: _Row) -> None:
    b = row.baseline
    await conn.execute(
        """
        INSERT INTO resident_baselines (resident_id, fitted_at, fitted_through, days, features, median, mad,
                                        envelope_location, envelope_precision, envelope_offset,
                                        evaluated_day, verdict, finding_en, finding_zh, deviations)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (resident_id) DO UPDATE SET
            fitted_at = excluded.fitted_at, fitted_through = excluded.fitted_through, days = excluded.days,
            features = excluded.features, median = excluded.median, mad = excluded.mad,
            envelope_location = excluded.envelope_location, envelope_precision = excluded.envelope_precision,
            envelope_offset = excluded.envelope_offset, evaluated_day = excluded.evaluated_day,
            verdict = excluded.verdict, finding_en = excluded.finding_en, finding_zh = excluded.finding_zh,
            deviations = excluded.deviations
        -- A day is judged once: a run that read the row before another judged the same day (two pipeline
        -- replicas during a handover) keeps the first judgement rather than writing its own over it.
        WHERE resident_baselines.evaluated_day IS NULL OR resident_baselines.evaluated_day < excluded.evaluated_day
        """,
        (
            rid,
            now,
            row.fitted_through,
            b.days,
            list(FEATURES) if b.median.size else [],
            [float(v) for v in b.median],
            [float(v) for v in b.mad],
            None if b.envelope_location is None else [float(v) for v in b.envelope_location],
            None if b.envelope_precision is None else [float(v) for v in b.envelope_precision.ravel()],
            b.envelope_offset,
            day,
            row.verdict,
            row.en,
            row.zh,
            None if row.judgement is None else Jsonb(row.judgement.params()),
        ),
    )


async def load_baseline(conn: Conn, *, resident_id: int) -> Baseline | None:
    """The stored baseline of a resident, or None when there is none (yet)."""
    cursor = await conn.execute(
        "SELECT days, median, mad, envelope_location, envelope_precision, envelope_offset "
        "FROM resident_baselines WHERE resident_id = %s AND cardinality(median) > 0",
        (resident_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    days, median, mad, location, precision, offset = row
    k = len(median)
    return Baseline(
        days,
        np.array(median, dtype=np.float64),
        np.array(mad, dtype=np.float64),
        None if location is None else np.array(location, dtype=np.float64),
        None if precision is None else np.array(precision, dtype=np.float64).reshape(k, k),
        offset,
    )
