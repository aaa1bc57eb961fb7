"""The courses service's problem codes: the catalogue, registrations, exemptions and grade skips.

Add each code here before the service raises it, in one `codes` call (the package's
docstring shows one), with its status, English and Chinese titles and messages:

    from shared.catalogue import codes
    from shared.catalogue import define as _e

    codes({
        "courses_example_code": _e(409, "Title", "标题", "Message with {param}.", "含 {param} 的说明。"),
    })

A code another module registered already is refused when the package is imported: pick a
new one, or raise the existing code if it means the same thing.
"""

from __future__ import annotations

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # applications (services/courses/applications/); courses_course_not_found and courses_section_not_found are the catalogue's.
    "courses_application_student_required": _e(
        422, "Name the student", "请指明学生",
        "Only a student applies for themself without naming one; name the student (student_id).",
        "只有学生本人申请时可省略学生；请填写 student_id。",
    ),
    "courses_exemption_section_invalid": _e(
        422, "Section does not fit the kind", "教学班与申请类型不符",
        "The exemption cannot be filed: {reason}.", "无法提交免修/免考申请：{reason}。",
    ),
    "courses_exemption_granted": _e(
        409, "Already exempt or completed", "已免修或已修完",
        "Nothing to apply for: {reason}.", "无需申请：{reason}。",
    ),
    "courses_application_open": _e(
        409, "An application is open", "已有待审批的申请",
        "The student already has a pending {kind} application ({application_id}); wait for its decision or withdraw it first.",
        "该学生已有待审批的{kind}申请（{application_id}）；请等待审批结果或先撤回。",
    ),
    "courses_exemption_not_found": _e(
        404, "Exemption application not found", "未找到免修/免考申请",
        "There is no exemption application {application_id} you may see.", "不存在您可查看的免修/免考申请 {application_id}。",
    ),
    "courses_grade_skip_not_found": _e(
        404, "Grade-skip application not found", "未找到跳级申请",
        "There is no grade-skip application {application_id} you may see.", "不存在您可查看的跳级申请 {application_id}。",
    ),
    "courses_application_decided": _e(
        409, "Application already closed", "申请已结束",
        "Application {application_id} is {state}: once decided or withdrawn it does not change.",
        "申请 {application_id} 已{state}：审批或撤回后不再变更。",
    ),
    "courses_grade_unknown": _e(
        409, "Grade not known", "年级未知",
        "The directory holds no grade for student {student_id}; the school records it at the gateway first.",
        "目录中没有学生 {student_id} 的年级；请学校先在网关登记。",
    ),
    "courses_grade_skip_not_above": _e(
        422, "Grade not above the current one", "申请年级不高于当前年级",
        "A grade skip asks for a grade above the student's grade {current_grade}; {to_grade} is not.",
        "跳级申请的年级须高于学生当前年级 {current_grade}；{to_grade} 不符合。",
    ),
    "courses_grade_skip_level_not_yours": _e(
        403, "Not your level", "不属于您的审批层级",
        "The {level} level of a grade skip is decided by the role {level} only.", "跳级申请的 {level} 层级只能由 {level} 角色审批。",
    ),
    "courses_grade_skip_out_of_order": _e(
        409, "Decision out of order", "审批顺序不符",
        "A grade skip is decided by the coordinator, then staff, then admin; this one waits for the {waiting_for} level, "
        "not {level}.",
        "跳级申请依次由学校联络人、基地工作组、教育局审批；本申请正等待 {waiting_for} 层级，而非 {level}。",
    ),
    "courses_grade_skip_wrong_school": _e(
        403, "Another school's student", "非本校学生",
        "The coordinator level of a grade skip is decided by a coordinator of the student's own school only.",
        "跳级申请的学校层级只能由学生所在学校的联络人审批。",
    ),
    # catalogue (services/courses/catalogue/).
    "courses_field_not_nullable": _e(
        422, "Field cannot be null", "字段不能为空",
        "{field} cannot be null; leave it out to keep it as it is.", "{field} 不能为 null；如需保持不变，请不要发送该字段。",
    ),
    "courses_course_not_found": _e(
        404, "Course not found", "未找到课程", "There is no course {course_id}.", "不存在课程 {course_id}。",
    ),
    "courses_course_code_taken": _e(
        409, "Course code taken", "课程代码已被使用",
        "Another course has the code {course_code}; pick another.", "已有其他课程使用代码 {course_code}，请另选。",
    ),
    "courses_grades_invalid": _e(
        422, "Eligible grades do not hold", "适用年级无效",
        "The eligible grades run from min_grade ({min_grade}) up to max_grade ({max_grade}), within 1 to 12.",
        "适用年级应从 min_grade（{min_grade}）到 max_grade（{max_grade}），且在 1 至 12 年级之间。",
    ),
    "courses_prerequisite_not_found": _e(
        422, "Prerequisite not found", "未找到先修课程",
        "The prerequisite {course_id} is no course of the catalogue.", "先修课程 {course_id} 不是目录中的课程。",
    ),
    "courses_prerequisite_self": _e(
        422, "A course is not its own prerequisite", "课程不能以自身为先修",
        "Course {course_id} cannot be a prerequisite of itself.", "课程 {course_id} 不能作为自身的先修课程。",
    ),
    "courses_prerequisite_cycle": _e(
        422, "Prerequisites in a circle", "先修课程循环",
        "These prerequisites would go round in a circle ({cycle}): no student could ever take them.",
        "这些先修课程将形成循环（{cycle}）：任何学生都无法修读。",
    ),
    "courses_term_not_found": _e(
        404, "Term not found", "未找到学期", "There is no term {term_id}.", "不存在学期 {term_id}。",
    ),
    "courses_term_title_taken": _e(
        409, "Term title taken", "学期名称已被使用",
        "Another term is called {title}; pick another title.", "已有学期名为 {title}，请另选名称。",
    ),
    "courses_term_invalid": _e(
        422, "Term does not hold", "学期信息无效", "The term cannot be saved: {reason}.", "学期无法保存：{reason}。",
    ),
    "courses_block_not_found": _e(
        422, "Block not found", "未找到时段",
        "Block {block_id} is no block of term {term_id}.", "时段 {block_id} 不属于学期 {term_id}。",
    ),
    "courses_section_not_found": _e(
        404, "Section not found", "未找到教学班", "There is no section {section_id}.", "不存在教学班 {section_id}。",
    ),
    "courses_section_code_taken": _e(
        409, "Section code taken", "教学班代码已被使用",
        "The course already has a section {section_code} in this term; pick another code.",
        "该课程本学期已有代码为 {section_code} 的教学班，请另选代码。",
    ),
    "courses_host_invalid": _e(
        422, "Host does not hold", "承办方无效", "The section's host does not hold: {reason}.", "教学班承办方无效：{reason}。",
    ),
    "courses_host_not_found": _e(
        422, "Host not found", "未找到承办方",
        "There is no {host_kind} {host_id} in the directory.", "名录中不存在{host_kind} {host_id}。",
    ),
    "courses_teacher_not_found": _e(
        422, "Teacher not found", "未找到授课教师",
        "{teacher_id} is no active person of the directory who may teach (staff, a mentor, a coordinator).",
        "{teacher_id} 不是名录中可授课的有效人员（工作人员、导师或协调员）。",
    ),
    "courses_teacher_name_required": _e(
        422, "Teacher's name required", "需填写授课教师姓名",
        "Give teacher_name, or teacher_id of a person of the directory whose name is shown.",
        "请填写 teacher_name，或填写名录中人员的 teacher_id 以显示其姓名。",
    ),
    "courses_meeting_order": _e(
        422, "Meeting ends before it starts", "课次结束时间早于开始时间",
        "A meeting ends ({ends_at}) at or before it starts ({starts_at}).", "有课次的结束时间（{ends_at}）不晚于开始时间（{starts_at}）。",
    ),
    "courses_meeting_outside_blocks": _e(
        422, "Meeting outside the term's blocks", "课次不在学期时段内",
        "The meeting {starts_at} to {ends_at} is not within one of the term's blocks (its weekend days or a vacation block).",
        "课次 {starts_at} 至 {ends_at} 不在学期的任一时段内（周末或寒暑假时段）。",
    ),
    "courses_meetings_overlap": _e(
        422, "Meetings overlap", "课次时间重叠",
        "Two meetings of the section overlap ({starts_at} and {other_starts_at}).", "该教学班有两个课次时间重叠（{starts_at} 与 {other_starts_at}）。",
    ),
    "courses_weekly_pattern_invalid": _e(
        422, "Weekly pattern does not hold", "每周规律无效", "The weekly pattern does not hold: {reason}.", "每周上课规律无效：{reason}。",
    ),
    "courses_meetings_too_many": _e(
        422, "Too many meetings", "课次过多",
        "A section has at most {limit} meetings; these come to {count}.", "一个教学班最多 {limit} 个课次；当前为 {count} 个。",
    ),
    # registration (services/courses/registration/); an unknown term or section is the catalogue's code.
    "courses_window_not_found": _e(
        404, "Registration window not found", "未找到选课窗口", "There is no registration window {window_id}.", "不存在选课窗口 {window_id}。",
    ),
    "courses_window_exists": _e(
        409, "The term has a window", "该学期已有选课窗口",
        "Term {term_id} has its registration window already ({window_id}); change that one.",
        "学期 {term_id} 已有选课窗口（{window_id}），请修改该窗口。",
    ),
    "courses_window_invalid": _e(
        422, "Window does not hold", "选课窗口无效", "The registration window does not hold: {reason}.", "选课窗口无效：{reason}。",
    ),
    "courses_window_none": _e(
        409, "No registration window", "未设选课窗口",
        "Term {term_id} has no registration window yet.", "学期 {term_id} 尚未设置选课窗口。",
    ),
    "courses_window_no_group": _e(
        409, "In no priority group", "不属于任何优先组",
        "The student falls in none of the window's priority groups.", "该学生不属于选课窗口的任何优先组。",
    ),
    "courses_window_not_open": _e(
        409, "Window not open yet", "选课尚未开放",
        "Registration opens for the student's group ({group}) at {opens_at}.", "该学生所在组（{group}）的选课于 {opens_at} 开放。",
    ),
    "courses_window_closed": _e(
        409, "Window closed", "选课已截止", "Registration for the term closed at {closes_at}.", "本学期选课已于 {closes_at} 截止。",
    ),
    "courses_not_in_programme": _e(
        422, "Not in the programme", "非项目学生",
        "Student {student_id} is not a student of the programme (admitted, not exited).",
        "学生 {student_id} 不是项目在读学生（已录取且未退出）。",
    ),
    "courses_registration_student_required": _e(
        422, "Name the student", "请指定学生", "Staff register a student by naming them: send student_id.",
        "工作人员为学生选课时须指定学生：请提供 student_id。",
    ),
    "courses_student_on_hold": _e(
        409, "Registration on hold", "选课已被暂停",
        "Staff have put a hold on the student's registrations: {reason}.", "工作人员已暂停该学生选课：{reason}。",
    ),
    "courses_grade_not_eligible": _e(
        422, "Grade not eligible", "年级不符合",
        "The course takes grades {min_grade} to {max_grade}; the student is in grade {grade}.",
        "该课程面向 {min_grade} 至 {max_grade} 年级；该学生为 {grade} 年级。",
    ),
    "courses_prerequisite_missing": _e(
        422, "Prerequisite not completed", "先修课程未完成",
        "The student has not completed the prerequisite course(s) {course_ids}.", "该学生尚未完成先修课程 {course_ids}。",
    ),
    "courses_time_conflict": _e(
        409, "Time conflict", "时间冲突",
        "A meeting of the section overlaps one of section {conflicting_section_id}, which the student holds.",
        "该教学班的上课时间与学生已选的教学班 {conflicting_section_id} 冲突。",
    ),
    "courses_load_limit": _e(
        409, "Term load limit reached", "已达本学期选课上限",
        "The student holds {held} section(s) this term; the limit is {load_limit}.", "该学生本学期已选 {held} 个教学班；上限为 {load_limit}。",
    ),
    "courses_registration_not_found": _e(
        404, "Registration not found", "未找到选课记录", "There is no registration {registration_id} you may see.",
        "不存在您可查看的选课记录 {registration_id}。",
    ),
    "courses_drop_deadline_passed": _e(
        409, "Drop deadline passed", "退课已截止", "Seats could be dropped until {drop_deadline}.", "退课截止时间为 {drop_deadline}。",
    ),
    "courses_offer_not_found": _e(
        404, "Offer not found", "未找到名额邀约", "There is no offer {offer_id} of yours.", "不存在您的名额邀约 {offer_id}。",
    ),
    "courses_offer_closed": _e(
        409, "Offer closed", "邀约已结束", "Offer {offer_id} is {state}.", "名额邀约 {offer_id} 已{state}。",
    ),
    "courses_offer_expired": _e(
        409, "Offer past its deadline", "邀约已过期",
        "Offer {offer_id} had to be claimed by {claim_by}.", "名额邀约 {offer_id} 须在 {claim_by} 前确认。",
    ),
    "courses_capacity_invalid": _e(
        422, "Capacity out of range", "容量超出范围",
        "A capacity is between 0 and 10000; {capacity} is not.", "容量须在 0 至 10000 之间；{capacity} 不符合。",
    ),
    "courses_capacity_below_taken": _e(
        409, "Capacity below seats taken", "容量少于已占名额",
        "The capacity {capacity} is below the {taken} seat(s) confirmed or offered.", "容量 {capacity} 少于已确认或已邀约的 {taken} 个名额。",
    ),
    "courses_hold_not_found": _e(
        404, "Hold not found", "未找到选课暂停", "There is no hold {hold_id} you may see.", "不存在您可查看的选课暂停 {hold_id}。",
    ),
})

