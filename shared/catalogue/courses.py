"""The courses service's problem codes (courses, sections and registrations).

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
    # registration (services/courses/registration/).
    "courses_registration_term_not_found": _e(
        404, "Term not found", "未找到学期", "There is no term {term_id}.", "不存在学期 {term_id}。",
    ),
    "courses_registration_section_not_found": _e(
        404, "Section not found", "未找到教学班", "There is no section {section_id}.", "不存在教学班 {section_id}。",
    ),
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
