"""Every message that crosses the wire between a device and the platform, as frozen pydantic models."""

from __future__ import annotations

import enum
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Final = 1

DeviceId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]{2,63}$",
        description="The device's enrolled id: 3–64 lowercase letters, digits or '-'; also its MQTT client id.",
        examples=["wr-000123"],
    ),
]
Seq = Annotated[
    int,
    Field(
        ge=0,
        le=2**63 - 1,
        description="Per-device sequence number, shared by every uplink message of the device; "
        "it only grows (also across reboots: persist it). A resent message keeps its seq.",
    ),
]
EpochMillis = Annotated[
    int,
    Field(
        ge=1_500_000_000_000,
        le=4_102_444_800_000,
        description="Device clock, milliseconds since 1970-01-01T00:00:00Z (UTC, no leap seconds).",
    ),
]


def _storable(value: str) -> str:
    """Text every store and log can keep: PostgreSQL refuses NUL, and UTF-8 cannot carry a lone surrogate."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000)")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("must not contain a lone surrogate") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]
"""Every free text on the wire: no NUL, no lone surrogate (its length is set where it is used)."""


class DeviceKind(enum.StrEnum):
    """The kinds of device the platform enrols; the value is stored with the device."""

    WRISTBAND = "wristband"
    SOS_PENDANT = "sos_pendant"
    FALL_SENSOR = "fall_sensor"
    DOOR_SENSOR = "door_sensor"
    BED_SENSOR = "bed_sensor"
    MOTION_SENSOR = "motion_sensor"
    HOME_UNIT = "home_unit"
    SMOKE_SENSOR = "smoke_sensor"
    WATER_SENSOR = "water_sensor"
    BLOOD_PRESSURE_MONITOR = "blood_pressure_monitor"
    GLUCOSE_METER = "glucose_meter"
    GPS_WATCH = "gps_watch"
    PILL_DISPENSER = "pill_dispenser"


FALL_TRIGGER_DEVICES: Final = frozenset({DeviceKind.WRISTBAND, DeviceKind.SOS_PENDANT})
"""Wearables with an IMU and a fall trigger: they send a `fall_detected` pre-alarm, then its IMU burst."""


class _Message(BaseModel):
    """Wire messages are immutable and reject unknown fields, so a typo is an error, not silence."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, use_enum_values=False)


class Envelope(_Message):
    """The fields every uplink message starts with."""

    v: Literal[1] = Field(description="Schema version of this message.")
    device_id: DeviceId
    seq: Seq
    ts: EpochMillis


# ---------------------------------------------------------------------------------------------------
# Telemetry
# ---------------------------------------------------------------------------------------------------


class Metric(enum.IntEnum):
    """Stored telemetry quantities; the integer is the storage code and never changes meaning."""

    HEART_RATE = 1
    SPO2 = 2
    SKIN_TEMP = 3
    RESP_RATE = 4
    STEPS = 5
    ACTIVITY = 6
    LATITUDE = 7
    LONGITUDE = 8
    LOCATION_ACCURACY = 9
    BP_SYSTOLIC = 10
    BP_DIASTOLIC = 11
    BP_PULSE = 12
    GLUCOSE_FASTING = 13
    GLUCOSE_BEFORE_MEAL = 14
    GLUCOSE_AFTER_MEAL = 15
    GLUCOSE_RANDOM = 16


METRIC_UNITS: Final[dict[Metric, str]] = {
    Metric.HEART_RATE: "beats/min",
    Metric.SPO2: "%",
    Metric.SKIN_TEMP: "°C",
    Metric.RESP_RATE: "breaths/min",
    Metric.STEPS: "steps",
    Metric.ACTIVITY: "activity counts/min",
    Metric.LATITUDE: "degrees (WGS-84)",
    Metric.LONGITUDE: "degrees (WGS-84)",
    Metric.LOCATION_ACCURACY: "m",
    Metric.BP_SYSTOLIC: "mmHg",
    Metric.BP_DIASTOLIC: "mmHg",
    Metric.BP_PULSE: "beats/min",
    Metric.GLUCOSE_FASTING: "mmol/L",
    Metric.GLUCOSE_BEFORE_MEAL: "mmol/L",
    Metric.GLUCOSE_AFTER_MEAL: "mmol/L",
    Metric.GLUCOSE_RANDOM: "mmol/L",
}


