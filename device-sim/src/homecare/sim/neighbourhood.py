"""A neighbourhood of residents around a city centre: stations, homes, devices and their enrolment data."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np

from homecare.contracts.messages import DeviceKind
from homecare.sim.battery import SPECS, Battery, ChargingHabit
from homecare.sim.carers import CareRoster
from homecare.sim.equipment import FIRMWARE, HEALTH_CHECK_KINDS, HOUSEHOLD_KINDS, device_uid
from homecare.sim.household import Household
from homecare.sim.profiles import ResidentProfile, draw_profile, wanderer
from homecare.sim.records import Contact, DeviceRecord, Enrolment, ResidentRecord, Station
from homecare.sim.resident import ResidentModel
from homecare.sim.routine import Room
from homecare.sim.seeds import Stream, rng_for

SHANGHAI: Final = (31.2304, 121.4737)  # People's Square
AGE_REFERENCE_YEAR: Final = 2026  # birth years are ages counted back from this year, so enrolment is stable
_M_PER_DEG_LAT: Final = 111_320.0
_STREETS: Final = (
    "曹家渡",
    "静安寺",
    "江宁路",
    "石门二路",
    "南京西路",
    "天目西路",
    "芷江西路",
    "宝山路",
    "彭浦新村",
    "临汾路",
    "共和新路",
    "大宁路",
    "长寿路",
    "宜川路",
    "真如镇",
    "长风新村",
)
_RELATIONS: Final = ("daughter", "son", "daughter-in-law", "nephew", "niece", "neighbour")


@dataclass(slots=True)
class Neighbourhood:
    """Enrolment data plus the live models: one household per resident, keyed by resident number."""

    seed: int
    tz: ZoneInfo
    enrolment: Enrolment
    households: dict[int, Household] = field(default_factory=dict)
    care: CareRoster | None = None  # carers and their booked visits, with everyday life

    def household(self, resident: int) -> Household:
        try:
            return self.households[resident]
        except KeyError:
            raise KeyError(f"resident {resident} is not in this neighbourhood (1–{len(self.households)})") from None


def device_secret(seed: int, uid: str) -> str:
    """A deterministic per-device password, so a re-run with the same seed matches what was enrolled.
    For simulation only: anyone who knows the seed knows the secrets."""
    return hashlib.blake2b(f"homecare-sim:{seed}:{uid}".encode(), digest_size=16).hexdigest()


def _phone(rng: np.random.Generator) -> str:
    return f"1{int(rng.choice([33, 35, 38, 39, 58, 86, 89]))}{int(rng.integers(0, 10**8)):08d}"


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        round(lat + north_m / _M_PER_DEG_LAT, 6),
        round(lon + east_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat))), 6),
    )


def _stations(count: int, centre: tuple[float, float], rng: np.random.Generator) -> list[Station]:
    stations = []
    for i in range(count):
        # Spread evenly around the centre, 1.5–5 km out, like neighbouring street offices.
        angle = 2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / count
        distance = rng.uniform(1500, 5000)
        lat, lon = _offset(*centre, distance * math.cos(angle), distance * math.sin(angle))
        street = _STREETS[i % len(_STREETS)]
        stations.append(
            Station(
                code=f"st-{i + 1:02d}",
                name=f"{street}街道社区养老服务站",
                lat=lat,
                lon=lon,
                address=f"上海市{street}{int(rng.integers(1, 900))}号",
                phone=f"021-{int(rng.integers(5000_0000, 6999_9999))}",
            )
        )
    return stations


_FIXED_ROOMS: Final[dict[DeviceKind, Room | str]] = {
    DeviceKind.DOOR_SENSOR: "front door",
    DeviceKind.BED_SENSOR: Room.BEDROOM,
    DeviceKind.MOTION_SENSOR: Room.LIVING_ROOM,
    DeviceKind.HOME_UNIT: Room.LIVING_ROOM,
}


def build_neighbourhood(
    residents: int = 50,
    *,
    seed: int = 1,
    centre: tuple[float, float] = SHANGHAI,
    timezone: str = "Asia/Shanghai",
    stations: int | None = None,
    background_incidents: bool = True,
    uid_prefix: str = "",
) -> Neighbourhood:
    """N residents (numbered from 1) with homes clustered around a few stations, all from `seed`.

    `background_incidents` adds real-world rates of falls, false fall triggers and accidental SOS
    presses, and the carers' booked visits; scenarios usually turn it off so that only what they script
    happens. `uid_prefix` names another set of devices for the same people (a scenario's own, beside a
    running neighbourhood's).
    """
    if residents < 1:
        raise ValueError("a neighbourhood needs at least one resident")
    tz = ZoneInfo(timezone)
    geo = rng_for(seed, Stream.GEOGRAPHY)
    station_list = _stations(stations or min(max(1, residents // 15), 12), centre, geo)

    profiles = [draw_profile(seed, i) for i in range(1, residents + 1)]
    # "A few who wander at night": at least one in 25, whatever the draw gave.
    wanted = max(1, residents // 25) if residents >= 10 else 0
    have = sum(p.wanders_at_night for p in profiles)
    for i in geo.permutation(residents)[: max(0, wanted - have)]:
        profiles[int(i)] = wanderer(profiles[int(i)])

    hood = Neighbourhood(seed=seed, tz=tz, enrolment=Enrolment(seed, tuple(station_list), ()))
    records = []
    for profile in profiles:
        record = _resident_record(profile, seed, station_list, uid_prefix)
        records.append(record)
        hood.households[profile.index] = Household(
            record,
            ResidentModel(profile, seed=seed, tz=tz, background=background_incidents),
            _batteries(profile, seed, tz),
        )
    hood.enrolment = Enrolment(seed, tuple(station_list), tuple(records))
    if background_incidents:
        hood.care = CareRoster(hood.enrolment, tz)
        for household in hood.households.values():
            household.care = hood.care
    return hood


def _resident_record(profile: ResidentProfile, seed: int, stations: list[Station], uid_prefix: str) -> ResidentRecord:
    rng = rng_for(seed, Stream.GEOGRAPHY, profile.index)
    station = stations[int(rng.integers(len(stations)))]
    # Homes cluster within walking distance of their station (σ ≈ 600 m).
    lat, lon = _offset(station.lat, station.lon, rng.normal(0, 600), rng.normal(0, 600))
    street = station.name.removesuffix("街道社区养老服务站")
    address = (
        f"上海市{street}{int(rng.integers(1, 1500))}弄{int(rng.integers(1, 40))}号"
        f"{int(rng.integers(1, 7))}0{int(rng.integers(1, 4))}室"
    )
    fall_room = rng.choice([Room.BATHROOM, Room.BEDROOM, Room.LIVING_ROOM], p=[0.6, 0.25, 0.15])
    rooms: dict[DeviceKind, str | None] = {kind: str(room) for kind, room in _FIXED_ROOMS.items()}
    rooms[DeviceKind.FALL_SENSOR] = str(fall_room)
    checks = [kind for condition, kind in HEALTH_CHECK_KINDS.items() if profile.has(condition)]
    if profile.wanders_at_night:  # a resident who wanders wears a GPS watch outdoors
        checks.append(DeviceKind.GPS_WATCH)
    devices = tuple(
        DeviceRecord(
            uid=(uid := uid_prefix + device_uid(profile.index, kind)),
            kind=kind,
            resident=profile.index,
            secret=device_secret(seed, uid),
            firmware=FIRMWARE[kind],
            room=rooms.get(kind),
        )
        for kind in (*HOUSEHOLD_KINDS, *checks)
    )
    contacts = tuple(
        Contact(
            name=profile.name[0] + ("伟", "静", "敏", "磊", "洁", "军")[int(rng.integers(6))],
            relation=str(rng.choice(_RELATIONS)),
            phone=_phone(rng),
        )
        for _ in range(int(rng.integers(1, 3)))
    )
    return ResidentRecord(
        index=profile.index,
        name=profile.name,
        sex=profile.sex,
        birth_year=AGE_REFERENCE_YEAR - profile.age,
        frailty=profile.frailty,
        conditions=tuple(sorted(profile.conditions)),
        wanders_at_night=profile.wanders_at_night,
        lat=lat,
        lon=lon,
        address=address,
        station=station.code,
        phone=_phone(rng),
        contacts=contacts,
        devices=devices,
    )


def _batteries(profile: ResidentProfile, seed: int, tz: ZoneInfo) -> dict[DeviceKind, Battery]:
    rng = rng_for(seed, Stream.CHARGING, profile.index)
    return {
        kind: Battery(
            spec,
            level=float(rng.uniform(45, 100)),
            habit=ChargingHabit(seed, profile, tz) if kind in (DeviceKind.WRISTBAND, DeviceKind.GPS_WATCH) else None,
        )
        for kind, spec in SPECS.items()
    }
