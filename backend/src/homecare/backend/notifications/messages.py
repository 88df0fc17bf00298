"""What a notification says: subject, bilingual text (Chinese first) and JSON payload from an incident snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from homecare.backend.zones import zone_or_service

# Cause codes of homecare.backend.detection.signals.Cause; an unknown code is shown as it is.
CAUSES: Final[dict[str, tuple[str, str]]] = {
    "sos": ("紧急呼叫", "SOS call"),
    "fall": ("疑似跌倒", "possible fall"),
    "fall_confirmed": ("跌倒", "fall"),
    "smoke": ("烟雾报警", "smoke alarm"),
    "water_leak": ("漏水", "water leak"),
    "vitals_spo2": ("血氧偏低", "low blood oxygen"),
    "vitals_pulse": ("心率异常", "abnormal pulse"),
    "vitals_respiration": ("呼吸异常", "abnormal breathing"),
    "vitals_temperature": ("体温异常", "abnormal temperature"),
    "blood_pressure_crisis": ("高血压危象", "hypertensive crisis"),
    "hypoglycaemia": ("低血糖", "hypoglycaemia"),
    "left_safe_zone": ("离开安全区域", "left the safe zone"),
    "welfare": ("健康状况变化", "change in wellbeing"),
    "inactivity": ("长时间无活动", "no movement"),
    "not_back_in_bed": ("夜间未回床", "not back in bed"),
    "night_door": ("夜间开门", "front door open at night"),
    "no_activity_day": ("全天无活动", "no activity all day"),
    "device_offline": ("设备离线", "device offline"),
    "low_battery": ("电量低", "low battery"),
    "wearable_removed": ("手环已摘下", "wearable removed"),
    "home_unit_offline": ("家庭主机离线", "home unit offline"),
    "visit_finding": ("巡访发现问题", "welfare visit finding"),
    "carer_visit": ("上门服务发现问题", "home service visit finding"),
    "carer_non_arrival": ("服务人员未到", "carer did not arrive"),
    "missed_dose": ("未确认服药", "medicine not confirmed taken"),
}

# Reason codes notify_incident understands; for free text the subject names the incident's stage instead
# and the text is quoted in the body.
REASONS: Final[dict[str, tuple[str, str]]] = {
    "alarm": ("报警", "alarm"),
    "escalated": ("无人响应，已升级", "escalated: not acknowledged"),
    "acknowledged": ("值班员已接警", "acknowledged by an operator"),
    "dispatched": ("已派服务站人员上门", "a responder is on the way"),
    "on_scene": ("服务人员已到达", "the responder has arrived"),
    "resolved": ("已处理完毕", "resolved"),
    "cancelled": ("已取消", "cancelled"),
    "unreachable": ("联系不上老人，已呼叫急救", "resident unreachable: emergency services called"),
    "no_station": ("没有服务站接单，需要改派", "no station accepted: someone must be sent"),
    "emergency_medical": ("已呼叫 120，救护车正在赶来", "120 called: an ambulance is on the way"),
    "emergency_police": ("已报警 110，警察正在赶来", "110 called: the police are on the way"),
    "emergency_fire": ("已呼叫 119，消防员正在赶来", "119 called: the fire service is on the way"),
}

STATUSES: Final[dict[str, tuple[str, str]]] = {
    "pre_alarm": ("预报警（等待老人确认）", "pre-alarm (waiting for the resident)"),
    "open": ("等待值班员接警", "waiting for an operator"),
    "acknowledged": ("值班员已接警", "acknowledged by an operator"),
    "in_call": ("正在与老人通话", "operator talking to the resident"),
    "dispatched": ("服务人员在路上", "responder on the way"),
    "on_scene": ("服务人员已到达", "responder on scene"),
    "resolved": ("已处理完毕", "resolved"),
    "cancelled": ("已取消", "cancelled"),
}

# The stage an incident is at, for subjects when the reason is free text.
STAGES: Final[dict[str, tuple[str, str]]] = {
    "pre_alarm": ("预报警", "pre-alarm"),
    "open": ("报警", "alarm"),
    "acknowledged": ("已接警", "acknowledged"),
    "in_call": ("通话中", "in call"),
    "dispatched": ("已派人", "responder on the way"),
    "on_scene": ("已到达", "responder on scene"),
    "resolved": ("已处理", "resolved"),
    "cancelled": ("已取消", "cancelled"),
}

_AUDIENCE_LINES: Final[dict[str, tuple[str, str]]] = {
    "family": (
        "呼叫中心已收到报警并正在处理。如有疑问，请联系所属服务站。",
        "The care centre has received the alarm and is dealing with it. Questions: call the station below.",
    ),
    "staff": ("请立即在值班台处理此事件。", "Please handle this incident on the operator console now."),
    "supervisor": (
        "此事件需要值班主管关注。",
        "This incident needs the duty supervisor's attention.",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentSnapshot:
    """What a message needs to know about an incident, read in the notifying transaction."""

    incident_id: int
    resident_id: int
    resident_name: str
    resident_timezone: str
    cause: str
    priority: int
    status: str
    explanation_en: str
    explanation_zh: str
    opened_at: datetime
    alarm_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    station_name: str | None
    station_phone: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Composed:
    """A rendered message, ready for the outbox."""

    subject: str
    body: str
    payload: dict[str, Any]


def label(table: dict[str, tuple[str, str]], code: str) -> tuple[str, str]:
    return table.get(code, (code, code))


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def compose_missed_dose(*, resident_name: str, medicine: str, due_at: datetime, zone: ZoneInfo) -> Composed:
    """The family's message about a dose nobody confirmed: what, when it was due, and that nobody was sent yet."""
    when = _local(due_at, zone)
    subject = f"【未确认服药】{resident_name}：{medicine} / {resident_name}: {medicine} not confirmed taken"
    body = (
        f"{resident_name} 在 {when}（{zone.key}）应服用 {medicine}，至今未确认服用"
        "（未按家庭主机上的“已服药”，药盒也未报告取药）。\n"
        "请给老人打个电话提醒。若仍未确认，服务站将在稍后收到通知。\n\n"
        "----------------------------------------\n\n"
        f"{resident_name} was due to take {medicine} at {when} ({zone.key}) and has not confirmed it "
        '(the home unit\'s "taken" button was not pressed, and no pill dispenser reported the dose).\n'
        "Please call to remind them. If it stays unconfirmed, the community station will be told later.\n"
    )
    payload: dict[str, Any] = {
        "type": "medication.missed_dose",
        "resident_name": resident_name,
        "medicine": medicine,
        "due_at": due_at.isoformat(),
    }
    return Composed(subject=subject, body=body, payload=payload)


