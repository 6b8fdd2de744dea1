//! Interface text in zh-CN (default) and English. Domain labels (roles, statuses,
//! categories, grades, events) come from the core's enums (`label`).

use std::collections::BTreeMap;

use saferound_core::model::Lang;

/// (key, zh-CN, English)
const TEXT: &[(&str, &str, &str)] = &[
    (
        "app",
        "校园安全巡查 · 隐患台账",
        "SafeRound · hazard ledger",
    ),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("login_name", "账号", "Login"),
    ("password", "密码", "Password"),
    ("login_failed", "账号或密码错误", "Wrong login or password"),
    ("change_password", "修改密码", "Change password"),
    ("my_devices", "我的设备", "My devices"),
    ("device", "设备", "Device"),
    ("enrolled", "登记时间", "Enrolled"),
    ("current_password", "当前密码", "Current password"),
    ("new_password", "新密码", "New password"),
    ("repeat_password", "再次输入新密码", "New password again"),
    (
        "password_rules",
        "至少 10 个字符，不能是常见密码或登录名；修改后所有会话结束，手机需重新登记。",
        "At least 10 characters, not a common password nor the login; changing it ends every session and phones must enrol again.",
    ),
    (
        "password_due",
        "这是一次性密码：请先设置您自己的密码。",
        "This is a one-time password: choose your own before anything else.",
    ),
    (
        "passwords_differ",
        "两次输入的新密码不一致",
        "The two new passwords differ",
    ),
    (
        "password_unchanged",
        "新密码不能与当前密码相同",
        "The new password is the current one",
    ),
    (
        "wrong_password",
        "当前密码不正确",
        "The current password is wrong",
    ),
    (
        "demo_warning",
        "演示模式：演示账号共用公开的密码 saferound-demo，切勿用于正式环境。",
        "Demo mode: the demo logins share the published password saferound-demo. Never use it in production.",
    ),
    (
        "login_expired",
        "登录页面已过期，请重新登录",
        "The login page expired; please sign in again",
    ),
    (
        "login_locked",
        "失败次数过多，请稍后再试",
        "Too many failed attempts; try again later",
    ),
    ("ledger", "隐患台账", "Hazard ledger"),
    ("overdue", "逾期督办", "Overdue"),
    ("weekly", "周报情况", "Weekly reports"),
    ("incidents", "突发事件", "Incidents"),
    ("admin", "系统管理", "Administration"),
    ("filter", "筛选", "Filter"),
    ("reset", "重置", "Reset"),
    ("all", "全部", "All"),
    ("site", "部位/场所", "Site"),
    ("department", "部门", "Department"),
    ("category", "隐患类别", "Category"),
    ("risk", "风险等级", "Risk grade"),
    ("status", "状态", "Status"),
    ("only_overdue", "仅逾期", "Overdue only"),
    ("from", "排查时间自", "Reported from"),
    ("to", "至", "to"),
    ("reported_at", "排查时间", "Reported"),
    ("reported_by", "排查人员", "Reported by"),
    ("description", "隐患描述", "Description"),
    ("measure", "整改措施", "Measure"),
    ("funds", "整改资金", "Funds"),
    ("responsible", "责任人", "Responsible person"),
    ("deadline", "完成时限", "Deadline"),
    ("contingency", "应急预案", "Contingency plan"),
    ("reinspector", "复查人", "Re-inspector"),
    (
        "interim_controls",
        "安全防控措施",
        "Interim control measures",
    ),
    ("designated_person", "监控责任人", "Designated person"),
    ("treatment_plan", "治理方案", "Treatment plan"),
    ("note", "说明", "Note"),
    ("total", "共", "Total"),
    ("page", "页", "page"),
    ("prev", "上一页", "Previous"),
    ("next", "下一页", "Next"),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("export_xlsx", "导出 Excel", "Export Excel"),
    ("overdue_badge", "逾期", "Overdue"),
    ("due_soon", "即将到期", "Due soon"),
    ("days_overdue", "逾期天数", "Days overdue"),
    ("escalated", "已升级督办", "Escalated"),
    ("events", "处理记录", "History"),
    ("conflicts", "待处理冲突", "Conflicts to settle"),
    ("clock_ahead", "手机时钟超前", "Phone clock ahead"),
    (
        "clock_ahead_hint",
        "上报手机记录的时间晚于服务器接收时间；记录已保留，时限按服务器接收时间计算。",
        "The reporting phone claimed times later than the server received them; the record is kept, and deadlines count from the server's receipt.",
    ),
    ("photos_before", "整改前照片", "Photos before"),
    ("photos_after", "整改后照片", "Photos after"),
    ("actions", "处理", "Actions"),
    ("assign", "交办", "Assign"),
    ("rectify", "整改完成", "Report rectification"),
    (
        "verify_pass",
        "复核通过（销号）",
        "Verify: pass (write off)",
    ),
    ("verify_fail", "复核未通过", "Verify: fail"),
    ("defer", "暂缓整改", "Defer"),
    ("reopen", "回头看重新打开", "Reopen (look-back)"),
    ("supervise", "挂牌督办", "List for supervision"),
    ("regrade", "调整风险等级", "Change risk grade"),
    ("submit", "提交", "Submit"),
    ("none", "无", "none"),
    ("notice", "整改通知单", "Rectification notice"),
    ("letter", "督办函", "Supervision letter"),
    ("print", "打印", "Print"),
    (
        "no_actions",
        "您当前没有可执行的操作。",
        "No action is open to you on this hazard now.",
    ),
    ("read_only", "只读", "read-only"),
    ("week", "周", "Week"),
    ("on_time", "按时", "On time"),
    ("late", "迟报", "Late"),
    ("missing", "漏报", "Missing"),
    ("pending", "未到截止", "Not yet due"),
    ("before_setup", "尚未启用", "Before set-up"),
    ("choose", "请选择", "Choose"),
    ("incident_title", "事件", "Incident"),
    ("all_clear", "报平安", "All-clear"),
    ("received", "服务器接收", "Received by server"),
    ("phone_time", "手机时间", "Phone time"),
    (
        "weekly_deadline",
        "截止：每周五 12:00（学校时间）",
        "Deadline: Friday 12:00, institution time",
    ),
    ("live", "实时更新", "Live"),
    ("users", "用户", "Users"),
    ("departments", "部门", "Departments"),
    ("sites", "场所", "Sites"),
    ("devices", "设备", "Devices"),
    ("audit", "审计日志", "Audit log"),
    ("revoke", "吊销", "Revoke"),
    ("revoked", "已吊销", "Revoked"),
    ("create", "新建", "Create"),
    ("name", "名称", "Name"),
    ("roles", "角色", "Roles"),
    ("kind", "类型", "Kind"),
    ("building", "楼栋", "Building"),
    ("floor_room", "楼层/房间", "Floor / room"),
    ("deactivate", "停用", "Deactivate"),
    ("active", "启用", "Active"),
    ("last_sync", "最近同步", "Last sync"),
    ("error", "出错了", "Something went wrong"),
    ("back", "返回", "Back"),
    (
        "forbidden_page",
        "您没有权限访问此页面。",
        "You may not open this page.",
    ),
    // campaigns, duty roster, checklists, time zone
    ("campaigns", "专项行动", "Campaigns"),
    ("phases", "阶段", "Phases"),
    ("starts", "开始", "Starts"),
    ("ends", "结束", "Ends"),
    ("progress", "进度", "Progress"),
    ("summary", "工作总结", "Campaign summary"),
    ("summary_due", "总结报送截止", "Summary due"),
    (
        "start_hundred_day",
        "按模板启动百日行动",
        "Start the hundred-day campaign (template)",
    ),
    (
        "hundred_day_hint",
        "岁末年初安全集中治理百日行动：动员部署、隐患排查、整改复查、集中攻坚四个阶段；留空开始日期则使用通知原定日期，填写则各阶段整体顺延。",
        "The year-end hundred-day campaign: mobilisation, inspection, rectification and re-check, tackling and look-back. Leave the start empty for the notice's own dates, or give one and every phase moves with it.",
    ),
    ("new_campaign", "新建专项行动", "New campaign"),
    (
        "phases_hint",
        "每行一个阶段：名称 / English | 开始日期 | 结束日期",
        "One phase per line: name / English | start date | end date",
    ),
    (
        "dept_deadline",
        "部门周报截止（报学校）",
        "Department weekly report due (to the institution)",
    ),
    (
        "inst_deadline",
        "学校周报截止（报省厅）",
        "Institution weekly report due (to the province)",
    ),
    ("province_deadline", "报省厅截止", "Due to the province"),
    ("weekday", "星期（1–7）", "Weekday (1–7)"),
    ("save", "保存", "Save"),
    ("contact", "联系方式", "Contact"),
    ("home", "首页", "Home"),
    ("home_title", "本周概况", "This week at a glance"),
    ("home_open", "未销号隐患", "open hazards"),
    (
        "home_supervised",
        "挂牌督办的重大隐患",
        "Major hazards under supervision",
    ),
    (
        "home_incidents_week",
        "本周事件报告",
        "Incident reports this week",
    ),
    ("home_no_campaign", "当前无专项行动", "no campaign running"),
    (
        "home_by_risk",
        "未销号隐患（按风险等级）",
        "Open hazards by risk grade",
    ),
    (
        "home_by_area",
        "未销号隐患（按领域）",
        "Open hazards by area",
    ),
    (
        "home_flows",
        "近12周隐患：发现、销号、逾期",
        "Hazards over 12 weeks: found, closed, turned overdue",
    ),
    ("home_found", "发现", "Found"),
    ("home_closed", "销号", "Closed"),
    ("home_turned_overdue", "逾期", "Turned overdue"),
    (
        "home_reports_week",
        "本周各部门周报",
        "Departments' weekly reports this week",
    ),
    ("home_none", "无", "None"),
    ("home_all", "查看全部", "See all"),
    ("mobile", "手机号", "Mobile"),
    ("email", "电子邮箱", "E-mail"),
    (
        "email_opt_in",
        "通过电子邮件接收提醒",
        "Receive reminders by e-mail",
    ),
    ("my_contact", "我的联系方式", "My contact details"),
    (
        "contact_use",
        "群机器人提醒时按手机号@您；电子邮件只在您选择接收时发送。",
        "Group robots mention you by your mobile number; e-mail is sent only if you choose to receive it.",
    ),
    ("edit", "修改", "Edit"),
    ("cancel", "取消", "Cancel"),
    ("state_current", "进行中", "In progress"),
    ("state_upcoming", "未开始", "Upcoming"),
    ("state_done", "已结束", "Finished"),
    ("days", "天", "days"),
    ("days_left", "剩余天数", "Days left"),
    ("inspections", "排查次数", "Inspections"),
    ("submitted", "已提交", "Submitted"),
    ("hazards_total", "隐患总数", "Hazards"),
    ("major_hazards", "重大隐患", "Major hazards"),
    ("rectified", "已整改", "Rectified"),
    ("verified", "已复核销号", "Verified and written off"),
    ("deferred", "暂缓整改", "Deferred"),
    ("rate", "整改率", "Rectification rate"),
    (
        "by_site_kind",
        "按场所类型统计排查",
        "Inspections by site kind",
    ),
    ("by_category", "按隐患类别统计", "Hazards by category"),
    ("by_risk", "按风险等级统计", "Hazards by risk grade"),
    ("unit", "单位", "Unit"),
    (
        "other_units",
        "其他（场所未归属部门）",
        "Other (site without a department)",
    ),
    ("figures", "统计数据", "Figures"),
    ("duty", "值班安排", "Duty roster"),
    ("on_duty_now", "当前值班", "On duty now"),
    ("no_one_on_duty", "当前无人值班！", "No one is on duty now!"),
    ("duty_officer", "值班人员", "Duty officer"),
    ("leader_on_duty", "带班领导", "Leader on duty"),
    ("phone", "电话", "Phone"),
    ("holidays", "节假日", "Holidays"),
    (
        "uncovered",
        "未安排值班的时段",
        "Hours without anyone on duty",
    ),
    ("covered", "已全部安排值班", "Fully covered"),
    ("add", "添加", "Add"),
    ("delete", "删除", "Delete"),
    ("time_zone", "时区", "Time zone"),
    (
        "utc_offset",
        "UTC 偏移（如 +08:00）",
        "UTC offset (e.g. +08:00)",
    ),
    ("checklists", "检查表", "Checklists"),
    ("template", "检查表", "Checklist"),
    ("version", "版本", "Version"),
    ("items", "检查项", "Items"),
    ("new_template", "新建检查表", "New checklist"),
    (
        "edit_new_version",
        "修改（发布新版本）",
        "Edit (publishes a new version)",
    ),
    ("builtin", "内置", "Built in"),
    (
        "items_hint",
        "每行一项：编号 | 中文内容 | English | 隐患类别代码 | 风险等级代码",
        "One item per line: code | Chinese text | English text | category code | risk grade code",
    ),
    ("title_zh", "中文标题", "Title (Chinese)"),
    ("title_en", "英文标题", "Title (English)"),
    (
        "start_from",
        "基于已有检查表",
        "Start from an existing checklist",
    ),
    ("versions", "历史版本", "Versions"),
    ("new_hazard", "上报隐患", "Report a hazard"),
    ("location", "具体位置", "Location"),
    ("at", "时间", "Time"),
    ("by", "人员", "By"),
    ("event", "事项", "Event"),
    (
        "skipped",
        "（合并后不成立，已跳过）",
        "(not legal where it merged; skipped)",
    ),
    ("resolution", "处理结果", "Resolution"),
    ("institution", "单位", "Institution"),
    ("hazard_no", "隐患编号", "Hazard no."),
    ("sign", "签收", "Signed"),
    ("date", "日期", "Date"),
    // the institution's weekly report to the province
    (
        "province_weekly",
        "各校周报报送",
        "Institutions' weekly reports",
    ),
    (
        "institution_report",
        "学校周报（报省厅）",
        "Institution weekly report (to the province)",
    ),
    ("department_reports", "各部门周报", "Departments' reports"),
    ("week_figures", "本周台账统计", "This week's ledger figures"),
    (
        "reported_this_week",
        "本周上报隐患",
        "Hazards reported this week",
    ),
    (
        "rectified_this_week",
        "本周整改完成（上报整改）",
        "Rectification reported this week",
    ),
    (
        "verified_this_week",
        "本周复核销号",
        "Verified and written off this week",
    ),
    (
        "overdue_at_week_end",
        "逾期未整改（截至周末；本周未结束则截至当前）",
        "Overdue, not rectified (at the week's end; now while the week runs)",
    ),
    (
        "incidents_received",
        "本周收到突发事件报告",
        "Incident reports received this week",
    ),
    (
        "week_status",
        "本周上报隐患的当前状态",
        "Current status of this week's hazards",
    ),
    ("file_report", "报送省厅", "File to the province"),
    ("summary_text", "本周工作情况", "This week's report"),
    (
        "all_clear_hint",
        "本周无事，报平安",
        "Nothing happened this week: all-clear",
    ),
    ("filings", "报送记录", "Filings"),
    ("filed_by", "报送人", "Filed by"),
    ("not_filed", "尚未报送", "Not filed yet"),
    ("content", "内容", "Content"),
    (
        "refile_hint",
        "再次报送会保留每次记录；是否按时以首次报送的服务器接收时间为准。",
        "Filing again keeps every filing; on time or late is judged on the server's receipt of the first.",
    ),
    ("week_dates", "周期", "Dates"),
    ("open_report", "学校周报", "Institution report"),
    ("as_filed", "报送时的情况", "As filed"),
];

