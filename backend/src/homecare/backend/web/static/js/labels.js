// The words for the platform's codes (alarm causes, statuses, outcomes, devices, tasks, reasons…), shared by every
// page: the server stores codes with parameters, never words in one language.
import { addStrings, formatTime, lang, t } from "./common.js";

const CAUSES = {
  sos: ["紧急呼叫", "SOS call"], fall: ["疑似跌倒", "Possible fall"], fall_confirmed: ["跌倒", "Fall"],
  smoke: ["烟雾报警", "Smoke alarm"], water_leak: ["漏水", "Water leak"], vitals_spo2: ["血氧偏低", "Low blood oxygen"],
  vitals_pulse: ["心率异常", "Abnormal pulse"], vitals_respiration: ["呼吸异常", "Abnormal breathing"],
  vitals_temperature: ["体温异常", "Abnormal temperature"],
  blood_pressure_crisis: ["高血压危象", "Hypertensive crisis"], hypoglycaemia: ["低血糖", "Hypoglycaemia"],
  left_safe_zone: ["离开安全区域", "Left the safe zone"], welfare: ["健康状况变化", "Change in wellbeing"],
  inactivity: ["长时间无活动", "No movement"], not_back_in_bed: ["夜间未回床", "Not back in bed"],
  night_door: ["夜间开门", "Front door open at night"], no_activity_day: ["全天无活动", "No activity all day"],
  device_offline: ["设备离线", "Device offline"], low_battery: ["电量低", "Low battery"],
  wearable_removed: ["手环已摘下", "Wearable removed"], home_unit_offline: ["家庭主机离线", "Home unit offline"],
  visit_finding: ["巡访发现问题", "Welfare visit finding"],
  carer_visit: ["上门服务发现问题", "Home service visit finding"],
  carer_non_arrival: ["服务人员未到", "Carer did not arrive"],
  missed_dose: ["未确认服药", "Medicine not confirmed taken"],
};
const STATUSES = {
  pre_alarm: ["预报警", "Pre-alarm"], open: ["待接警", "Waiting"], acknowledged: ["已接警", "Acknowledged"],
  in_call: ["通话中", "In call"], dispatched: ["已派人", "Dispatched"], on_scene: ["已到达", "On scene"],
  resolved: ["已处理", "Resolved"], cancelled: ["已取消", "Cancelled"],
};
export const OUTCOMES = {
  false_alarm: ["误报", "False alarm"], no_injury: ["无受伤", "No injury"],
  treated_at_home: ["居家处置", "Treated at home"], ambulance: ["已叫救护车", "Ambulance"],
  hospital: ["送医", "Taken to hospital"], deceased: ["死亡", "Deceased"],
  cancelled_by_resident: ["老人取消", "Cancelled by the resident"],
};
const CHANGES = {
  opened: ["报警", "Opened"], folded: ["重复报警", "Repeated"], alarm: ["转为报警", "Became an alarm"],
  acknowledged: ["接警", "Acknowledged"], in_call: ["呼叫家中", "Calling the home"], dispatched: ["派单", "Dispatched"],
  offered: ["转派", "Offered"], noted: ["备注", "Note"], resolved: ["结案", "Resolved"], cancelled: ["取消", "Cancelled"],
  reprioritised: ["调整优先级", "Priority changed"], escalated: ["升级", "Escalated"], notified: ["已通知", "Notified"],
  help_coming: ["告知救助在路上", "Told help is coming"], family_notified: ["通知家属", "Family told"],
  family_called: ["致电家属", "Family called"], on_scene: ["到达现场", "On scene"],
  emergency_services: ["呼叫急救/报警", "Emergency services called"], no_station: ["派单失败", "Dispatch failed"],
  not_notified: ["未能通知", "Nobody told"],
  task_accepted: ["服务站接单", "Station accepted"], task_declined: ["服务站拒单", "Station declined"],
  task_en_route: ["人员出发", "Responder on the way"], task_on_scene: ["人员到达", "Responder arrived"],
  task_done: ["服务完成", "Responder done"], task_timed_out: ["接单超时", "Station did not answer"],
  call_placed: ["发起通话", "Call placed"], call_answered: ["通话接通", "Call answered"],
  call_ended: ["通话结束", "Call ended"],
};
// The one name of each kind of device, on every page (the admin's lists and forms too).
const DEVICES = {
  wristband: ["手环", "Wristband"], sos_pendant: ["紧急按钮", "SOS pendant"], fall_sensor: ["跌倒雷达", "Fall sensor"],
  door_sensor: ["门磁", "Door sensor"], bed_sensor: ["床垫传感器", "Bed sensor"],
  motion_sensor: ["人体感应器", "Motion sensor"], home_unit: ["家庭主机", "Home unit"],
  smoke_sensor: ["烟雾报警器", "Smoke sensor"], water_sensor: ["水浸传感器", "Water sensor"],
  blood_pressure_monitor: ["血压计", "Blood-pressure monitor"], glucose_meter: ["血糖仪", "Glucose meter"],
  gps_watch: ["定位手表", "GPS watch"],
  pill_dispenser: ["智能药盒", "Pill dispenser"],
};
const RELATIONS = {
  daughter: ["女儿", "daughter"], son: ["儿子", "son"], "daughter-in-law": ["儿媳", "daughter-in-law"],
  "son-in-law": ["女婿", "son-in-law"], nephew: ["侄子/外甥", "nephew"], niece: ["侄女/外甥女", "niece"],
  neighbour: ["邻居", "neighbour"], spouse: ["配偶", "spouse"], friend: ["朋友", "friend"],
};
const TASKS = {
  offered: ["待接单", "Offered"], accepted: ["已接单", "Accepted"], declined: ["已拒绝", "Declined"],
  timed_out: ["超时", "Timed out"], en_route: ["在路上", "On the way"], on_scene: ["已到达", "On scene"],
  done: ["已完成", "Done"], withdrawn: ["已撤回", "Withdrawn"],
};
// Home services: the kinds a station's catalogue offers, how a visit ended, and why a complaint was made.
const CARE_KINDS = {
  meal: ["助餐", "Meals"], bathing: ["助浴", "Bathing"], cleaning: ["助洁", "Cleaning"],
  escort: ["助医", "Escort to the doctor"], nursing: ["上门护理", "Nursing"], rehabilitation: ["康复", "Rehabilitation"],
};
const CARE_OUTCOMES = {
  completed: ["服务完成", "Service done"], not_home: ["老人不在家", "Resident not at home"],
  unwell: ["老人身体不适", "Resident unwell"],
};
const COMPLAINTS = {
  late: ["来晚了", "Came late"], missed: ["没有来", "Did not come"], incomplete: ["服务没做完", "Tasks left undone"],
  attitude: ["服务态度", "Attitude"], safety: ["安全问题", "Safety"], charge: ["收费问题", "The charge"],
  other: ["其他", "Other"],
};

