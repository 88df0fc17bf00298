"""Settings of the alarm pipeline, read from ``HOMECARE_ALARM_*``; a bad policy file fails at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AlarmSettings(BaseSettings):
    """Built once in the API's lifespan (``start_pipeline``) and passed down."""

    model_config = SettingsConfigDict(env_prefix="HOMECARE_ALARM_", env_file=".env", extra="ignore", frozen=True)

    policy_file: Path | None = Field(
        default=None,
        description="Escalation policy (YAML, the shape of incidents/escalation_policy.yaml); "
        "default: the shipped policy.",
    )
    periodic_every_s: float = Field(default=30.0, ge=1, le=3600, description="How often the analytic detectors run.")
    poll_s: float = Field(default=0.2, ge=0.01, le=10, description="How often due escalation timers are checked.")
    leader_retry_s: float = Field(
        default=1.0,
        ge=0.1,
        le=5,
        description="How often a standby API replica tries to take over the alarm pipeline (the leader lock).",
    )
