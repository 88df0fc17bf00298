"""Server-side review of a device's suspected fall: the shipped fall model over the raw IMU burst.

The burst is judged through ``FallModel.assess``, the call the model's own evaluation uses, so live
bursts and the model card's figures go through the same code. A confirmed fall becomes a critical
``FALL_CONFIRMED`` alarm. A rejection never drops the device's alarm: it becomes a low-priority
``FALL`` alarm (``falls.rejected_priority`` in the resident's settings) that says what the model
thought, for the incidents service to downgrade the device's pre-alarm with (the resident's own
"I'm OK" and the operator still decide).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from homecare.backend.detection.config import get_settings
from homecare.backend.detection.falls.model import ArtefactError, FallModel, available_positions
from homecare.backend.detection.signals import Cause, Signal, SignalKind
from homecare.contracts.messages import Priority
from homecare.storage.connections import Conn

log = logging.getLogger(__name__)

POSITIONS: Final = {"wristband": "wrist", "sos_pendant": "neck"}
"""Where each kind of device with an IMU is worn, as the fall models name sensor positions (the SOS
pendant hangs on a cord at the neck; a belt clip would be ``waist``)."""


def position_for(kind: str) -> str | None:
    """The sensor position of a device kind, or None when no shipped model covers it."""
    position = POSITIONS.get(kind)
    return position if position in available_positions() else None


def decode_axes(raw: bytes, scale: float) -> npt.NDArray[np.float64]:
    """Little-endian int16 n×3 samples, times ``scale`` (milli-g → g: 0.001; 0.1 deg/s → deg/s: 0.1)."""
    if len(raw) % 6:
        raise ValueError(f"IMU samples of {len(raw)} bytes are not whole n×3 int16 rows")
    return np.frombuffer(raw, dtype="<i2").reshape(-1, 3).astype(np.float64) * scale


async def review_burst(
    conn: Conn, *, burst_id: int, now: datetime, models: Mapping[str, FallModel] | None = None
) -> Signal | None:
    """Confirm or reject the fall behind one stored IMU burst.

    Returns None only when there is nothing to say: no such burst, a burst without a resident, or a
    device worn where no shipped model applies (the device's own alarm then stands as it is).
    ``models`` lets a long-running caller pass models loaded once (by position); otherwise the
    shipped model is loaded for this call.
    """
    cursor = await conn.execute(
        """
        SELECT b.device_id, b.resident_id, b.fs, b.acc, b.gyr, d.kind, d.uid, e.id
        FROM imu_bursts b
        JOIN devices d ON d.id = b.device_id
        LEFT JOIN events e ON e.device_id = b.device_id AND e.seq = b.event_seq
        WHERE b.id = %s
        """,
        (burst_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        log.warning("IMU burst %s not found", burst_id)
        return None
    device_id, resident_id, fs, acc_raw, gyr_raw, kind, uid, event_id = row
    if resident_id is None:
        log.warning("IMU burst %s from %s has no resident", burst_id, uid)
        return None
    position = position_for(kind)
    if position is None:
        log.warning("IMU burst %s from %s (%s): no fall model for this device kind", burst_id, uid, kind)
        return None

    def signal(cause: Cause, priority: Priority, en: str, zh: str) -> Signal:
        return Signal(
            resident_id=resident_id,
            cause=cause,
            kind=SignalKind.ALARM,
            priority=priority,
            explanation_en=en,
            explanation_zh=zh,
            detected_at=now,
            device_id=device_id,
            event_id=event_id,
        )

    try:
        acc_g = decode_axes(bytes(acc_raw), 0.001)
        gyr_dps = decode_axes(bytes(gyr_raw), 0.1) if gyr_raw is not None else None
        if gyr_dps is not None and gyr_dps.shape != acc_g.shape:
            gyr_dps = None  # the model does not use it; a malformed one must not block the review
        model = models[position] if models is not None and position in models else FallModel.load(position)
        assessment = model.assess(acc_g, gyr_dps, float(fs))
    except (ValueError, ArtefactError) as err:
        # Safety first: a burst the model cannot judge leaves the fall as serious as the device said.
        log.error("IMU burst %s from %s could not be reviewed: %s", burst_id, uid, err)
        return signal(
            Cause.FALL,
            Priority.CRITICAL,
            f"Fall reported by {uid}; the server could not check it ({str(err)[:120]}).",
            f"{uid} 报告跌倒；服务器无法核实（数据无法分析）。",
        )
    p = assessment.probability
    if assessment.is_fall:
        return signal(
            Cause.FALL_CONFIRMED,
            Priority.CRITICAL,
            f"Fall confirmed by the {position} model: {p:.2f} (threshold {model.threshold:.2f}), "
            f"impact {assessment.impact_s:.1f} s into the recording.",
            f"跌倒已由{_POSITION_ZH.get(position, position)}模型确认：{p:.2f}（阈值 {model.threshold:.2f}）。",
        )
    return signal(
        Cause.FALL,
        (await get_settings(conn, resident_id=resident_id)).falls.rejected_priority,
        f"Model: {p:.2f} (threshold {model.threshold:.2f}), likely not a fall; the device's alarm stands "
        "until the resident or an operator closes it.",
        f"模型评分 {p:.2f}（阈值 {model.threshold:.2f}），可能不是跌倒；设备报警仍保留，待老人或接线员确认。",
    )


_POSITION_ZH: Final = {"wrist": "腕部", "waist": "腰部", "neck": "吊坠"}
