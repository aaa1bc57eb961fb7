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
    # Rounds and preferences (services/mentoring/rounds/).
    "mentoring_round_not_found": _e(
        404, "Round not found", "未找到匹配轮次", "There is no matching round {round_id}.", "不存在匹配轮次 {round_id}。",
    ),
    "mentoring_round_window_invalid": _e(
        422, "Window does not hold", "时间窗口无效",
        "The preference window does not hold: {reason}.", "志愿填报窗口无效：{reason}。",
    ),
    "mentoring_window_closed": _e(
        409, "Preferences window closed", "志愿填报未开放",
        "Preferences for this round are taken from {opens_at} until {closes_at}.", "本轮志愿填报时间为 {opens_at} 至 {closes_at}。",
    ),
    "mentoring_round_takes_no_preferences": _e(
        409, "No preferences in a life round", "生活导师轮次不填志愿",
        "A life-mentor round balances the mentors' load: students do not rank mentors in it.",
        "生活导师轮次按导师负载均衡分配，学生无需填报志愿。",
    ),
    "mentoring_need_not_found": _e(
        404, "Need not found", "未找到待匹配需求",
        "There is no open need {need_id} of yours for this round.", "不存在您在本轮可填报的待匹配需求 {need_id}。",
    ),
    "mentoring_preference_repeated": _e(
        422, "Mentor listed twice", "导师重复填报", "Mentor {mentor_id} is listed more than once.", "导师 {mentor_id} 被重复填报。",
    ),
    "mentoring_mentor_not_eligible": _e(
        422, "Mentor not eligible", "导师不符合条件",
        "Mentor {mentor_id} cannot be ranked for this need ({rule}).", "导师 {mentor_id} 不能填报于该需求（{rule}）。",
    ),
    "mentoring_mentor_conflicted": _e(
        422, "Conflict of interest", "存在利益冲突",
        "Mentor {mentor_id} has a conflict of interest with the student ({kinds}).", "导师 {mentor_id} 与该学生存在利益冲突（{kinds}）。",
    ),
    # Runs: mentors' rankings, drafts, forced and banned pairs, publication (services/mentoring/runs/).
    "mentoring_applicant_repeated": _e(
        422, "Student ranked twice", "学生重复排序", "Need {need_id} is ranked more than once.", "需求 {need_id} 被重复排序。",
    ),
    "mentoring_applicant_unknown": _e(
        422, "Not an applicant", "不是申请者",
        "Need {need_id} did not list mentor {mentor_id} in this round; a mentor ranks the students who listed them.",
        "需求 {need_id} 在本轮未填报导师 {mentor_id}；导师只能为填报了自己的学生排序。",
    ),
    "mentoring_round_published": _e(
        409, "Round already published", "本轮已发布",
        "Round {round_id} was published with run {run_id}; its pairs are mentorships now. Open a new round for the students still waiting.",
        "轮次 {round_id} 已以方案 {run_id} 发布，其配对已成为指导关系；尚未匹配的学生请在新轮次中匹配。",
    ),
    "mentoring_window_open": _e(
        409, "Preferences still open", "志愿填报尚未截止",
        "The round's preferences are taken until {closes_at}; draft its run after that.", "本轮志愿填报至 {closes_at}，截止后方可生成匹配方案。",
    ),
    "mentoring_force_invalid": _e(
        409, "Forced pair no longer holds", "指定配对不再成立",
        "The pair forced for need {need_id} with mentor {mentor_id} no longer holds ({rule}); lift it or force another.",
        "为需求 {need_id} 指定的导师 {mentor_id} 已不再可行（{rule}）；请取消或另行指定。",
    ),
    "mentoring_force_over_capacity": _e(
        409, "Forced beyond the places", "指定超出名额",
        "{forced} student(s) are forced on mentor {mentor_id}, who has {places} place(s) left.",
        "为导师 {mentor_id} 指定了 {forced} 名学生，但其仅剩 {places} 个名额。",
    ),
    "mentoring_override_not_found": _e(
        404, "No such forced or banned pair", "未找到指定或禁止的配对",
        "Need {need_id} and mentor {mentor_id} are neither forced nor banned in this round.", "本轮中需求 {need_id} 与导师 {mentor_id} 既未被指定也未被禁止。",
    ),
    "mentoring_run_not_found": _e(
        404, "Run not found", "未找到匹配方案", "There is no run {run_id} of this round you may see.", "本轮不存在您可查看的匹配方案 {run_id}。",
    ),
    "mentoring_run_published": _e(
        409, "Run already published", "方案已发布",
        "Run {run_id} was published at {published_at}; a run is published once.", "方案 {run_id} 已于 {published_at} 发布，不能重复发布。",
    ),
    "mentoring_run_superseded": _e(
        409, "Run superseded", "方案已被取代",
        "Run {run_id} is no longer the round's draft ({draft_id} is); publish the draft.", "方案 {run_id} 已不是本轮的当前草案（当前为 {draft_id}）；请发布当前草案。",
    ),
    "mentoring_run_stale": _e(
        409, "Run out of date", "方案已过时",
        "What run {run_id} rests on has changed (needs no longer waiting: {needs}; mentors without the places: {mentors}); draft the run again.",
        "方案 {run_id} 所依据的情况已变化（不再等待匹配的需求：{needs}；名额不足的导师：{mentors}）；请重新生成方案。",
    ),
    # lectures (services/mentoring/lectures/).
    "mentoring_lecture_not_found": _e(
        404, "Lecture not found", "未找到讲座", "There is no lecture {lecture_id} you may see.", "不存在您可查看的讲座 {lecture_id}。",
    ),
    "mentoring_lecture_invalid": _e(
        422, "Lecture does not hold", "讲座信息无效", "The lecture cannot be saved: {reason}.", "讲座信息无法保存：{reason}。",
    ),
    "mentoring_time_zone_required": _e(
        422, "Time zone required", "需要时区",
        "Give `{field}` with its time zone, e.g. 2027-03-06T09:00:00+08:00.", "请为 `{field}` 注明时区，例如 2027-03-06T09:00:00+08:00。",
    ),
    "mentoring_lecture_capacity_below_taken": _e(
        409, "Capacity below places taken", "名额少于已报名人数",
        "The capacity {capacity} is below the {taken} place(s) taken; registrations are not cancelled for it.",
        "名额 {capacity} 少于已报名的 {taken} 人；不会为此取消报名。",
    ),
    "mentoring_lecture_cancelled": _e(
        409, "Lecture cancelled", "讲座已取消", "Lecture {lecture_id} was cancelled ({reason}).", "讲座 {lecture_id} 已取消（{reason}）。",
    ),
    "mentoring_lecture_started": _e(
        409, "Lecture started", "讲座已开始",
        "Lecture {lecture_id} started at {starts_at}; registrations and cancellations close when it starts.",
        "讲座 {lecture_id} 已于 {starts_at} 开始；报名与取消在讲座开始时截止。",
    ),
    "mentoring_lecture_not_started": _e(
        409, "Lecture not started", "讲座尚未开始",
        "Lecture {lecture_id} starts at {starts_at}; attendance is marked after it starts.", "讲座 {lecture_id} 将于 {starts_at} 开始；开始后方可登记出勤。",
    ),
    "mentoring_lecture_full": _e(
        409, "Lecture full", "讲座已满",
        "All {capacity} places of lecture {lecture_id} are taken; nothing was stored. Try again if someone cancels.",
        "讲座 {lecture_id} 的 {capacity} 个名额已满，未作任何登记；如有人取消可再次报名。",
    ),
    "mentoring_not_in_programme": _e(
        422, "Not a student of the programme", "不是本项目学生",
        "{student_id} is not a student of the programme (admitted, not exited, with an active account).",
        "{student_id} 不是本项目的学生（须已录取、未退出且账号有效）。",
    ),
    "mentoring_registration_student_required": _e(
        422, "Student required", "需要指定学生", "Name the student (student_id) you register.", "请用 student_id 指明为哪位学生报名。",
    ),
    "mentoring_registration_not_found": _e(
        404, "Registration not found", "未找到报名", "There is no registration {registration_id} of this lecture you may see.",
        "本讲座不存在您可查看的报名 {registration_id}。",
    ),
    "mentoring_registration_cancelled": _e(
        409, "Registration cancelled", "报名已取消",
        "Registration {registration_id} was cancelled ({reason}); its attendance is not marked.", "报名 {registration_id} 已取消（{reason}），不登记出勤。",
    ),
})
