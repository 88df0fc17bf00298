"""FHIR search parameters: which each resource type serves, and their values read into a Search (or refused,
naming the parameter)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

from homecare.backend.fhir import InvalidSearch, ResourceNotFound
from homecare.backend.fhir.models import Period
from homecare.backend.fhir.resources import HEALTH_CHECKS, LOINC, OBSERVATION_CODES, VITALS
from homecare.backend.inputs import EARLIEST_DAY, INT4_MAX, LATEST_DAY
from homecare.contracts.messages import Metric

PATIENT_PARAM: Final = ("patient", "reference", "Patient/{id} or {id}; several comma-separated")
SEARCHES: Final[dict[str, list[tuple[str, str, str]]]] = {
    "Patient": [("_lastUpdated", "date", "when the resident's details last changed")],
    "Observation": [
        PATIENT_PARAM,
        (
            "code",
            "token",
            "LOINC, several comma-separated: "
            + ", ".join(dict.fromkeys(f"{v.loinc} {v.display}" for v in [*VITALS.values(), *HEALTH_CHECKS.values()])),
        ),
        ("date", "date", "the start of a vital sign's hour, or when a health check was taken"),
        ("_lastUpdated", "date", "the end of a vital sign's hour, or when a health check was taken"),
    ],
    "Device": [PATIENT_PARAM],
    "Flag": [PATIENT_PARAM],
    "MedicationStatement": [
        PATIENT_PARAM,
        ("_lastUpdated", "date", "when the dose was confirmed taken, or found not taken"),
    ],
}
"""Per resource type: the search parameters it serves (name, FHIR type, what it matches)."""
PAGING: Final = frozenset({"_count", "_offset", "_format"})
DEFAULT_COUNT: Final = 100
MAX_COUNT: Final = 1000
MAX_OFFSET: Final = 1_000_000_000
JSON_FORMATS: Final = frozenset({"json", "application/json", "application/fhir+json"})
DATE_PREFIXES: Final = ("eq", "ge", "gt", "le", "lt")
_DATE = re.compile(
    r"(?P<prefix>[a-z]{2})?(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?P<time>T\d{2}:\d{2}(?P<seconds>:\d{2}(?P<fraction>\.\d{1,6})?)?(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


ALWAYS: Final = Period()
"""A date parameter not given: no bound on either side."""


@dataclass(frozen=True, slots=True)
class Search:
    """A search's values; ``patients`` and ``codes`` are None when not asked for (all of them)."""

    patients: list[int] | None = None
    codes: list[Metric] | None = None
    date: Period = ALWAYS
    last_updated: Period = ALWAYS
    count: int = DEFAULT_COUNT
    offset: int = 0


def _implicit_range(text: str, zone: tzinfo) -> tuple[str, datetime, datetime]:
    """A date parameter's prefix and the instants its value covers (a day covers the whole day, in ``zone`` when
    the value has no offset, as FHIR asks of a server)."""
    match = _DATE.fullmatch(text.replace(" ", "+"))  # an unescaped + in a query string arrives as a space
    if match is None:
        raise InvalidSearch(f"{text!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with an offset)")
    prefix = match["prefix"] or "eq"
    if prefix not in DATE_PREFIXES:
        raise InvalidSearch(f"the date prefix {prefix!r} is not served; use one of {', '.join(DATE_PREFIXES)}")
    year = int(match["year"])
    if not EARLIEST_DAY.year <= year <= LATEST_DAY.year:
        raise InvalidSearch(f"dates run from {EARLIEST_DAY} to {LATEST_DAY}, not {text!r}")
    try:
        if match["time"] is not None:
            start = datetime.fromisoformat(text.replace(" ", "+")[len(match["prefix"] or "") :])
            start = start if start.tzinfo is not None else start.replace(tzinfo=zone)
            step = (
                timedelta(microseconds=1)
                if match["fraction"]
                else timedelta(seconds=1)
                if match["seconds"]
                else timedelta(minutes=1)
            )
            end = start + step
        elif match["day"] is not None:
            day = date(year, int(match["month"]), int(match["day"]))
            start = datetime.combine(day, datetime.min.time(), zone)
            end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        elif match["month"] is not None:
            month = int(match["month"])
            start = datetime(year, month, 1, tzinfo=zone)
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
        else:
            start, end = datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
    except ValueError as err:
        raise InvalidSearch(f"{text!r} is not a date that exists") from err
    return prefix, start.astimezone(UTC), end.astimezone(UTC)


def date_period(name: str, values: list[str], zone: tzinfo) -> Period:
    """What all of a date parameter's values allow together (each one narrows it)."""
    period = Period()
    for value in values:
        try:
            prefix, start, end = _implicit_range(value, zone)
        except InvalidSearch as err:
            raise InvalidSearch(f"{name}: {err}") from err
        period &= {
            "eq": Period(start, end),
            "ge": Period(start=start),
            "gt": Period(start=end),
            "le": Period(end=end),
            "lt": Period(end=start),
        }[prefix]
    return period


