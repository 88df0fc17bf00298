"""The home services of a neighbourhood's day: each station's catalogue and carers (with the codes they type at home
units), and the visits booked for a day, with when each carer really arrives and leaves (some late, some short, one
visit a day missed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.sim.records import Enrolment
from homecare.sim.seeds import Stream, rng_for

CARERS_PER_STATION: Final = 2
FIRST_VISIT: Final = time(7, 0)
SLOT: Final = timedelta(minutes=75)  # a visit and the walk to the next home
SLOTS_PER_CARER: Final = 11  # 07:00 … 19:30 starts: breakfast to the evening's care
VISITED_SHARE: Final = 0.4  # residents with a home service on a given day
LATE_SHARE: Final = 0.12  # visits whose carer arrives after the non-arrival time (15 min)
SHORT_SHARE: Final = 0.1  # visits the carer leaves after half the booked time


@dataclass(frozen=True, slots=True)
class ServiceOffer:
    """A service every station offers: its kind, name, duration, price and the carer's checklist."""

    kind: str
    name: str
    duration_min: int
    price_yuan: int
    tasks: tuple[str, ...]


CATALOGUE: Final = (
    ServiceOffer("meal", "午餐送餐", 30, 15, ("送餐到桌", "查看进食情况", "清理餐具")),
    ServiceOffer("cleaning", "居家保洁", 60, 60, ("清扫地面", "整理床铺", "清理垃圾")),
    ServiceOffer("bathing", "上门助浴", 60, 80, ("检查水温", "协助洗浴", "更换衣物")),
    ServiceOffer("nursing", "上门护理", 45, 90, ("测量血压", "检查皮肤", "记录服药")),
)
_CARER_NAMES: Final = ("吴芳", "郑红", "冯军", "褚丽", "卫东", "蒋燕", "沈涛", "韩梅", "杨帆", "朱静", "秦勇", "许霞")


@dataclass(frozen=True, slots=True)
class CarerRecord:
    """A carer of a station: ``number`` counts from 1 within the station; ``code`` is typed at the home units."""

    station: str
    number: int
    name: str
    code: str


@dataclass(frozen=True, slots=True)
class CareVisit:
    """A booked visit and how it really goes: ``arrives``/``leaves`` are epoch seconds (None: the carer never
    comes)."""

    resident: int
    station: str
    carer: int
    service: ServiceOffer
    starts: datetime
    arrives: float | None
    leaves: float | None

    @property
    def ends(self) -> datetime:
        return self.starts + timedelta(minutes=self.service.duration_min)


class CareRoster:
    """The neighbourhood's carers and, day by day, its booked visits (from the seed: every run plans the same)."""

    def __init__(self, enrolment: Enrolment, tz: ZoneInfo) -> None:
        self.enrolment = enrolment
        self.tz = tz
        rng = rng_for(enrolment.seed, Stream.CARE)
        codes = rng.choice(900_000, size=CARERS_PER_STATION * len(enrolment.stations), replace=False) + 100_000
        self.carers = tuple(
            CarerRecord(station.code, number, _CARER_NAMES[k % len(_CARER_NAMES)], str(int(codes[k])))
            for k, (station, number) in enumerate(
                (station, number) for station in enrolment.stations for number in range(1, CARERS_PER_STATION + 1)
            )
        )

        self._days: dict[date, tuple[CareVisit, ...]] = {}

    def carer(self, station: str, number: int) -> CarerRecord:
        return next(c for c in self.carers if c.station == station and c.number == number)

    def day(self, day: date) -> tuple[CareVisit, ...]:
        """The visits booked for ``day``: each station's visited residents in its carers' slots, in time order."""
        if day not in self._days:
            self._days = {d: v for d, v in self._days.items() if abs((d - day).days) <= 1}
            self._days[day] = self._plan(day)
        return self._days[day]

    def _plan(self, day: date) -> tuple[CareVisit, ...]:
        rng = rng_for(self.enrolment.seed, Stream.CARE, day.toordinal())
        visits: list[CareVisit] = []
        for station in self.enrolment.stations:
            residents = [r.index for r in self.enrolment.residents if r.station == station.code]
            chosen = [i for i in residents if rng.random() < VISITED_SHARE]
            slots = [(n, s) for s in range(SLOTS_PER_CARER) for n in range(1, CARERS_PER_STATION + 1)]
            spread = [slots[int(k)] for k in rng.permutation(len(slots))]  # the day's visits spread over the day
            for resident, (number, slot) in zip(chosen, spread, strict=False):
                service = CATALOGUE[int(rng.integers(len(CATALOGUE)))]
                starts = datetime.combine(day, FIRST_VISIT, self.tz) + slot * SLOT
                draw = rng.random()
                late = draw < LATE_SHARE
                arrives = starts.timestamp() + 60 * float(rng.uniform(17, 30) if late else rng.uniform(-5, 8))
                stay = 60 * service.duration_min * (0.5 if rng.random() < SHORT_SHARE else float(rng.uniform(1, 1.1)))
                visits.append(CareVisit(resident, station.code, number, service, starts, arrives, arrives + stay))
        if visits:
            # One visit a day is missed: the carer never comes (the platform alerts its non-arrival).
            missed = int(rng.integers(len(visits)))
            visits[missed] = dataclasses.replace(visits[missed], arrives=None, leaves=None)
        return tuple(sorted(visits, key=lambda v: (v.starts, v.station, v.carer)))

    def presences(self, resident: int, day: date) -> list[tuple[float, str]]:
        """When carers type their codes at the resident's home unit on ``day``: (time, code), arriving and leaving."""
        found = []
        for visit in self.day(day):
            if visit.resident == resident and visit.arrives is not None and visit.leaves is not None:
                code = self.carer(visit.station, visit.carer).code
                found += [(visit.arrives, code), (visit.leaves, code)]
        return found