def compose(incident: IncidentSnapshot, *, audience: str, reason: str) -> Composed:
    """Subject naming the resident and the cause; Chinese text first, then English; the JSON payload."""
    cause_zh, cause_en = label(CAUSES, incident.cause)
    known = reason in REASONS
    reason_zh, reason_en = REASONS[reason] if known else label(STAGES, incident.status)
    details_zh = "" if known else f"详情（英文）：{reason}\n"
    details_en = "" if known else f"Details: {reason}\n"
    status_zh, status_en = label(STATUSES, incident.status)
    name = incident.resident_name
    subject = f"【{reason_zh}】{name}：{cause_zh} / {name}: {cause_en} ({reason_en})"
    zone = zone_or_service(incident.resident_timezone)
    when = _local(incident.alarm_at or incident.opened_at, zone)
    action_zh, action_en = _AUDIENCE_LINES.get(audience, ("", ""))
    station_zh = station_en = ""
    if incident.station_name:
        phone = f"（{incident.station_phone}）" if incident.station_phone else ""
        station_zh = f"服务站：{incident.station_name}{phone}\n"
        station_en = f"Station: {incident.station_name}{phone.replace('（', ' (').replace('）', ')')}\n"
    body = (
        f"{name}：{cause_zh}（{reason_zh}）\n\n"
        f"时间：{when}（{zone.key}）\n"
        f"情况：{incident.explanation_zh}\n"
        f"当前状态：{status_zh}\n"
        f"{details_zh}"
        f"{station_zh}"
        f"事件编号：{incident.incident_id}\n\n"
        f"{action_zh}\n\n"
        "----------------------------------------\n\n"
        f"{name}: {cause_en} ({reason_en})\n\n"
        f"Time: {when} ({zone.key})\n"
        f"What happened: {incident.explanation_en}\n"
        f"Status: {status_en}\n"
        f"{details_en}"
        f"{station_en}"
        f"Incident: {incident.incident_id}\n\n"
        f"{action_en}\n"
    )
    payload: dict[str, Any] = {
        "type": "incident.notification",
        "audience": audience,
        "reason": reason,
        "incident": {
            "id": incident.incident_id,
            "resident_id": incident.resident_id,
            "resident_name": name,
            "cause": incident.cause,
            "priority": incident.priority,
            "status": incident.status,
            "explanation_en": incident.explanation_en,
            "explanation_zh": incident.explanation_zh,
            "opened_at": incident.opened_at.isoformat(),
            "alarm_at": incident.alarm_at.isoformat() if incident.alarm_at else None,
            "acknowledged_at": incident.acknowledged_at.isoformat() if incident.acknowledged_at else None,
            "acknowledged_by": incident.acknowledged_by,
            "station": incident.station_name,
            "outcome": incident.outcome,
        },
    }
    return Composed(subject=subject, body=body, payload=payload)
