"""The mentoring service's problem codes: the mentors' registry and who needs a mentor (see shared/catalogue/__init__.py)."""

from __future__ import annotations

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # Mentors (services/mentoring/mentors/).
    "mentoring_not_a_mentor": _e(
        422, "Not a mentor", "不是导师账号",
        "{person_id} is not an active account with the mentor role; give the role at the gateway first.",
        "{person_id} 不是具有导师角色的有效账号；请先在网关为其授予导师角色。",
    ),
    "mentoring_mentor_not_found": _e(
        404, "Mentor not found", "未找到导师",
        "There is no registered mentor {mentor_id} you may see.", "不存在您可查看的已登记导师 {mentor_id}。",
    ),
    "mentoring_mentor_entry_invalid": _e(
        422, "Mentor entry does not hold", "导师信息不一致",
        "The entry cannot be saved: {reason}.", "导师信息无法保存：{reason}。",
    ),
    "mentoring_capacity_below_mentees": _e(
        409, "Capacity below current mentees", "名额少于现有学生",
        "The {kind} capacity {capacity} is below the {mentees} mentee(s) the mentor has now; end or move mentorships first.",
        "{kind} 名额 {capacity} 少于该导师现有的 {mentees} 名学生；请先结束或调整指导关系。",
    ),
})