class Location(_Message):
    """A position fix (GNSS or Wi-Fi), WGS-84; the platform converts to GCJ-02 only for display."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class Telemetry(Envelope):
    """Periodic vital signs and activity from a wearable. Every present value is one stored data point."""

    heart_rate: int | None = Field(default=None, ge=20, le=250, description="beats/min")
    spo2: int | None = Field(default=None, ge=50, le=100, description="oxygen saturation, %")
    skin_temp: float | None = Field(default=None, ge=25, le=45, description="skin temperature, °C")
    resp_rate: int | None = Field(default=None, ge=3, le=70, description="breaths/min")
    steps: int | None = Field(default=None, ge=0, le=100_000, description="steps since the previous report")
    activity: int | None = Field(default=None, ge=0, le=100_000, description="accelerometer activity counts per minute")
    location: Location | None = None

    @model_validator(mode="after")
    def _has_a_reading(self) -> Telemetry:
        # Spelled out rather than looped: this runs for every message at the gateway's full rate.
        if (
            self.heart_rate is None
            and self.spo2 is None
            and self.skin_temp is None
            and self.resp_rate is None
            and self.steps is None
            and self.activity is None
            and self.location is None
        ):
            raise ValueError("telemetry carries no reading")
        return self

    def points(self) -> list[tuple[Metric, float]]:
        """The message's data points, one per present value, in storage codes."""
        points: list[tuple[Metric, float]] = []
        for metric, value in (
            (Metric.HEART_RATE, self.heart_rate),
            (Metric.SPO2, self.spo2),
            (Metric.SKIN_TEMP, self.skin_temp),
            (Metric.RESP_RATE, self.resp_rate),
            (Metric.STEPS, self.steps),
            (Metric.ACTIVITY, self.activity),
        ):
            if value is not None:
                points.append((metric, float(value)))
        if self.location is not None:
            points.append((Metric.LATITUDE, self.location.lat))
            points.append((Metric.LONGITUDE, self.location.lon))
            if self.location.accuracy_m is not None:
                points.append((Metric.LOCATION_ACCURACY, self.location.accuracy_m))
        return points


# ---------------------------------------------------------------------------------------------------
# Home health checks: one message per measurement
# ---------------------------------------------------------------------------------------------------


class MealContext(enum.StrEnum):
    """When a glucose reading was taken, relative to a meal; each context is a series of its own."""

    FASTING = "fasting"
    BEFORE_MEAL = "before_meal"
    AFTER_MEAL = "after_meal"
    RANDOM = "random"


GLUCOSE_METRICS: Final[dict[MealContext, Metric]] = {
    MealContext.FASTING: Metric.GLUCOSE_FASTING,
    MealContext.BEFORE_MEAL: Metric.GLUCOSE_BEFORE_MEAL,
    MealContext.AFTER_MEAL: Metric.GLUCOSE_AFTER_MEAL,
    MealContext.RANDOM: Metric.GLUCOSE_RANDOM,
}
BLOOD_PRESSURE_METRICS: Final = (Metric.BP_SYSTOLIC, Metric.BP_DIASTOLIC, Metric.BP_PULSE)
HEALTH_CHECK_METRICS: Final = frozenset({Metric.BP_SYSTOLIC, *GLUCOSE_METRICS.values()})
"""One of these stored means the resident had a health check (a blood-pressure or glucose measurement)."""

MG_DL_PER_MMOL_L: Final = 18.016
"""Glucose (180.16 g/mol): 1 mmol/L is 18.016 mg/dL."""
GLUCOSE_RANGES: Final[dict[str, tuple[float, float]]] = {"mg/dL": (10, 1000), "mmol/L": (0.6, 55.5)}
"""What a glucose meter can physically report, per unit: outside it is a wrong unit or a broken strip."""


class BloodPressure(_Message):
    """One cuff measurement (oscillometric): systolic over diastolic, with the pulse the cuff counted."""

    systolic: int = Field(ge=40, le=300, description="mmHg")
    diastolic: int = Field(ge=20, le=200, description="mmHg")
    pulse: int | None = Field(default=None, ge=20, le=250, description="beats/min, when the cuff counted it")
    unit: Literal["mmHg"] = Field(description="Pressures are in mmHg (a cuff showing kPa still sends mmHg).")

    @model_validator(mode="after")
    def _systolic_above_diastolic(self) -> BloodPressure:
        if self.diastolic >= self.systolic:
            raise ValueError("diastolic must be below systolic")
        return self


