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
})
