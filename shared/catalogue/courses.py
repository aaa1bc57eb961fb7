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
