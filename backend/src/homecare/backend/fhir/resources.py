"""FHIR R4 JSON for what the platform keeps: Patient, Observation (hourly vitals, each blood-pressure and glucose
reading), Device, Flag (open alarms),
MedicationStatement (doses taken or not), the search Bundle, OperationOutcome and the CapabilityStatement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from homecare.contracts.messages import Metric

FHIR_JSON: Final = "application/fhir+json"
FHIR_NDJSON: Final = "application/fhir+ndjson"
R4_PREFIX: Final = "/fhir/R4"
"""Where the R4 interface is served; every answer under it, errors too, is FHIR JSON."""
FHIR_VERSION: Final = "4.0.1"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/flag-category"
RESIDENT_SYSTEM: Final = "urn:homecare:resident"
DEVICE_SYSTEM: Final = "urn:homecare:device"
DEVICE_KIND_SYSTEM: Final = "urn:homecare:device-kind"
INCIDENT_CAUSE_SYSTEM: Final = "urn:homecare:incident-cause"
MEDICATION_SCHEDULE_SYSTEM: Final = "urn:homecare:medication-schedule"
DOSE_SYSTEM: Final = "urn:homecare:medication-dose"
PATIENT_EXPORT: Final = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
HOUR: Final = timedelta(hours=1)

Resource = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Vital:
    """How one stored metric is told as an Observation: its LOINC code, UCUM unit and category, and whether the
    hour's value is the mean of its readings or their sum (steps are counted per report)."""

    loinc: str
    display: str
    ucum: str
    unit: str
    category: str
    summed: bool = False
    text: str = ""
    """What the reading is in words when the LOINC display does not say it all (the glucose meal context)."""


VITALS: Final[dict[Metric, Vital]] = {
    Metric.HEART_RATE: Vital("8867-4", "Heart rate", "/min", "beats/minute", "vital-signs"),
    Metric.SPO2: Vital("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%", "vital-signs"),
    Metric.RESP_RATE: Vital("9279-1", "Respiratory rate", "/min", "breaths/minute", "vital-signs"),
    # The wristband measures the skin, not the body's core: 8310-5 (body temperature) would tell a clinic
    # 33 °C was hypothermia.
    Metric.SKIN_TEMP: Vital("39106-0", "Temperature of Skin", "Cel", "°C", "vital-signs"),
    Metric.STEPS: Vital(
        "55423-8", "Number of steps in unspecified time Pedometer", "{steps}", "steps", "activity", True
    ),
}
"""The metrics served as Observations; activity counts (no LOINC code) and location (never shared) are not."""

BLOOD_PRESSURE: Final = Vital(
    "85354-9", "Blood pressure panel with all children optional", "mm[Hg]", "mmHg", "vital-signs"
)
"""A cuff's measurement: one panel, its pressures (and the pulse it counted) as components."""
BLOOD_PRESSURE_COMPONENTS: Final[dict[Metric, Vital]] = {
    Metric.BP_SYSTOLIC: Vital("8480-6", "Systolic blood pressure", "mm[Hg]", "mmHg", "vital-signs"),
    Metric.BP_DIASTOLIC: Vital("8462-4", "Diastolic blood pressure", "mm[Hg]", "mmHg", "vital-signs"),
    Metric.BP_PULSE: VITALS[Metric.HEART_RATE],
}
_METER = "Glucose [Moles/volume] in Capillary blood by Glucometer"
GLUCOSE: Final[dict[Metric, Vital]] = {
    Metric.GLUCOSE_FASTING: Vital(
        "14770-2", "Fasting glucose [Moles/volume] in Capillary blood by Glucometer", "mmol/L", "mmol/L", "laboratory"
    ),
    Metric.GLUCOSE_BEFORE_MEAL: Vital(
        "14743-9", _METER, "mmol/L", "mmol/L", "laboratory", text="Glucose before a meal, capillary blood by meter"
    ),
    Metric.GLUCOSE_AFTER_MEAL: Vital(
        "14760-3", "Glucose [Moles/volume] in Capillary blood --2 hours post meal", "mmol/L", "mmol/L", "laboratory"
    ),
    Metric.GLUCOSE_RANDOM: Vital(
        "14743-9", _METER, "mmol/L", "mmol/L", "laboratory", text="Glucose at a random time, capillary blood by meter"
    ),
}
"""A glucose meter's reading by its meal context (the contract's ``meal``). The meter pricks a finger and the platform
keeps mmol/L, so the codes are LOINC's capillary-blood, moles-per-volume ones (a mass code such as 2339-0 would
need mg/dL): fasting (8 h without food) 14770-2, two hours after a meal 14760-3. LOINC has no capillary code for
"before a meal", so that reading and a random one are the meter's untimed 14743-9, the context in ``code.text``."""
HEALTH_CHECKS: Final[dict[Metric, Vital]] = {Metric.BP_SYSTOLIC: BLOOD_PRESSURE, **GLUCOSE}
"""The home health checks served one Observation per reading, by the metric that stands for the reading (a
blood pressure by its systolic value)."""