def patient_ids(value: str) -> list[int]:
    """The residents a patient reference names; an id no resident can have is a Patient that does not exist."""
    ids = []
    for item in value.split(","):
        resource_type, _, resource_id = item.rpartition("/")
        if resource_type not in ("", "Patient"):
            raise InvalidSearch(f"patient must be a Patient reference (Patient/{{id}} or {{id}}), not {item!r}")
        ids.append(patient_id(resource_id))
    return ids


def patient_id(resource_id: str) -> int:
    """The resident a Patient id stands for; ResourceNotFound when no resident can have it."""
    if not resource_id.isascii() or not resource_id.isdigit() or not 1 <= int(resource_id) <= INT4_MAX:
        raise ResourceNotFound(f"Patient/{resource_id}")
    return int(resource_id)


def vital_codes(value: str) -> list[Metric]:
    metrics = []
    for item in value.split(","):
        system, bar, code = item.rpartition("|")
        if bar and system != LOINC:
            raise InvalidSearch(f"code: the system must be {LOINC}, not {system!r}")
        if code not in OBSERVATION_CODES:
            raise InvalidSearch(f"code: {code!r} is not served; the LOINC codes are {', '.join(OBSERVATION_CODES)}")
        metrics += OBSERVATION_CODES[code]
    return metrics


def _number(name: str, value: str, low: int, high: int) -> int:
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise InvalidSearch(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)


def parse_search(resource_type: str, params: list[tuple[str, str]], *, zone: tzinfo) -> Search:
    """The search the query asks for; InvalidSearch names a parameter this resource type does not serve, one
    given twice that may be given once, or a value that is not understood."""
    served = {name for name, _, _ in SEARCHES[resource_type]}
    values: dict[str, list[str]] = {}
    for name, value in params:
        if name not in served and name not in PAGING:
            raise InvalidSearch(
                f"{resource_type} has no search parameter {name!r}; it serves {', '.join(sorted(served | PAGING))}"
            )
        if not value:
            raise InvalidSearch(f"{name} is empty")
        if "\x00" in value:
            raise InvalidSearch(f"{name} holds a NUL character")
        values.setdefault(name, []).append(value)
    for name, given in values.items():
        if len(given) > 1 and name not in ("date", "_lastUpdated"):
            raise InvalidSearch(f"{name} is given more than once (comma-separate several values)")
    if "_format" in values and values["_format"][0] not in JSON_FORMATS:
        raise InvalidSearch(f"_format: this server answers only {', '.join(sorted(JSON_FORMATS))}")
    return Search(
        patients=patient_ids(values["patient"][0]) if "patient" in values else None,
        codes=vital_codes(values["code"][0]) if "code" in values else None,
        date=date_period("date", values.get("date", []), zone),
        last_updated=date_period("_lastUpdated", values.get("_lastUpdated", []), zone),
        count=_number("_count", values["_count"][0], 1, MAX_COUNT) if "_count" in values else DEFAULT_COUNT,
        offset=_number("_offset", values["_offset"][0], 0, MAX_OFFSET) if "_offset" in values else 0,
    )


EXPORT_TYPES: Final = ("Patient", "Device", "Flag", "Observation", "MedicationStatement")
PERIODIC: Final = frozenset({"Observation", "MedicationStatement"})
"""The exported types read by when they were last updated (the others are exported whole)."""
NDJSON_FORMATS: Final = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})


@dataclass(frozen=True, slots=True)
class Export:
    """A bulk export: which resource types, and the period whose Observations it holds (by when they were last
    updated: ``_since`` inclusive, ``_until`` exclusive)."""

    types: list[str]
    period: Period


def parse_export(params: list[tuple[str, str]], *, zone: tzinfo) -> Export:
    """The export the query asks for; InvalidSearch names what is not served."""
    values: dict[str, str] = {}
    for name, value in params:
        if name not in ("_since", "_until", "_type", "_outputFormat"):
            raise InvalidSearch(f"$export has no parameter {name!r}; it serves _since, _until, _type, _outputFormat")
        if name in values:
            raise InvalidSearch(f"{name} is given more than once")
        if not value or "\x00" in value:
            raise InvalidSearch(f"{name} is empty or holds a NUL character")
        values[name] = value
    if values.get("_outputFormat", "ndjson") not in NDJSON_FORMATS:
        raise InvalidSearch(f"_outputFormat: this server exports only {', '.join(sorted(NDJSON_FORMATS))}")
    types = values["_type"].split(",") if "_type" in values else list(EXPORT_TYPES)
    for resource_type in types:
        if resource_type not in EXPORT_TYPES:
            raise InvalidSearch(f"_type: {resource_type!r} is not exported; the types are {', '.join(EXPORT_TYPES)}")
    since = date_period("_since", ["ge" + values["_since"]], zone) if "_since" in values else ALWAYS
    until = date_period("_until", ["lt" + values["_until"]], zone) if "_until" in values else ALWAYS
    return Export(types, since & until)
