"""Events → signals: the signal a stored device event raises on its own, and a fall's recovery window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homecare.backend.detection.config import DetectionSettings
from homecare.backend.detection.signals import DEFAULT_PRIORITY, Cause, Signal, SignalKind
from homecare.contracts.messages import Priority


def recovery_window(settings: DetectionSettings | None, *, column: int | None, policy_default: int) -> int:
    """How long a device-detected fall waits for "I'm OK": the resident's detection settings when an administrator
    set it there, else the per-resident column of the enrolment, else the escalation policy's default."""
    if settings is not None and "recovery_window_s" in settings.falls.model_fields_set:
        return settings.falls.recovery_window_s
    return column if column is not None else policy_default


def signal_for_event(
    row: dict[str, Any], *, recovery_window_s: int, priority: Callable[[Cause], Priority] | None = None
) -> Signal | None:
    """The signal a stored device event raises on its own (``im_ok`` is resolved by the pipeline);
    ``priority`` gives the resident's own priority of a cause (default: the shipped defaults)."""
    kind, device_kind, room = row["kind"], row["device_kind"], row["room"]
    where_en = f" in the {room}" if room else ""
    where_zh = f"（{room}）" if room else ""
    common = {
        "resident_id": row["resident_id"],
        "detected_at": row["ts"],
        "device_id": row["device_id"],
        "event_id": row["id"],
    }

    def make(cause: Cause, en: str, zh: str, kind: SignalKind = SignalKind.ALARM, **extra: Any) -> Signal:
        chosen = priority(cause) if priority is not None else DEFAULT_PRIORITY[cause]
        if row.get("dropped"):  # the gateway stored the alarm without details that broke the contract
            fields = ", ".join(sorted(row["dropped"]))
            en += f" Unusable details from the device were left out: {fields}."
            zh += f"设备发来的部分信息无法使用，已忽略：{fields}。"
        return Signal(cause=cause, kind=kind, priority=chosen, explanation_en=en, explanation_zh=zh, **common, **extra)

    if kind == "sos":
        return make(Cause.SOS, f"SOS button pressed ({device_kind}{where_en}).", f"按下了紧急呼叫按钮{where_zh}。")
    if kind == "fall_detected" and device_kind == "fall_sensor":
        return make(
            Cause.FALL_CONFIRMED, f"Fall detected by the fall sensor{where_en}.", f"跌倒传感器检测到跌倒{where_zh}。"
        )
    if kind == "fall_detected":
        confidence = "" if row["confidence"] is None else f", device confidence {row['confidence']:.2f}"
        if recovery_window_s == 0:  # this resident cannot be expected to press "I'm OK": an alarm at once
            return make(Cause.FALL, f"The {device_kind} detected a fall{confidence}.", "设备检测到跌倒。")
        # The wait for "I'm OK" is the pre-alarm's status and countdown, not the explanation: it outlives the wait.
        return make(
            Cause.FALL,
            f"The {device_kind} detected a fall{confidence}.",
            "设备检测到跌倒。",
            kind=SignalKind.PRE_ALARM,
            recovery_window_s=recovery_window_s,
        )
    if kind == "smoke":
        return make(Cause.SMOKE, f"Smoke alarm{where_en}.", f"烟雾报警{where_zh}。")
    if kind == "water_leak":
        return make(Cause.WATER_LEAK, f"Water leak{where_en}.", f"漏水报警{where_zh}。")
    if kind == "wearable_removed":
        return make(
            Cause.WEARABLE_REMOVED, "The wristband was taken off: falls are not detected.", "手环已摘下：无法检测跌倒。"
        )
    if kind == "wearable_worn":
        return make(Cause.WEARABLE_REMOVED, "The wristband is worn again.", "手环已重新佩戴。", kind=SignalKind.CLEAR)
    return None  # door, bed, motion: the analytic detectors read these from the events table