/// The interface text of `lang`, by key, for the templates (`t.key`).
pub fn dict(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    TEXT.iter()
        .map(|(k, zh, en)| (*k, if lang == Lang::En { *en } else { *zh }))
        .collect()
}

/// What the audit log's action codes say, in both languages; `export_*` codes by what was
/// exported. An unknown code is shown as it is.
const AUDIT_ACTIONS: &[(&str, &str, &str)] = &[
    ("login", "登录", "Signed in"),
    ("login_failed", "登录失败", "Sign-in failed"),
    ("login_locked", "登录已暂停", "Sign-in paused"),
    ("logout", "退出登录", "Signed out"),
    ("password_changed", "修改密码", "Password changed"),
    (
        "password_change_failed",
        "修改密码失败",
        "Password change failed",
    ),
    ("device_enrolled", "登记设备", "Device enrolled"),
    ("device_revoked", "撤销设备", "Device revoked"),
    ("enroll_failed", "设备登记失败", "Enrolment failed"),
    ("enroll_throttled", "设备登记暂停", "Enrolment paused"),
    ("clock_ahead", "手机时钟超前", "Phone clock ahead"),
    ("checklist_publish", "发布检查表", "Checklist published"),
    ("campaign_create", "创建专项行动", "Campaign created"),
    (
        "campaign_deadlines",
        "修改周报截止时间",
        "Weekly deadlines changed",
    ),
    (
        "institution_report_file",
        "报送学校周报",
        "Weekly report filed",
    ),
    ("admin_department", "新增部门", "Department added"),
    ("admin_site", "新增场所", "Site added"),
    ("admin_user", "新增用户", "User added"),
    ("admin_roles", "修改角色", "Roles changed"),
    ("admin_timezone", "修改时区", "Time zone changed"),
    ("admin_revoke", "撤销设备", "Device revoked"),
    ("admin_deactivate", "停用用户", "User deactivated"),
    ("admin_activate", "启用用户", "User activated"),
    ("duty_slot", "安排值班", "Duty slot set"),
    ("duty_slot_delete", "删除值班", "Duty slot removed"),
    ("duty_holiday", "新增假期", "Holiday added"),
    ("duty_holiday_delete", "删除假期", "Holiday removed"),
    ("admin_contact", "修改联系方式", "Contact changed"),
    ("contact_set", "修改本人联系方式", "Own contact changed"),
];