codes({
    # results (services/courses/results/): attendance per meeting and final results.
    "courses_not_section_teacher": _e(
        403, "Not your section", "非本教学班教师",
        "Only the section's teacher, or staff, record its attendance and results.", "只有该教学班的授课教师或工作人员可以记录考勤和成绩。",
    ),
    "courses_meeting_not_found": _e(
        404, "Meeting not found", "未找到课次",
        "Section {section_id} has no meeting {meeting_id}.", "教学班 {section_id} 没有课次 {meeting_id}。",
    ),
    "courses_meeting_not_started": _e(
        409, "Meeting not started", "课次尚未开始",
        "The meeting starts at {starts_at}; its attendance is recorded once it has started.", "该课次于 {starts_at} 开始；开始后才能记录考勤。",
    ),
    "courses_attendance_status_unknown": _e(
        422, "Unknown attendance status", "未知的考勤状态",
        "{value} is no attendance status: use present, late, absent or excused.", "{value} 不是考勤状态：请使用 present、late、absent 或 excused。",
    ),
    "courses_attendance_student_repeated": _e(
        422, "Student listed twice", "学生重复",
        "Student {student_id} is listed more than once; list each student once.", "学生 {student_id} 出现了不止一次；每名学生只列一次。",
    ),
    "courses_student_not_in_section": _e(
        422, "Not a student of the section", "非本教学班学生",
        "Student {student_id} holds no confirmed seat in section {section_id}.", "学生 {student_id} 在教学班 {section_id} 中没有已确认的名额。",
    ),
    "courses_section_not_started": _e(
        409, "Section not started", "教学班尚未开课",
        "A final result is recorded once the section's first meeting has started ({starts_at}).",
        "教学班首次课（{starts_at}）开始后才能记录最终成绩。",
    ),
    "courses_result_invalid": _e(
        422, "Result does not hold", "成绩无效", "The result cannot be recorded: {reason}.", "无法记录该成绩：{reason}。",
    ),
    "courses_result_reason_required": _e(
        422, "Correction needs a reason", "更正需说明理由",
        "The student's result is recorded already ({outcome}); a correction gives its reason.", "该学生已有成绩（{outcome}）；更正成绩须说明理由。",
    ),
    "courses_result_completed": _e(
        409, "Result completed the course", "成绩已计为课程修完",
        "This result completed the course for the student; only staff correct it.", "该成绩已使学生修完本课程；只有工作人员可以更正。",
    ),
    "courses_completion_in_use": _e(
        409, "Completion in use", "修课记录已被使用",
        "The completion is the prerequisite of section(s) {section_ids} the student is registered for; it cannot be withdrawn.",
        "该修课记录是学生已报名的教学班 {section_ids} 的先修条件，不能撤销。",
    ),
    "courses_course_exempted": _e(
        409, "Course exempted", "课程已免修",
        "The student completed the course by a course exemption; no final result is recorded for it.",
        "该学生已通过免修完成本课程，不再记录最终成绩。",
    ),
    "courses_meetings_attended": _e(
        409, "Meetings hold attendance", "课次已有考勤",
        "Attendance is recorded for meetings of section {section_id}; its meetings can no longer be replaced.",
        "教学班 {section_id} 的课次已记录考勤，不能再替换课次。",
    ),
})
