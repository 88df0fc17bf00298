"""Ability assessment by GB/T 42195-2022 老年人能力评估规范 (Assessment specifications for older adults).

The standard scores 26 items in four parts (its table B.1-B.4), 90 points in all, higher meaning more able:

- B.1 自理能力 self-care, 8 items of 0-4 (32): eating, grooming, bathing, dressing the upper body, dressing the lower
  body and shoes, bladder control, bowel control, toileting;
- B.2 基础运动能力 basic mobility (15): turning and sitting up in bed, bed-chair transfer, walking on the flat (0-4
  each), stairs (0-3);
- B.3 精神状态 mental state (28): orientation in time, place and people, memory, understanding, expressing oneself
  (0-4 each), aggressive behaviour and depressive symptoms in the last month (0-1 each), consciousness (0-2);
- B.4 感知觉与社会参与 perception and social participation (15): vision, hearing (0-2 each), daily affairs (0-4),
  going out by transport (0-3), social contact (0-4).

The total gives the preliminary level: 90 能力完好 intact (0), 66-89 能力轻度受损 mildly impaired (1),
46-65 能力中度受损 moderately (2), 30-45 能力重度受损 severely (3), 0-29 能力完全丧失 lost (4).
The standard then adjusts it: a resident in a coma is level 4 whatever the score; a diagnosis of dementia or another
mental or behavioural disorder (ICD-10 F00-F99), and two or more care risk events in the last 30 days (falls,
wandering, choking, self-harm), each make it one level worse, never past 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final


class Part(StrEnum):
    """The four first-level indicators (一级指标)."""

    SELF_CARE = "self_care"
    MOBILITY = "mobility"
    MENTAL = "mental"
    PERCEPTION = "perception"


@dataclass(frozen=True, slots=True)
class Item:
    """One second-level indicator (二级指标): its code in the standard's tables, its part and its highest score."""

    code: str
    part: Part
    max_score: int


ITEMS: Final[dict[str, Item]] = {
    item.code: item
    for item in (
        Item("eating", Part.SELF_CARE, 4),  # B.1.1 进食
        Item("grooming", Part.SELF_CARE, 4),  # B.1.2 修饰
        Item("bathing", Part.SELF_CARE, 4),  # B.1.3 洗澡
        Item("dressing_upper", Part.SELF_CARE, 4),  # B.1.4 穿/脱上衣
        Item("dressing_lower", Part.SELF_CARE, 4),  # B.1.5 穿/脱裤子和鞋袜
        Item("bladder", Part.SELF_CARE, 4),  # B.1.6 小便控制
        Item("bowel", Part.SELF_CARE, 4),  # B.1.7 大便控制
        Item("toileting", Part.SELF_CARE, 4),  # B.1.8 如厕
        Item("bed_mobility", Part.MOBILITY, 4),  # B.2.1 床上体位转移
        Item("transfer", Part.MOBILITY, 4),  # B.2.2 床椅转移
        Item("walking", Part.MOBILITY, 4),  # B.2.3 平地行走
        Item("stairs", Part.MOBILITY, 3),  # B.2.4 上下楼梯
        Item("orientation_time", Part.MENTAL, 4),  # B.3.1 时间定向
        Item("orientation_place", Part.MENTAL, 4),  # B.3.2 空间定向
        Item("orientation_people", Part.MENTAL, 4),  # B.3.3 人物定向
        Item("memory", Part.MENTAL, 4),  # B.3.4 记忆
        Item("understanding", Part.MENTAL, 4),  # B.3.5 理解能力
        Item("expression", Part.MENTAL, 4),  # B.3.6 表达能力
        Item("aggression", Part.MENTAL, 1),  # B.3.7 攻击行为 (1: none in the last month)
        Item("depression", Part.MENTAL, 1),  # B.3.8 抑郁症状 (1: none in the last month)
        Item("consciousness", Part.MENTAL, 2),  # B.3.9 意识水平
        Item("vision", Part.PERCEPTION, 2),  # B.4.1 视力
        Item("hearing", Part.PERCEPTION, 2),  # B.4.2 听力
        Item("daily_affairs", Part.PERCEPTION, 4),  # B.4.3 执行日常事务
        Item("transport", Part.PERCEPTION, 3),  # B.4.4 使用交通工具外出
        Item("social_contact", Part.PERCEPTION, 4),  # B.4.5 社会交往能力
    )
}
MAX_TOTAL: Final = sum(item.max_score for item in ITEMS.values())  # 90
RISK_EVENTS_FOR_A_LEVEL: Final = 2


class Level(IntEnum):
    """The five ability levels, 0 the most able."""

    INTACT = 0  # 能力完好
    MILD = 1  # 能力轻度受损（轻度失能）
    MODERATE = 2  # 能力中度受损（中度失能）
    SEVERE = 3  # 能力重度受损（重度失能）
    LOST = 4  # 能力完全丧失（完全失能）


LEVEL_FLOORS: Final = ((90, Level.INTACT), (66, Level.MILD), (46, Level.MODERATE), (30, Level.SEVERE))
"""The lowest total of each level but the last, best first."""


class Adjustment(StrEnum):
    """Why the level is worse than the total alone says."""

    COMA = "coma"
    DEMENTIA = "dementia"
    RISK_EVENTS = "risk_events"


@dataclass(frozen=True, slots=True)
class Scored:
    """An assessment's scores: per part, the total, the level from the total and the level after adjustments."""

    parts: dict[Part, int]
    total: int
    preliminary_level: Level
    level: Level
    adjustments: list[Adjustment]


def level_of_total(total: int) -> Level:
    """The preliminary level of a total score (0-90)."""
    return next((level for floor, level in LEVEL_FLOORS if total >= floor), Level.LOST)


def score(items: dict[str, int], *, coma: bool, dementia: bool, risk_events: int) -> Scored:
    """Score a complete, checked set of item scores (every code of ITEMS, each within 0..max) and adjust the level."""
    parts = {part: sum(items[code] for code, item in ITEMS.items() if item.part is part) for part in Part}
    total = sum(parts.values())
    preliminary = level_of_total(total)
    adjustments: list[Adjustment] = []
    if coma:
        adjustments.append(Adjustment.COMA)
        level = Level.LOST
    else:
        worse = 0
        if dementia:
            adjustments.append(Adjustment.DEMENTIA)
            worse += 1
        if risk_events >= RISK_EVENTS_FOR_A_LEVEL:
            adjustments.append(Adjustment.RISK_EVENTS)
            worse += 1
        level = Level(min(preliminary + worse, Level.LOST))
    return Scored(parts=parts, total=total, preliminary_level=preliminary, level=level, adjustments=adjustments)
