"""What every API input is checked against at the boundary: storable text, database ids, instants and days.

PostgreSQL refuses NUL in text, UTF-8 cannot carry a lone surrogate, an ``int`` column holds 32 bits, and a
``timestamptz`` takes offsets up to 15:59 and years far from Python's limits. Each rule is one annotated type here,
used by every request model and route parameter, so bad input is a 422 naming the field rather than a 500 from the
database. Give every ``Text`` a ``max_length`` where it is used: what is too long depends on the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Final, TypeVar

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

INT4_MAX: Final = 2**31 - 1
INT8_MAX: Final = 2**63 - 1
EARLIEST_DAY: Final = date(2000, 1, 1)
LATEST_DAY: Final = date(2199, 12, 31)
"""The days the platform speaks of: its data starts this century, and day arithmetic stays far from year 9999."""


Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
"""Text the database can store: no NUL (a lone surrogate fails every pattern: it is not Unicode). Pair it with
``Field(max_length=…)``. The check is a pattern, not a validator, so that length limits keep their own error types
(string_too_long), which the pages word in the reader's language. A field with a pattern of its own is a plain
``str`` whose pattern excludes NUL (Text's pattern would take the place of the field's)."""

RowId = Annotated[int, Field(ge=1, le=INT4_MAX)]
"""The id of a row with a 32-bit key: residents, devices, stations, users, contacts."""
BigRowId = Annotated[int, Field(ge=1, le=INT8_MAX)]
"""The id of a row with a 64-bit key: incidents, station tasks, notifications."""
Cursor = Annotated[int, Field(ge=0, le=INT8_MAX)]
"""A position in an ordered feed (0: from the start)."""


def _in_range(day: date) -> None:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise PydanticCustomError(
            "date_out_of_range",
            "dates run from {earliest} to {latest}",
            {"earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat()},
        )


def _utc_instant(value: datetime) -> datetime:
    _in_range(value.date())
    # Any offset Python accepts (up to ±23:59) is a valid way to name an instant; the database sees UTC.
    return value.astimezone(UTC)


def _day(value: date) -> date:
    _in_range(value)
    return value


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise PydanticCustomError("time_has_offset", "a local time of day has no UTC offset, e.g. 08:00")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_utc_instant)]
"""A moment, ISO-8601 with its offset, given back in UTC."""
Day = Annotated[date, AfterValidator(_day)]
"""A calendar day between EARLIEST_DAY and LATEST_DAY."""
LocalTime = Annotated[time, AfterValidator(_local_time)]
"""A time of day on the local clock (opening hours), without an offset."""

T = TypeVar("T")


def _not_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("not_null", "leave the field out to keep it; it cannot be null")
    return value


NotNull = Annotated[T | None, BeforeValidator(_not_null)]
"""A field of a partial update that may be left out (None: unchanged) but not sent as null."""