class Glucose(_Message):
    """One capillary blood glucose reading, in the unit the meter shows; stored in mmol/L."""

    value: float = Field(gt=0, description="In `unit`.")
    unit: Literal["mg/dL", "mmol/L"]
    meal: MealContext = Field(description="Fasting (8 h without food), before a meal, after one (2 h), or random.")

    @model_validator(mode="after")
    def _physical(self) -> Glucose:
        low, high = GLUCOSE_RANGES[self.unit]
        if not low <= self.value <= high:
            hint = " (a reading in mg/dL must say so)" if self.unit == "mmol/L" else ""
            raise ValueError(f"{self.value:g} {self.unit} is out of range {low:g}–{high:g} {self.unit}{hint}")
        return self

    @property
    def mmol_per_l(self) -> float:
        """The reading in the stored unit, to 0.1 mmol/L as meters show it (so 70 mg/dL is 3.9 and 69 is 3.8)."""
        value = self.value if self.unit == "mmol/L" else self.value / MG_DL_PER_MMOL_L
        return round(value, 1)


class Measurement(Envelope):
    """One home health check from a blood-pressure monitor or a glucose meter: exactly one reading."""

    blood_pressure: BloodPressure | None = None
    glucose: Glucose | None = None

    @model_validator(mode="after")
    def _one_reading(self) -> Measurement:
        if (self.blood_pressure is None) == (self.glucose is None):
            raise ValueError("a measurement carries exactly one of blood_pressure and glucose")
        return self

    def points(self) -> list[tuple[Metric, float]]:
        """The measurement's data points in storage codes (glucose in mmol/L, in its meal context's series)."""
        if self.glucose is not None:
            return [(GLUCOSE_METRICS[self.glucose.meal], self.glucose.mmol_per_l)]
        bp = self.blood_pressure
        assert bp is not None
        points = [(Metric.BP_SYSTOLIC, float(bp.systolic)), (Metric.BP_DIASTOLIC, float(bp.diastolic))]
        if bp.pulse is not None:
            points.append((Metric.BP_PULSE, float(bp.pulse)))
        return points


# ---------------------------------------------------------------------------------------------------
# Location fixes: the GPS watch
# ---------------------------------------------------------------------------------------------------


class FixSource(enum.StrEnum):
    """How the watch found its position: satellites, nearby Wi-Fi access points, or the mobile cell."""

    GNSS = "gnss"
    WIFI = "wifi"
    CELL = "cell"


class Fix(_Message):
    """One position, WGS-84 (the platform converts for display only), with the radius it is good to."""

    lat: float = Field(ge=-90, le=90, description="Latitude, degrees (WGS-84).")
    lon: float = Field(ge=-180, le=180, description="Longitude, degrees (WGS-84).")
    accuracy_m: float = Field(
        gt=0, le=10_000, description="Radius of 68 % confidence, metres; 0 is no fix (send nothing instead)."
    )
    source: FixSource


class LocationFix(Envelope):
    """A GPS watch's position report: every few minutes when still, every 15–30 s when moving or in an alarm."""

    fix: Fix
    moving: bool = Field(default=False, description="Whether the watch's accelerometer says its wearer is walking.")
    battery: int | None = Field(default=None, ge=0, le=100, description="Battery charge, %, when the fix was taken.")


# ---------------------------------------------------------------------------------------------------
# Raw IMU bursts
# ---------------------------------------------------------------------------------------------------

MAX_IMU_SAMPLES: Final = 3000
Int16 = Annotated[int, Field(ge=-32768, le=32767)]
Axis3 = tuple[Int16, Int16, Int16]


class ImuBurst(Envelope):
    """Raw accelerometer (and gyroscope) samples around a suspected fall, for server-side confirmation, from a
    wearable with a fall trigger (a wristband or an SOS pendant)."""

    event_seq: Seq = Field(description="seq of the `fall_detected` event this burst belongs to.")
    t0: EpochMillis = Field(description="Device time of the first sample.")
    fs: float = Field(
        gt=10, le=400, description="Sample rate in Hz (50 recommended; the fall models judge 20 Hz and more)."
    )
    acc: list[Axis3] = Field(
        min_length=10,
        max_length=MAX_IMU_SAMPLES,
        description="Acceleration per sample in milli-g, device axes in any orientation, gravity included "
        "(the fall models judge bursts of 2 s and more).",
    )
    gyr: list[Axis3] | None = Field(
        default=None,
        max_length=MAX_IMU_SAMPLES,
        description="Angular rate per sample in 0.1 deg/s; omit when the device has no gyroscope.",
    )
    acc_full_scale_mg: int = Field(
        default=16000, ge=1000, le=32000, description="Accelerometer full scale in milli-g (clipping level)."
    )

    @model_validator(mode="after")
    def _same_length(self) -> ImuBurst:
        if self.gyr is not None and len(self.gyr) != len(self.acc):
            raise ValueError("gyr and acc must have the same number of samples")
        return self


