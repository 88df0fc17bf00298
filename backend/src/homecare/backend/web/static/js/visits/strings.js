// Every string the welfare visitor's phone page shows, in Simplified Chinese and English.
import { addStrings } from "../common.js";

// The checklist: each item's question and its answers, the reassuring answer first (as the API lists them).
export const CHECKLIST = {
  wellbeing: {
    mood: ["情绪", "Mood", { good: ["好", "Good"], low: ["低落", "Low"], distressed: ["非常不好", "Distressed"] }],
    health: ["身体状况", "Health", { well: ["良好", "Well"], complaint: ["有不适", "A complaint"],
      unwell: ["差，需要帮助", "Unwell, needs help"] }],
    eating: ["饮食", "Eating", { normal: ["正常", "Normal"], poor: ["差", "Poor"] }],
    medication: ["服药", "Medication", { taken: ["按时服药", "Taken"], missed: ["漏服", "Missed"],
      none_prescribed: ["无需服药", "None prescribed"] }],
    hygiene: ["个人卫生", "Hygiene", { ok: ["良好", "Fine"], neglected: ["差", "Neglected"] }],
    lonely: ["感到孤独", "Feels lonely", { no: ["否", "No"], yes: ["是", "Yes"] }],
  },
  home_safety: {
    gas: ["燃气", "Gas", { safe: ["安全", "Safe"], no_gas: ["未使用燃气", "No gas"], hazard: ["有隐患", "Hazard"] }],
    electrics: ["用电", "Electrics", { safe: ["安全", "Safe"], hazard: ["有隐患", "Hazard"] }],
    fall_hazards: ["跌倒隐患", "Fall hazards", { none: ["无", "None"], present: ["有", "Present"] }],
    smoke_alarm: ["烟雾报警器", "Smoke alarm", { working: ["正常", "Working"], faulty: ["故障", "Faulty"],
      absent: ["没有", "None"] }],
    heating_cooling: ["取暖/降温", "Heating/cooling", { adequate: ["足够", "Adequate"],
      inadequate: ["不足", "Inadequate"] }],
    food_supply: ["家中食物", "Food at home", { adequate: ["充足", "Enough"], short: ["不足", "Short"] }],
    home_unit: ["家庭主机", "Home unit", { working: ["正常", "Working"], faulty: ["故障", "Faulty"] }],
  },
};

function checklistStrings(index) {
  const table = {};
  for (const [section, items] of Object.entries(CHECKLIST)) {
    for (const [item, [zh, en, values]] of Object.entries(items)) {
      table[`vi.item.${section}.${item}`] = [zh, en][index];
      for (const [value, words] of Object.entries(values)) table[`vi.value.${section}.${item}.${value}`] = words[index];
    }
  }
  return table;
}

addStrings({
  zh: {
    "title.visits": "巡访",
    "vi.today": "今天的巡访", "vi.none": "今天没有需要巡访的老人。", "vi.done": "已完成", "vi.planned": "待巡访",
    "vi.overdue": "已逾期", "vi.dueBy": "{from} 至 {to}", "vi.weekly": "每周", "vi.monthly": "每月",
    "vi.open": "打开", "vi.back": "返回列表", "vi.attempts": "已上门 {n} 次",
    "vi.card": "老人信息", "vi.age": "{age} 岁", "vi.female": "女", "vi.male": "男", "vi.access": "如何进门",
    "vi.call": "拨打 {phone}", "vi.conditions": "慢性病", "vi.mobility": "行动", "vi.language": "语言",
    "vi.contacts": "联系人", "vi.level": "能力等级", "vi.noLevel": "尚未评估", "vi.living": "居住情况",
    "vi.level.0": "能力完好", "vi.level.1": "能力轻度受损", "vi.level.2": "能力中度受损", "vi.level.3": "能力重度受损",
    "vi.level.4": "能力完全丧失",
    "vi.living.alone": "独居", "vi.living.empty_nest": "空巢", "vi.living.left_behind": "留守",
    "vi.living.special_family": "计划生育特殊家庭",
    "vi.records": "本次巡访记录", "vi.outcome.seen": "已见到老人", "vi.outcome.not_home": "不在家",
    "vi.findings": "发现：{list}", "vi.noFindings": "一切正常", "vi.incident": "已转接警台（事件 {id}）",
    "vi.book": "预约上门服务：{kind}",
    "vi.form": "巡访记录", "vi.outcome": "结果", "vi.wellbeing": "老人状况", "vi.home_safety": "居家安全",
    "vi.note": "备注", "vi.raise": "需要接警台跟进（生成事件）", "vi.submit": "提交记录",
    "vi.missing": "还有 {n} 项未填写", "vi.saved": "已记录", "vi.savedIncident": "已记录，已通知接警台",
    "vi.notHomeHint": "老人不在家时会通知接警台，本次巡访仍需再次上门。",
  },
  en: {
    "title.visits": "Visits",
    "vi.today": "Today's visits", "vi.none": "No visits due today.", "vi.done": "Done", "vi.planned": "To visit",
    "vi.overdue": "Overdue", "vi.dueBy": "{from} to {to}", "vi.weekly": "Weekly", "vi.monthly": "Monthly",
    "vi.open": "Open", "vi.back": "Back to the list", "vi.attempts": "{n} call(s) so far",
    "vi.card": "About the resident", "vi.age": "{age} years", "vi.female": "female", "vi.male": "male",
    "vi.access": "Getting in", "vi.call": "Call {phone}", "vi.conditions": "Chronic conditions",
    "vi.mobility": "Mobility", "vi.language": "Language", "vi.contacts": "Contacts", "vi.level": "Ability level",
    "vi.noLevel": "Not assessed yet", "vi.living": "Living situation",
    "vi.level.0": "Intact", "vi.level.1": "Mildly impaired", "vi.level.2": "Moderately impaired",
    "vi.level.3": "Severely impaired", "vi.level.4": "Lost",
    "vi.living.alone": "Lives alone", "vi.living.empty_nest": "Empty nest", "vi.living.left_behind": "Left behind",
    "vi.living.special_family": "Special family (one-child policy)",
    "vi.records": "Records of this visit", "vi.outcome.seen": "Resident seen", "vi.outcome.not_home": "Not at home",
    "vi.findings": "Found: {list}", "vi.noFindings": "All well", "vi.incident": "Passed to the call centre (incident {id})",
    "vi.book": "Book a home service: {kind}",
    "vi.form": "Visit record", "vi.outcome": "Outcome", "vi.wellbeing": "The resident", "vi.home_safety": "Home safety",
    "vi.note": "Note", "vi.raise": "The call centre should follow up (raise an incident)", "vi.submit": "Save the record",
    "vi.missing": "{n} question(s) still to answer", "vi.saved": "Recorded",
    "vi.savedIncident": "Recorded; the call centre was told",
    "vi.notHomeHint": "Not at home tells the call centre; the visit stays to be made.",
  },
});
addStrings({ zh: checklistStrings(0), en: checklistStrings(1) });