_OBSERVED: Final = {**VITALS, **HEALTH_CHECKS}
OBSERVATION_CODES: Final = {
    code: [metric for metric, vital in _OBSERVED.items() if vital.loinc == code]
    for code in dict.fromkeys(vital.loinc for vital in _OBSERVED.values())
}
"""The LOINC codes an Observation search takes, and the stored metrics each one stands for."""

ISSUE_TYPES: Final = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported"}
"""FHIR's IssueType for an HTTP status (``processing`` for another 4xx, ``exception`` for a 5xx)."""


def instant(at: datetime) -> str:
    """A FHIR instant (UTC, to the second or better)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reference(resident_id: int) -> dict[str, str]:
    return {"reference": f"Patient/{resident_id}"}


def patient(
    *,
    resident_id: int,
    external_ref: str | None,
    display_name: str,
    sex: str | None,
    birth_year: int | None,
    phone: str | None,
    address: str | None,
    updated_at: datetime,
) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": str(resident_id),
        "meta": {"lastUpdated": instant(updated_at)},
        "active": True,
        "name": [{"text": display_name}],
        "gender": sex or "unknown",
    }
    if external_ref is not None:
        resource["identifier"] = [{"system": RESIDENT_SYSTEM, "value": external_ref}]
    if birth_year is not None:
        resource["birthDate"] = f"{birth_year:04d}"
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "home"}]
    if address:
        resource["address"] = [{"use": "home", "text": address}]
    return resource


def _code(vital: Vital) -> Resource:
    return {
        "coding": [{"system": LOINC, "code": vital.loinc, "display": vital.display}],
        "text": vital.text or vital.display,
    }


def _quantity(vital: Vital, value: float) -> Resource:
    return {"value": round(value, 2), "unit": vital.unit, "system": UCUM, "code": vital.ucum}


def _category(vital: Vital) -> list[Resource]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": vital.category}]}]


def observation(
    *,
    resident_id: int,
    metric: int,
    at: datetime,
    n: int,
    total: float,
    device_id: int | None,
    readings: dict[str, float] | None,
) -> Resource:
    """An Observation of the rows the search reads: an hour of a vital sign, or a health check (``device_id`` and
    its ``readings`` given)."""
    if device_id is None or readings is None:
        return hourly_observation(resident_id=resident_id, metric=metric, hour=at, n=n, total=total)
    return health_check(
        resident_id=resident_id,
        device_id=device_id,
        taken_at=at,
        readings={Metric(int(code)): value for code, value in readings.items()},
    )


def health_check(*, resident_id: int, device_id: int, taken_at: datetime, readings: dict[Metric, float]) -> Resource:
    """One home health check as it was measured: a blood-pressure panel (systolic, diastolic and the cuff's pulse
    as components) or one glucose reading in mmol/L; last updated when it was taken."""
    metric = Metric.BP_SYSTOLIC if Metric.BP_SYSTOLIC in readings else next(iter(readings))
    vital = HEALTH_CHECKS[metric]
    resource: Resource = {
        "resourceType": "Observation",
        "id": f"{resident_id}-{int(metric)}-{device_id}-{int(taken_at.timestamp() * 1000)}",
        "meta": {"lastUpdated": instant(taken_at)},
        "status": "final",
        "category": _category(vital),
        "code": _code(vital),
        "subject": reference(resident_id),
        "effectiveDateTime": instant(taken_at),
        "device": {"reference": f"Device/{device_id}"},
    }
    if metric is Metric.BP_SYSTOLIC:
        resource["component"] = [
            {"code": _code(part), "valueQuantity": _quantity(part, readings[component])}
            for component, part in BLOOD_PRESSURE_COMPONENTS.items()
            if component in readings
        ]
    else:
        resource["valueQuantity"] = _quantity(vital, readings[metric])
    return resource


def hourly_observation(*, resident_id: int, metric: int, hour: datetime, n: int, total: float) -> Resource:
    """One hour of one vital sign (``metric``: its stored code): its mean (steps: their sum) over the hour's
    readings; the hour is its period, and its end is when it was last updated."""
    vital = VITALS[Metric(metric)]
    value = total if vital.summed else total / n
    return {
        "resourceType": "Observation",
        "id": f"{resident_id}-{metric}-{int(hour.timestamp()) // 3600}",
        "meta": {"lastUpdated": instant(hour + HOUR)},
        "status": "final",
        "category": _category(vital),
        "code": _code(vital),
        "subject": reference(resident_id),
        "effectivePeriod": {"start": instant(hour), "end": instant(hour + HOUR)},
        "valueQuantity": _quantity(vital, value),
    }


def device(
    *, device_id: int, uid: str, kind: str, resident_id: int, enrolled_at: datetime, revoked_at: datetime | None
) -> Resource:
    return {
        "resourceType": "Device",
        "id": str(device_id),
        "meta": {"lastUpdated": instant(revoked_at or enrolled_at)},
        "identifier": [{"system": DEVICE_SYSTEM, "value": uid}],
        "status": "inactive" if revoked_at is not None else "active",
        "type": {"coding": [{"system": DEVICE_KIND_SYSTEM, "code": kind}], "text": kind.replace("_", " ")},
        "patient": reference(resident_id),
    }


def flag(
    *, incident_id: int, resident_id: int, cause: str, explanation: str, since: datetime, changed_at: datetime
) -> Resource:
    """An open alarm: active from when it reached the operators until it is resolved."""
    return {
        "resourceType": "Flag",
        "id": str(incident_id),
        "meta": {"lastUpdated": instant(changed_at)},
        "status": "active",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "safety", "display": "Safety"}]}],
        "code": {"coding": [{"system": INCIDENT_CAUSE_SYSTEM, "code": cause}], "text": explanation},
        "subject": reference(resident_id),
        "period": {"start": instant(since)},
    }


def medication_statement(
    *,
    dose_id: int,
    resident_id: int,
    schedule_id: int,
    medicine: str,
    dose: str,
    with_food: bool | None,
    due_at: datetime,
    confirmed_at: datetime | None,
    confirmed_by: str | None,
    changed_at: datetime,
) -> Resource:
    """One scheduled dose as adherence: ``completed`` when the resident's button or the pill dispenser confirmed it,
    ``not-taken`` once its confirmation window passed without one."""
    food = "" if with_food is None else (", with food" if with_food else ", without food")
    statement: Resource = {
        "resourceType": "MedicationStatement",
        "id": str(dose_id),
        "meta": {"lastUpdated": instant(changed_at)},
        "identifier": [{"system": DOSE_SYSTEM, "value": str(dose_id)}],
        "status": "completed" if confirmed_at is not None else "not-taken",
        "medicationCodeableConcept": {"text": medicine},
        "subject": reference(resident_id),
        "effectiveDateTime": instant(due_at),
        "dateAsserted": instant(changed_at),
        "basedOn": [{"identifier": {"system": MEDICATION_SCHEDULE_SYSTEM, "value": str(schedule_id)}}],
        "dosage": [{"text": f"{dose}{food}"}],
    }
    if confirmed_at is None:
        statement["statusReason"] = [{"text": "not confirmed taken within the confirmation window"}]
    else:
        how = "the pill dispenser" if confirmed_by == "pill_dispenser" else "the home unit's button"
        statement["note"] = [{"text": f"confirmed taken at {instant(confirmed_at)} by {how}"}]
    return statement


def bundle(resources: list[Resource], *, base: str, self_url: str, next_url: str | None) -> Resource:
    """A searchset Bundle of one page; ``next`` links the following page when there is one."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def operation_outcome(status: int, diagnostics: str) -> Resource:
    """The answer to a request that failed: one error issue naming the problem."""
    code = ISSUE_TYPES.get(status, "exception" if status >= 500 else "processing")
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def capability_statement(
    *, base: str, published: datetime, searches: dict[str, list[tuple[str, str, str]]]
) -> Resource:
    """What this server does: read-only, JSON, the resources and search parameters in ``searches`` (per resource
    type: name, type, documentation), clinic bearer tokens from ``/fhir/token``."""
    token_url = base.removesuffix("/R4") + "/token"
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "publisher": "homecare",
        "kind": "instance",
        "software": {"name": "homecare"},
        "implementation": {"description": "homecare FHIR R4 interface (read-only)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ],
                    "description": f"OAuth2 client credentials: POST {token_url} (a clinic's client id and "
                    "secret) gives a bearer token; only residents who consented to share with that clinic are "
                    "visible.",
                },
                "resource": [
                    {
                        "type": resource_type,
                        "interaction": [{"code": "search-type"}]
                        + ([{"code": "read"}] if resource_type == "Patient" else []),
                        "searchParam": [
                            {"name": name, "type": kind, "documentation": doc} for name, kind, doc in params
                        ],
                    }
                    | (
                        {"operation": [{"name": "export", "definition": PATIENT_EXPORT}]}
                        if resource_type == "Patient"
                        else {}
                    )
                    for resource_type, params in searches.items()
                ],
            }
        ],
    }
