"""The tracking service's problem codes: enrolment and the timeline (later: evaluations, exits, awards, recommendations).

Add each code here before the service raises it, in one `codes` call (the package's
docstring shows one), with its status, English and Chinese titles and messages:

    from shared.catalogue import codes
    from shared.catalogue import define as _e

    codes({
        "tracking_example_code": _e(409, "Title", "标题", "Message with {param}.", "含 {param} 的说明。"),
    })

A code another module registered already is refused when the package is imported: pick a
new one, or raise the existing code if it means the same thing.
"""

from __future__ import annotations

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # Enrolment (services/tracking/enrolment/); the timeline answers an unknown student with student_not_found.
    "tracking_enrolment_not_found": _e(
        404, "Enrolment not found", "未找到在籍记录",
        "There is no enrolment of student {student_id} that you may see.", "不存在您可查看的学生 {student_id} 的在籍记录。",
    ),
    "tracking_school_year_past": _e(
        409, "School year advanced already", "学年已升级",
        "School year {school_year} is before {latest}, which was advanced already; school years advance in order.",
        "{school_year} 学年早于已升级的 {latest} 学年；学年须依次升级。",
    ),
})
