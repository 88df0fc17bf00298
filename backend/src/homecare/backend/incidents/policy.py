"""Escalation policies as data: who is alerted when nobody acts, station time-outs, when the family is told."""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from homecare.backend.incidents import PolicyError
from homecare.storage.connections import Conn

DEFAULT_POLICY_FILE: Final = Path(__file__).with_name("escalation_policy.yaml")

Audience = Literal["family", "staff", "supervisor"]


class FamilyStep(enum.StrEnum):
    """The points in an incident's life at which a policy may tell the family."""

    ALARM = "alarm"  # it reached the operators as an alarm
    UNACKNOWLEDGED = "unacknowledged"  # nobody acknowledged in time
    DISPATCHED = "dispatched"
    EMERGENCY_SERVICES = "emergency_services"  # the operator called 120
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AcknowledgeRule(_Strict):
    within_s: int = Field(ge=5, le=86_400, description="Escalate when not acknowledged this long after the alarm.")
    alert: list[Literal["staff", "supervisor"]] = Field(min_length=1)
    repeat_every_s: int = Field(ge=5, le=86_400)
    max_repeats: int = Field(ge=0, le=100)


class StationRule(_Strict):
    accept_within_s: int = Field(ge=10, le=86_400, description="Offer to the next station after this long.")
    max_offers: int = Field(ge=1, le=20)


class UnreachableRule(_Strict):
    emergency_number: str = Field(min_length=2, max_length=20)
    dispatch: bool = True


class Policy(_Strict):
    name: str = Field(min_length=1, max_length=40)
    priorities: list[int] = Field(min_length=1)
    acknowledge: AcknowledgeRule
    station: StationRule
    unreachable: UnreachableRule
    family_at: list[FamilyStep] = Field(default_factory=list)


class AnswerTarget(_Strict):
    within_s: int = Field(ge=5, le=3600, description="Seconds from the alarm to an operator's acknowledgement.")
    share: float = Field(gt=0, le=1, description="The share of alarms to be acknowledged within that time.")


class AnswerTargets(_Strict):
    """The telecare answer targets: the reports measure against them, the console's timers turn amber and red."""

    target: AnswerTarget = Field(description="Most alarms are answered within this (the timer turns amber).")
    limit: AnswerTarget = Field(description="The outer limit: nearly every alarm within this (the timer turns red).")

    @model_validator(mode="after")
    def _limit_after_target(self) -> AnswerTargets:
        if self.limit.within_s <= self.target.within_s:
            raise ValueError("answer_targets: limit.within_s must be longer than target.within_s")
        return self


class PolicySet(_Strict):
    """The whole file: a default recovery window, the answer targets, and policies chosen by priority (first match)."""

    fall_recovery_window_s: int = Field(default=45, ge=30, le=60)
    answer_targets: AnswerTargets
    policies: list[Policy] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_priority_covered(self) -> PolicySet:
        covered = {p for policy in self.policies for p in policy.priorities}
        missing = {1, 2, 3, 4, 5} - covered
        if missing:
            raise ValueError(f"no policy covers priorities {sorted(missing)}")
        return self

    def for_priority(self, priority: int) -> Policy:
        return next(p for p in self.policies if priority in p.priorities)

    def named(self, name: str | None, priority: int) -> Policy:
        """The policy an incident was opened under (kept stable if it is re-prioritised), else by priority."""
        for policy in self.policies:
            if policy.name == name:
                return policy
        return self.for_priority(priority)


def load_policies(path: Path | None = None) -> PolicySet:
    """Read and validate a policy file (the shipped default when ``path`` is None)."""
    path = path or DEFAULT_POLICY_FILE
    try:
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "answer_targets" not in data and path != DEFAULT_POLICY_FILE:
            # A file written before the targets were part of the policy keeps the shipped ones.
            data["answer_targets"] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())["answer_targets"]
        return PolicySet.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise PolicyError(f"escalation policy {path}: {err}") from err


class Notify(Protocol):
    """``homecare.backend.notifications.service.notify_incident``, passed in by the alarms layer
    (``homecare.backend.alarms.pipeline.start_pipeline``): enqueues in the caller's transaction and says how many
    messages it queued (0: nobody to tell)."""

    def __call__(self, conn: Conn, *, incident_id: int, audience: Audience, reason: str) -> Awaitable[int]: ...


@dataclass(frozen=True, slots=True)
class Escalation:
    """What the incident and dispatch services need to escalate: the policies and the notifier."""

    policies: PolicySet
    notify: Notify | None = None