/// Messages of refused form fields, in English as the server checks them, and in
/// Chinese; `field_error` picks the reader's.
const FIELD_ERRORS: &[(&str, &str)] = &[
    (
        "mobile: digits only, e.g. 13800138000 or +852 9123 4567",
        "手机号：只能填写数字，例如 13800138000 或 +852 9123 4567",
    ),
    (
        "email: an address like name@school.edu.cn",
        "电子邮箱：请填写形如 name@school.edu.cn 的地址",
    ),
    (
        "email: needed to receive messages by e-mail",
        "电子邮箱：通过电子邮件接收提醒需要填写邮箱地址",
    ),
    (
        "contact: only for people of an institution",
        "联系方式：仅适用于本单位人员",
    ),
];

/// A refused field's message in the reader's language (as checked, if not listed).
pub fn field_error(lang: Lang, message: &str) -> String {
    match FIELD_ERRORS.iter().find(|(en, _)| *en == message) {
        Some((_, zh)) if lang != Lang::En => zh.to_string(),
        _ => message.to_string(),
    }
}

/// The audit log's action `code` as the reader's language says it.
pub fn audit_action(lang: Lang, code: &str) -> String {
    let pick = |zh: &str, en: &str| if lang == Lang::En { en } else { zh }.to_string();
    if let Some((_, zh, en)) = AUDIT_ACTIONS.iter().find(|(k, _, _)| *k == code) {
        return pick(zh, en);
    }
    match code.strip_prefix("export_") {
        Some(what) => format!("{} ({what})", pick("导出", "Export")),
        None => code.to_string(),
    }
}

pub fn text(lang: Lang, key: &str) -> &'static str {
    TEXT.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| if lang == Lang::En { *en } else { *zh })
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = super::TEXT.iter().map(|x| x.0).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len());
    }
}
