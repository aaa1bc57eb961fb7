"""The courses service's problem codes (courses, sections and registrations); none yet.

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

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # applications (services/courses/applications/).
    "courses_course_not_found": _e(
        404, "Course not found", "未找到课程", "There is no course {course_id}.", "不存在课程 {course_id}。",
    ),
    "courses_section_not_found": _e(
        404, "Section not found", "未找到教学班", "There is no section {section_id} of this course.", "该课程不存在教学班 {section_id}。",
    ),
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
})