const ACTORS = {
  system: ["系统", "System"], "fall-model": ["跌倒识别模型", "Fall model"], device: ["设备", "Device"],
  resident: ["老人本人", "The resident"], home_unit: ["家庭主机", "Home unit"], service: ["系统接口", "Service token"],
};
const AUDIENCES = { family: ["家属", "the family"], staff: ["全体接警员", "every operator"], supervisor: ["值班主管", "the supervisor"] };
const SERVICES = { medical: ["120 急救", "120 ambulance"], police: ["110 报警", "110 police"], fire: ["119 消防", "119 fire service"] };
const ANSWERS = {
  sent: ["对方派出人员", "They are sending help"], advice: ["只给了电话指导", "Advice by phone only"],
  refused: ["对方不出动", "They will not come"], no_answer: ["无人接听", "No answer"],
};
// Reasons the platform writes (a code and its parameters): {text} is a detector's own words in the reader's language.
const WHY = {
  signal: ["{text}", "{text}"],
  repeats: ["又报警 {n} 次，最近一次 {at}：{text}", "Repeated {n} times, latest at {at}: {text}"],
  priority_raised: ["重复报警更紧急，优先级升为 P{priority}", "A more urgent repeat: priority raised to P{priority}"],
  cancelled_in_window: ["老人在等待时间内按了“我没事”：{text}", "The resident pressed \"I'm OK\" in time: {text}"],
  resident_ok: ["老人表示没事，报警仍需人工结案：{text}", "The resident says they are OK; a person still closes it: {text}"],
  cleared: ["情况已恢复：{text}", "Condition cleared: {text}"],
  no_im_ok: ["等待时间内没有按“我没事”", "No \"I'm OK\" within the recovery window"],
  told: ["已通知{audience}（{n} 条）", "Told {audience} ({n} messages)"],
  nobody_told: ["未能通知{audience}：没有可接收通知的人", "Could not tell {audience}: nobody to send it to"],
  unacknowledged: ["{waited} 秒无人接警（时限 {within} 秒）", "Not acknowledged after {waited} s (limit {within} s)"],
  fall_model_confirms: ["跌倒识别模型确认跌倒（P{priority}）：{text}", "The fall model confirms the fall (P{priority}): {text}"],
  fall_model_doubts: ["跌倒识别模型怀疑不是跌倒（保留，降为 P{priority}）：{text}",
    "The fall model doubts the fall (kept, at P{priority}): {text}"],
  offered_to: ["已派给{station}，等待接单", "Offered to {station}, waiting for it to accept"],
  home_told: ["已告知家中：救助在路上", "The home unit was told help is coming"],
  no_home_unit: ["没有家庭主机可以告知", "No home unit to tell"],
  no_station: ["没有服务站接单（已问 {asked} 个站），目前无人出动", "No station accepted (asked {asked}); nobody is on the way"],
  not_accepted: ["{station} {seconds} 秒内未接单", "{station} did not accept within {seconds} s"],
  unreachable_called: ["联系不上老人，已拨打 {number}", "Resident unreachable; {number} called"],
  emergency_sent: ["已拨打 {number}：对方派出人员", "Called {number}: they are sending help"],
  emergency_advice: ["已拨打 {number}：只给了电话指导，无人出动", "Called {number}: advice by phone only, nobody sent"],
  emergency_refused: ["已拨打 {number}：对方不出动", "Called {number}: they will not come"],
  emergency_no_answer: ["已拨打 {number}：无人接听", "Called {number}: no answer"],
  call_voice: ["语音呼叫家庭主机 {device}", "Voice call to home unit {device}"],
  call_video: ["视频呼叫家庭主机 {device}", "Video call to home unit {device}"],
  call_completed: ["通话结束，共 {seconds} 秒，{by}挂断", "Call ended after {seconds} s, hung up by {by}"],
  call_refused: ["家庭主机拒绝了通话", "The home unit refused the call"],
  call_failed: ["通话未能接通", "The call could not connect"],
  call_dropped: ["通话在 {seconds} 秒后中断", "The call dropped after {seconds} s"],
  call_no_answer: ["家庭主机无人接听", "No answer from the home unit"],
  family_reached: ["致电 {name}（{phone}）：已联系上", "Called {name} ({phone}): reached"],
  family_no_answer: ["致电 {name}（{phone}）：无人接听", "Called {name} ({phone}): no answer"],
  open: ["营业中，有空闲", "Open, with capacity"],
  on_call: ["非营业时间（{opens}–{closes}），{people} 人值守", "Out of hours ({opens}–{closes}), {people} on call"],
  closed: ["已下班（营业时间 {opens}–{closes}），无人值守", "Closed now (hours {opens}–{closes}), nobody on call"],
  at_capacity: ["任务已满（{active}/{capacity}）", "At capacity ({active}/{capacity} tasks)"],
  switched_off: ["已暂停接单", "Switched off duty"],
  did_not_accept: ["此事件已派过该站，未接单", "Already asked for this incident; did not accept"],
};
// Reasons that say something did not happen: the trail shows them as problems to act on.
const PROBLEMS = new Set(["nobody_told", "no_home_unit", "no_station", "not_accepted", "emergency_advice",
  "emergency_refused", "emergency_no_answer"]);
