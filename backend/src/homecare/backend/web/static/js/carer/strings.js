// Every string the carer's phone page shows, in Simplified Chinese and English.
import { addStrings } from "../common.js";

addStrings({
  zh: {
    "title.carer": "上门服务",
    "ca.today": "今天的上门服务", "ca.none": "今天没有分配给您的上门服务。", "ca.back": "返回列表",
    "ca.todo": "待签到", "ca.in": "服务中", "ca.done": "已完成", "ca.late": "已超时未签到",
    "ca.time": "{from}–{to}", "ca.checkedIn": "{at} 签到", "ca.byUnit": "家庭主机已确认",
    "ca.byPhone": "手机定位已确认，距离 {m} 米", "ca.proofs": "（{how}）", "ca.and": "；",
    "ca.checkIn": "我已到达，签到", "ca.checkOut": "签退", "ca.locating": "正在获取位置…",
    "ca.noLocation": "无法获取手机位置：{detail}", "ca.checkedInToast": "已签到", "ca.checkedOutToast": "已签退",
    "ca.checkedOutIncident": "已签退，已通知接警台",
    "ca.unitHint": "也可以在老人家的家庭主机上输入您的服务码签到和签退。",
    "ca.tasks": "服务项目", "ca.outcome": "结果", "ca.note": "备注",
    "ca.problemHint": "老人不在家或身体不适时会通知接警台。", "ca.result": "结果：{outcome}",
    "ca.photo": "服务照片（这项服务需要拍照）", "ca.photoAgain": "服务照片（已拍，可重拍）",
    "ca.photoNeeded": "这项服务需要拍一张照片再签退。",
  },
  en: {
    "title.carer": "Home services",
    "ca.today": "Today's home services", "ca.none": "No visits are assigned to you today.", "ca.back": "Back to the list",
    "ca.todo": "To check in", "ca.in": "In progress", "ca.done": "Done", "ca.late": "Late, not checked in",
    "ca.time": "{from}–{to}", "ca.checkedIn": "Checked in {at}", "ca.byUnit": "confirmed by the home unit",
    "ca.byPhone": "confirmed by the phone, {m} m away", "ca.proofs": " ({how})", "ca.and": "; ",
    "ca.checkIn": "I'm here: check in", "ca.checkOut": "Check out", "ca.locating": "Finding the phone's position…",
    "ca.noLocation": "The phone's position is not available: {detail}", "ca.checkedInToast": "Checked in",
    "ca.checkedOutToast": "Checked out", "ca.checkedOutIncident": "Checked out; the call centre was told",
    "ca.unitHint": "You can also check in and out by typing your carer code on the home unit.",
    "ca.tasks": "Tasks", "ca.outcome": "Outcome", "ca.note": "Notes",
    "ca.problemHint": "Not at home or unwell tells the call centre.", "ca.result": "Outcome: {outcome}",
    "ca.photo": "Photo of the visit (this service needs one)", "ca.photoAgain": "Photo of the visit (taken; take another)",
    "ca.photoNeeded": "This service needs a photo before check-out.",
  },
});
