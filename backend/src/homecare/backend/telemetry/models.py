"""Response models and vocabulary of the vitals read API."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from homecare.contracts.messages import METRIC_UNITS, Metric


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]

METRIC_NAMES: Final[dict[str, Metric]] = {metric.name.lower(): metric for metric in Metric}


def metric_name(metric: Metric) -> str:
    return metric.name.lower()


class Resolution(enum.StrEnum):
    """Rollup bucket width."""

    MINUTE = "1m"
    HOUR = "1h"

    @property
    def step(self) -> timedelta:
        return timedelta(minutes=1) if self is Resolution.MINUTE else timedelta(hours=1)

    @property
    def max_span(self) -> timedelta:
        """The longest range one request may ask for at this resolution."""
        return timedelta(days=7) if self is Resolution.MINUTE else timedelta(days=400)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LatestValue(_Model):
    """The most recent value of one metric."""

    metric: str = Field(examples=["heart_rate"])
    unit: str
    value: float
    ts: UtcDatetime
    device_id: int


class RawPoint(_Model):
    """One stored data point."""

    metric: str
    ts: UtcDatetime
    value: float
    device_id: int


class RecentVitals(_Model):
    """The latest value of each metric, and the raw points since a time."""

    resident_id: int
    since: UtcDatetime
    latest: list[LatestValue] = Field(description="Latest value per metric within the last 24 h.")
    points: list[RawPoint] = Field(description="Raw points since `since`, oldest first.")
    truncated: bool = Field(description="True when more points exist than were returned.")


class RollupBucket(_Model):
    """Aggregates of one metric over one bucket."""

    bucket: UtcDatetime = Field(description="Start of the bucket (UTC).")
    avg: float
    min: float
    max: float
    n: int


class Rollups(_Model):
    """A metric's rollups over a range, one entry per bucket that has data."""

    resident_id: int
    metric: str
    unit: str
    resolution: Resolution
    start: UtcDatetime = Field(description="Start of the first bucket asked for (start, floored to the resolution).")
    end: UtcDatetime
    buckets: list[RollupBucket]


def unit_of(metric: Metric) -> str:
    return METRIC_UNITS[metric]
