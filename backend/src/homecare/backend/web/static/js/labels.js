// The words for the platform's codes (alarm causes, statuses, outcomes, devices, tasks…), shared by every page.
import { addStrings, t } from "./common.js";

const CAUSES = {
  sos: ["紧急呼叫", "SOS call"], fall: ["疑似跌倒", "Possible fall"], fall_confirmed: ["跌倒", "Fall"],
  smoke: ["烟雾报警", "Smoke alarm"], water_leak: ["漏水", "Water leak"], vitals_spo2: ["血氧偏低", "Low blood oxygen"],
  vitals_pulse: ["心率异常", "Abnormal pulse"], vitals_respiration: ["呼吸异常", "Abnormal breathing"],
  vitals_temperature: ["体温异常", "Abnormal temperature"], welfare: ["健康状况变化", "Change in wellbeing"],
  inactivity: ["长时间无活动", "No movement"], not_back_in_bed: ["夜间未回床", "Not back in bed"],
  night_door: ["夜间开门", "Front door open at night"], no_activity_day: ["全天无活动", "No activity all day"],
  device_offline: ["设备离线", "Device offline"], low_battery: ["电量低", "Low battery"],
  wearable_removed: ["手环已摘下", "Wearable removed"], home_unit_offline: ["家庭主机离线", "Home unit offline"],
  visit_finding: ["巡访发现问题", "Welfare visit finding"],
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
  emergency_services: ["呼叫 120", "Emergency services called"], no_station: ["无服务站接单", "No station took it"],
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

function table(prefix, entries) {
  const zh = {}, en = {};
  for (const [code, [z, e]] of Object.entries(entries)) { zh[`${prefix}.${code}`] = z; en[`${prefix}.${code}`] = e; }
  addStrings({ zh, en });
}
table("cause", CAUSES); table("status", STATUSES); table("outcome", OUTCOMES); table("change", CHANGES);
table("device", DEVICES); table("task", TASKS); table("relation", RELATIONS);

/** The label of a code in one of the tables, or the code itself when the table does not know it. */
export function label(prefix, code) {
  if (code === null || code === undefined) return "—";
  const key = `${prefix}.${code}`;
  const text = t(key);
  return text === key ? code : text;
}
