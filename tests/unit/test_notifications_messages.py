"""Notification settings fail fast on unsafe values; messages name the resident and cause, Chinese first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from homecare.backend.notifications.messages import IncidentSnapshot, compose
from homecare.backend.notifications.settings import NotificationSettings, WebhookEndpoint

SECRET = "k" * 32


def _settings(**values: object) -> NotificationSettings:
    return NotificationSettings(_env_file=None, **values)


def test_unsafe_settings_fail_fast() -> None:
    with pytest.raises(ValidationError, match="https"):
        WebhookEndpoint(name="desk", url="http://example.com/hook", secret=SECRET, audiences={"staff"})
    with pytest.raises(ValidationError, match="32 characters"):
        WebhookEndpoint(name="desk", url="https://example.com/hook", secret="short", audiences={"staff"})
    WebhookEndpoint(name="desk", url="http://127.0.0.1:9/hook", secret=SECRET, audiences={"staff"})
    with pytest.raises(ValidationError, match="loopback"):
        _settings(smtp_host="mail.example.com", smtp_security="none")
    with pytest.raises(ValidationError, match="both"):
        _settings(smtp_host="mail.example.com", smtp_username="u")
    with pytest.raises(ValidationError, match="plain e-mail"):
        _settings(staff_emails=["desk@example.com\r\nBcc: x@evil.example"])
    with pytest.raises(ValidationError, match="plain e-mail"):
        _settings(supervisor_emails=["Boss <boss@example.com>"])
    hook = {"name": "desk", "url": "https://example.com/h", "secret": SECRET, "audiences": ["staff"]}
    with pytest.raises(ValidationError, match="unique"):
        _settings(webhooks=[hook, hook])


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOMECARE_NOTIFY_SMTP_HOST", "smtp.example.com")
    monkeypatch.setenv("HOMECARE_NOTIFY_STAFF_EMAILS", '["desk@example.com"]')
    monkeypatch.setenv(
        "HOMECARE_NOTIFY_WEBHOOKS",
        f'[{{"name": "crm", "url": "https://crm.example.com/h", "secret": "{SECRET}", "audiences": ["changes"]}}]',
    )
    settings = NotificationSettings(_env_file=None)
    assert settings.smtp_host == "smtp.example.com"
    assert settings.staff_emails == ["desk@example.com"]
    crm = settings.webhook("crm")
    assert crm is not None
    assert crm.audiences == {"changes"}


def test_backoff_doubles_and_is_capped() -> None:
    settings = _settings(backoff_base_s=2, backoff_max_s=20)
    assert [settings.backoff_s(n) for n in range(1, 7)] == [2, 4, 8, 16, 20, 20]


def test_message_names_resident_and_cause_chinese_first() -> None:
    incident = IncidentSnapshot(
        incident_id=12,
        resident_id=3,
        resident_name="王秀英",
        resident_timezone="Asia/Shanghai",
        cause="fall_confirmed",
        priority=1,
        status="open",
        explanation_en="Fall detected in the bathroom.",
        explanation_zh="卫生间检测到跌倒。",
        opened_at=datetime(2026, 11, 23, 1, 15, tzinfo=UTC),
        alarm_at=datetime(2026, 11, 23, 1, 15, 30, tzinfo=UTC),
        acknowledged_at=None,
        acknowledged_by=None,
        station_name="明园服务站",
        station_phone="021-5555-0101",
        outcome=None,
    )
    message = compose(incident, audience="family", reason="alarm")
    assert "王秀英" in message.subject
    assert "跌倒" in message.subject
    assert "fall" in message.subject
    assert message.body.index("卫生间检测到跌倒") < message.body.index("Fall detected in the bathroom")
    assert "2026-11-23 09:15:30" in message.body  # the resident's local time
    assert "明园服务站（021-5555-0101）" in message.body
    assert "(021-5555-0101)" in message.body
    assert message.payload["incident"]["id"] == 12
    free = compose(incident, audience="staff", reason="not acknowledged after 62 s; alerting every operator")
    assert free.subject == "【报警】王秀英：跌倒 / 王秀英: fall (alarm)"
    assert "详情（英文）：not acknowledged after 62 s" in free.body
    assert "Details: not acknowledged after 62 s; alerting every operator" in free.body