# ---------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------


class EventKind(enum.StrEnum):
    """What a device reports happened. Alarm kinds wake an operator; the others inform detectors."""

    FALL_DETECTED = "fall_detected"
    SOS = "sos"
    IM_OK = "im_ok"
    DOOR_OPEN = "door_open"
    DOOR_CLOSED = "door_closed"
    BED_EXIT = "bed_exit"
    BED_RETURN = "bed_return"
    MOTION = "motion"
    SMOKE = "smoke"
    WATER_LEAK = "water_leak"
    WEARABLE_REMOVED = "wearable_removed"
    WEARABLE_WORN = "wearable_worn"
    CARER_PRESENT = "carer_present"
    DOSE_TAKEN = "dose_taken"


class Priority(enum.IntEnum):
    """SCAIP-style priorities: 1 is the most urgent."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4
    INFO = 5


ALARM_KINDS: Final = frozenset({EventKind.FALL_DETECTED, EventKind.SOS, EventKind.SMOKE, EventKind.WATER_LEAK})

DEFAULT_PRIORITY: Final[dict[EventKind, Priority]] = {
    EventKind.SOS: Priority.CRITICAL,
    EventKind.FALL_DETECTED: Priority.CRITICAL,
    EventKind.SMOKE: Priority.CRITICAL,
    EventKind.WATER_LEAK: Priority.HIGH,
    EventKind.IM_OK: Priority.HIGH,
    EventKind.WEARABLE_REMOVED: Priority.LOW,
    EventKind.WEARABLE_WORN: Priority.INFO,
    EventKind.DOOR_OPEN: Priority.INFO,
    EventKind.DOOR_CLOSED: Priority.INFO,
    EventKind.BED_EXIT: Priority.INFO,
    EventKind.BED_RETURN: Priority.INFO,
    EventKind.MOTION: Priority.INFO,
    EventKind.CARER_PRESENT: Priority.INFO,
    EventKind.DOSE_TAKEN: Priority.INFO,
}


CarerCode = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{6}$",
        description="A carer's code (six digits), issued by the platform; the home unit sends it as typed.",
        examples=["428193"],
    ),
]


class Event(Envelope):
    """Something happened at the device. Every event is acknowledged by the platform once stored."""

    kind: EventKind
    room: Text | None = Field(default=None, max_length=40, description="Where, for home sensors.")
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="The device's own confidence, for fall_detected."
    )
    cancels_seq: Seq | None = Field(default=None, description="For im_ok: seq of the alarm the resident cancels.")
    carer_code: CarerCode | None = Field(
        default=None, description="For carer_present (home units): the code the carer typed or scanned."
    )
    fix: Fix | None = Field(default=None, description="For sos and fall_detected from a GPS watch: its last fix.")
    schedule_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="For dose_taken: the medication schedule of the dose, as the `dose_reminder` command named "
        "it (or as the pill dispenser was loaded).",
    )
    dose_due: EpochMillis | None = Field(
        default=None, description="For dose_taken: the time the dose was due, as the `dose_reminder` named it."
    )

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> Event:
        if (self.kind is EventKind.IM_OK) != (self.cancels_seq is not None):
            raise ValueError("cancels_seq is required for im_ok and allowed only there")
        if (self.kind is EventKind.CARER_PRESENT) != (self.carer_code is not None):
            raise ValueError("carer_code is required for carer_present and allowed only there")
        if self.fix is not None and self.kind not in (EventKind.SOS, EventKind.FALL_DETECTED):
            raise ValueError("fix is allowed only on sos and fall_detected")
        named = (self.schedule_id is not None, self.dose_due is not None)
        if named != ((self.kind is EventKind.DOSE_TAKEN),) * 2:
            raise ValueError("schedule_id and dose_due are required for dose_taken and allowed only there")
        return self


# ---------------------------------------------------------------------------------------------------
# Status: heartbeat and presence
# ---------------------------------------------------------------------------------------------------


class Heartbeat(Envelope):
    """Periodic device health, sent every `heartbeat_interval_s` (set by the platform's config command)."""

    battery: int = Field(ge=0, le=100, description="Battery charge, %.")
    charging: bool = False
    rssi: int | None = Field(default=None, ge=-140, le=0, description="Radio signal, dBm.")
    firmware: Text = Field(min_length=1, max_length=40)
    uptime_s: int = Field(ge=0)
    heartbeat_interval_s: int = Field(ge=10, le=86_400, description="The interval the device is using now.")


class Presence(_Message):
    """Retained online/offline state: `online` published at connect, `offline` as the MQTT last will."""

    v: Literal[1]
    device_id: DeviceId
    online: bool
    ts: EpochMillis | None = Field(default=None, description="Device time of the connect (absent in a will).")


# ---------------------------------------------------------------------------------------------------
# Downlink commands
# ---------------------------------------------------------------------------------------------------


class AckStatus(enum.StrEnum):
    """How the platform took an uplink message (SCAIP's acknowledgement status, simplified)."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Ack(_Message):
    """The platform stored (or refused) the message `ack_seq`; the device stops resending it."""

    kind: Literal["ack"] = "ack"
    ack_seq: Seq
    status: AckStatus
    reason: Text | None = Field(default=None, max_length=200)


class HelpComing(_Message):
    """Tell the resident help is on the way (the home unit speaks or shows it)."""

    kind: Literal["help_coming"] = "help_coming"
    incident_id: int = Field(ge=1)
    eta_min: int | None = Field(default=None, ge=0, le=600)
    message_zh: Text | None = Field(default=None, max_length=200)
    message_en: Text | None = Field(default=None, max_length=200)


class StartCall(_Message):
    """Start a voice call: the home unit opens the WebRTC session with a signed, short-lived token."""

    kind: Literal["start_call"] = "start_call"
    call_id: Text = Field(min_length=8, max_length=64)
    token: Text = Field(min_length=16, max_length=2048, description="Signed call token; the device presents it.")
    signalling_url: Text = Field(max_length=500)
    auto_answer: bool = True
    video: bool = False


class DoseReminder(_Message):
    """Time for a dose: the home unit speaks and shows the medicine and dose, and offers the resident a button that
    confirms it was taken (a `dose_taken` event naming the same schedule_id and dose_due)."""

    kind: Literal["dose_reminder"] = "dose_reminder"
    schedule_id: int = Field(ge=1, le=2**31 - 1)
    dose_due: EpochMillis
    medicine: Text = Field(min_length=1, max_length=100)
    dose: Text = Field(min_length=1, max_length=60, description="How much, as written on the prescription.")
    with_food: bool | None = Field(default=None, description="True: with food; false: without; absent: either.")
    message_zh: Text = Field(min_length=1, max_length=200)
    message_en: Text = Field(min_length=1, max_length=200)


class Track(_Message):
    """Send location fixes more often for a while: the platform sends it to a GPS watch when an alarm of its wearer
    opens (any alarm: her own SOS, a fall, leaving a safe zone), and again with `for_s` 0 when the last one closes."""

    kind: Literal["track"] = "track"
    interval_s: int = Field(ge=5, le=60, description="Seconds between fixes while tracking, moving or still.")
    for_s: int = Field(
        ge=0,
        le=14_400,
        description="Track this long at most, then return to the normal schedule (a lost stop costs at most this "
        "much battery); 0 stops tracking now.",
    )
    incident_id: int | None = Field(default=None, ge=1, description="The alarm that asks for it.")


class Configure(_Message):
    """Change device settings; absent fields keep their value."""

    kind: Literal["config"] = "config"
    heartbeat_interval_s: int | None = Field(default=None, ge=10, le=86_400)
    telemetry_interval_s: int | None = Field(default=None, ge=1, le=86_400)
    fall_recovery_window_s: int | None = Field(default=None, ge=0, le=120)


class Command(_Message):
    """A downlink message to one device."""

    v: Literal[1] = 1
    cmd_id: int = Field(ge=1, description="Unique per device and platform; the device drops a repeated cmd_id.")
    ts: EpochMillis
    body: Ack | HelpComing | StartCall | DoseReminder | Track | Configure = Field(discriminator="kind")


UplinkMessage = Telemetry | Measurement | LocationFix | ImuBurst | Event | Heartbeat | Presence
