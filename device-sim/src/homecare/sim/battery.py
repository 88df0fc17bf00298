"""Device batteries: steady drain, a resident's charging habit (often forgotten), a battery that dies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from zoneinfo import ZoneInfo

from homecare.contracts.messages import DeviceKind
from homecare.sim.profiles import ResidentProfile
from homecare.sim.routine import local_day, local_midnight
from homecare.sim.seeds import Stream, rng_for


@dataclass(frozen=True, slots=True)
class BatterySpec:
    """`life_h` is the running time on a full charge; None means mains powered."""

    life_h: float | None
    charge_per_h: float = 0.0


SPECS: Final[dict[DeviceKind, BatterySpec]] = {
    DeviceKind.WRISTBAND: BatterySpec(life_h=96.0, charge_per_h=70.0),  # four days, like typical care bands
    DeviceKind.SOS_PENDANT: BatterySpec(life_h=24.0 * 365),
    DeviceKind.FALL_SENSOR: BatterySpec(life_h=None),  # ceiling radar on mains
    DeviceKind.DOOR_SENSOR: BatterySpec(life_h=24.0 * 730),
    DeviceKind.BED_SENSOR: BatterySpec(life_h=24.0 * 730),
    DeviceKind.MOTION_SENSOR: BatterySpec(life_h=24.0 * 730),
    DeviceKind.HOME_UNIT: BatterySpec(life_h=None),
    DeviceKind.BLOOD_PRESSURE_MONITOR: BatterySpec(life_h=24.0 * 180),  # four AA cells, a reading or two a day
    DeviceKind.GLUCOSE_METER: BatterySpec(life_h=24.0 * 365),  # a coin cell
    DeviceKind.GPS_WATCH: BatterySpec(life_h=24.0 * 5, charge_per_h=50.0),  # charged with the wristband's habit
}

_CHARGE_LIMIT_S: Final = 3 * 3600.0


@dataclass(frozen=True, slots=True)
class ChargingHabit:
    """When a resident puts the wristband on its charger, and how often they forget."""

    seed: int
    profile: ResidentProfile
    tz: ZoneInfo

    def decision_point(self, day_offset: int, after: float) -> float:
        """The resident's usual charging moment on the local day of `after` (+ `day_offset` days)."""
        day = local_day(after, self.tz) + timedelta(days=day_offset)
        rng = rng_for(self.seed, Stream.CHARGING, self.profile.index, day.toordinal())
        return local_midnight(day, self.tz) + (self.profile.charge_hour + rng.normal(0, 0.25)) * 3600

    def charges(self, at: float, level: float) -> bool:
        """Whether the band goes on the charger at decision moment `at`: most people charge when it
        runs low, some every day, and forgetful residents skip it."""
        day = local_day(at, self.tz)
        rng = rng_for(self.seed, Stream.CHARGING, self.profile.index, day.toordinal(), 1)
        if rng.random() < self.profile.forgets_charging:
            return False
        return level < 55 or rng.random() < 0.3


class Battery:
    """Charge level integrated piecewise over simulated time; exact whatever the step sizes."""

    def __init__(self, spec: BatterySpec, level: float, habit: ChargingHabit | None = None) -> None:
        self.spec = spec
        self.level = 100.0 if spec.life_h is None else level
        self.habit = habit
        self.charging = spec.life_h is None  # mains powered devices report "charging"
        self._t: float | None = None
        self._charge_until = 0.0
        self._next_decision: float | None = None
        self._drain_per_h = 0.0 if spec.life_h is None else 100.0 / spec.life_h
        self._death: tuple[float, float] | None = None  # (fast drain from, flat at), scripted
        self._recharge_at: float | None = None
        self._no_charging_until = 0.0
        # (time, now charging?) for every change of charging state, drained by the household.
        self.plugs: list[tuple[float, bool]] = []

    @property
    def powered(self) -> bool:
        return self.level > 0.0

    def kill(self, at: float, warning_s: float, recharge_at: float | None = None) -> None:
        """Make the battery run flat at `at`, draining fast from `at - warning_s`, with no charging
        until `recharge_at` (if ever)."""
        self._death, self._recharge_at = (at - warning_s, at), recharge_at
        self._no_charging_until = float("inf") if recharge_at is None else recharge_at

    def advance_to(self, t: float) -> None:
        if self._t is None:
            self._t = t
            if self.habit is not None:
                self._next_decision = self._following_decision(t)
        while self._t < t:
            nxt = min(t, self._next_change(self._t))
            self._integrate(nxt - self._t)
            self._t = nxt
            self._apply_changes(nxt)

    def _following_decision(self, after: float) -> float:
        assert self.habit is not None
        today = self.habit.decision_point(0, after)
        return today if today > after else self.habit.decision_point(1, after)

    def _rate_per_h(self) -> float:
        if self.spec.life_h is None:
            return 0.0
        if self.charging:
            return self.spec.charge_per_h
        if self._death is not None and self._t is not None:
            fast_from, flat_at = self._death
            if fast_from <= self._t < flat_at:
                return -self.level / max((flat_at - self._t) / 3600.0, 1e-9)
        return -self._drain_per_h

    def _next_change(self, now: float) -> float:
        candidates = [*(self._death or ()), self._recharge_at, self._next_decision]
        if self.charging and self.spec.life_h is not None:
            candidates.append(self._charge_until)
            candidates.append(now + (100.0 - self.level) / self.spec.charge_per_h * 3600.0)
        # Rounding can put "full" a hair past now; a change must lie strictly ahead to make progress.
        return min((c for c in candidates if c is not None and c > now + 1e-3), default=float("inf"))

    def _integrate(self, dt: float) -> None:
        self.level = min(100.0, max(0.0, self.level + self._rate_per_h() * dt / 3600.0))

    def _apply_changes(self, now: float) -> None:
        if self.spec.life_h is None:
            return
        if self._death is not None and now >= self._death[1]:
            self.level = 0.0
            if self.charging:  # a scripted death also ends a charge in progress
                self._stop_charging(now)
            self._death = None
        if self.charging and (now >= self._charge_until or self.level >= 99.99):
            self._stop_charging(now)
        if self._recharge_at is not None and now >= self._recharge_at:
            self._recharge_at = None
            self._start_charging(now)
        if self._next_decision is not None and now >= self._next_decision:
            self._next_decision = self._following_decision(now)
            allowed = now >= self._no_charging_until
            if self.habit is not None and allowed and self.habit.charges(now, self.level):
                self._start_charging(now)

    def _start_charging(self, now: float) -> None:
        self.charging = True
        self._charge_until = now + _CHARGE_LIMIT_S
        self.plugs.append((now, True))

    def _stop_charging(self, now: float) -> None:
        self.charging = False
        self.plugs.append((now, False))