// Parameters worded by a table of their own.
const PARAM_TABLES = { audience: "audience", service: "service", by: "actor", answer: "answer" };

function table(prefix, entries) {
  const zh = {}, en = {};
  for (const [code, [z, e]] of Object.entries(entries)) { zh[`${prefix}.${code}`] = z; en[`${prefix}.${code}`] = e; }
  addStrings({ zh, en });
}
table("cause", CAUSES); table("status", STATUSES); table("outcome", OUTCOMES); table("change", CHANGES);
table("device", DEVICES); table("task", TASKS); table("relation", RELATIONS);
table("careKind", CARE_KINDS); table("careOutcome", CARE_OUTCOMES); table("complaint", COMPLAINTS);
table("actor", ACTORS); table("audience", AUDIENCES); table("service", SERVICES); table("answer", ANSWERS);
table("why", WHY);

/** The label of a code in one of the tables, or the code itself when the table does not know it. */
export function label(prefix, code) {
  if (code === null || code === undefined) return "—";
  const key = `${prefix}.${code}`;
  const text = t(key);
  return text === key ? code : text;
}

/** A reason the server stored as { code, params }, in the reader's language ("" when there is none). */
export function because(why) {
  if (!why?.code) return "";
  const params = why.params || {};
  const vars = {};
  for (const [name, value] of Object.entries(params)) {
    vars[name] = name in PARAM_TABLES ? label(PARAM_TABLES[name], value) : name === "at" ? formatTime(value) : value;
  }
  vars.text = lang() === "zh" ? params.zh ?? params.en ?? "" : params.en ?? params.zh ?? "";
  const key = `why.${why.code}`;
  const text = t(key, vars);
  return text === key ? why.code : text;
}

/** What an audit-trail step says, in the reader's language: the platform's reason, then whom it told. */
export function stepText(detail) {
  const parts = [because(detail?.why)];
  if (detail?.notified && !["told", "nobody_told"].includes(detail.why?.code)) {
    for (const [audience, n] of Object.entries(detail.notified)) {
      parts.push(because({ code: n ? "told" : "nobody_told", params: { audience, n } }));
    }
  }
  return parts.filter(Boolean).join(lang() === "zh" ? "；" : "; ");
}

/** Whether a trail step says something did not happen (nobody told, nobody accepted, nobody coming). */
export function isProblem(detail) {
  return PROBLEMS.has(detail?.why?.code) || Object.values(detail?.notified || {}).some((n) => !n);
}

// Relations are typed by people, as a code or in either language: "女儿" and "daughter" are the same word.
const RELATION_CODES = Object.fromEntries(Object.entries(RELATIONS).flatMap(([code, words]) => words.map((w) => [w, code])));

/** A family relation in the reader's language, whichever language it was entered in (free text stays as typed). */
export function relation(text) {
  return text ? label("relation", RELATION_CODES[text] ?? text) : "";
}
