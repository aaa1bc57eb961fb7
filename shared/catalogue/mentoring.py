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
    # projects (services/mentoring/projects/).
    "mentoring_project_not_found": _e(
        404, "Project not found", "未找到研究项目", "There is no research project {project_id} you may see.", "不存在您可查看的研究项目 {project_id}。",
    ),
    "mentoring_member_repeated": _e(
        422, "Member listed twice", "成员重复", "Student {student_id} is listed more than once.", "学生 {student_id} 被重复列入。",
    ),
    "mentoring_member_not_mentee": _e(
        422, "Not the mentor's mentee", "不是该导师的学生",
        "Student {student_id} has no open lab mentorship with mentor {mentor_id} in {discipline}; a project's members are its mentor's lab mentees in its discipline.",
        "学生 {student_id} 与导师 {mentor_id} 在 {discipline} 学科没有进行中的实验室指导关系；项目成员须为该导师本学科的实验室学生。",
    ),
    "mentoring_milestone_not_found": _e(
        404, "Milestone not found", "未找到项目节点", "There is no milestone {milestone_id} you may see.", "不存在您可查看的项目节点 {milestone_id}。",
    ),
    "mentoring_due_date_past": _e(
        422, "Due date in the past", "截止时间已过", "The due date {due_at} is not in the future.", "截止时间 {due_at} 不在将来。",
    ),
    "mentoring_submission_not_found": _e(
        404, "Submission not found", "未找到提交", "There is no submission {submission_id} you may review.", "不存在您可评阅的提交 {submission_id}。",
    ),
    "mentoring_submission_superseded": _e(
        409, "Not the latest submission", "不是最新提交",
        "Submission {submission_id} is no longer the one that counts ({latest_id} is); review the latest.",
        "提交 {submission_id} 已不是有效的提交（当前为 {latest_id}）；请评阅最新提交。",
    ),
    "mentoring_defense_not_found": _e(
        404, "Defense not found", "未找到答辩", "There is no defense {defense_id} you may see.", "不存在您可查看的答辩 {defense_id}。",
    ),
    "mentoring_defense_pending": _e(
        409, "A defense is pending", "已有待进行的答辩",
        "The project has defense {defense_id} still undecided; decide it before scheduling another.",
        "该项目已有尚未决定结果的答辩 {defense_id}；请先决定其结果再安排新的答辩。",
    ),
    "mentoring_defense_time_past": _e(
        422, "Defense time in the past", "答辩时间已过", "The defense time {starts_at} is not in the future.", "答辩时间 {starts_at} 不在将来。",
    ),
    "mentoring_rubric_invalid": _e(
        422, "Rubric does not hold", "评分细则无效", "The rubric cannot be used: {reason}.", "评分细则无法使用：{reason}。",
    ),
    "mentoring_judge_repeated": _e(
        422, "Judge named twice", "评委重复", "Mentor {mentor_id} is named more than once.", "导师 {mentor_id} 被重复指定。",
    ),
    "mentoring_judge_not_eligible": _e(
        422, "Judge not eligible", "评委不符合条件",
        "Mentor {mentor_id} cannot judge this defense ({rule}).", "导师 {mentor_id} 不能担任本次答辩评委（{rule}）。",
    ),
    "mentoring_judge_conflicted": _e(
        422, "Judge has a conflict of interest", "评委存在利益冲突",
        "Mentor {mentor_id} has a conflict of interest with student {student_id} ({kinds}).",
        "导师 {mentor_id} 与学生 {student_id} 存在利益冲突（{kinds}）。",
    ),
    "mentoring_panel_one_way": _e(
        422, "Judges or a size", "指定评委或人数",
        "Give either `judges` (name the panel) or `size` (have one proposed), not both and not neither.",
        "请给出 judges（指定评委）或 size（自动生成评审组）二者之一。",
    ),
    "mentoring_panel_infeasible": _e(
        409, "No panel can be proposed", "无法组成评审组",
        "No panel of {size} judges can be proposed ({constraint}): {reason}", "无法组成 {size} 人的评审组（{constraint}）：{reason}",
    ),
    "mentoring_panel_missing": _e(
        409, "No panel yet", "尚无评审组", "Defense {defense_id} has no panel; name or propose its judges first.", "答辩 {defense_id} 尚无评审组；请先指定或生成评委。",
    ),
    "mentoring_not_a_judge": _e(
        404, "Not on the panel", "不是本场评委", "You are not on the panel of defense {defense_id}.", "您不是答辩 {defense_id} 的评委。",
    ),
    "mentoring_defense_scoring_began": _e(
        409, "Scoring has begun", "评分已开始",
        "A judge has scored defense {defense_id}; its panel can no longer change.", "答辩 {defense_id} 已有评委评分，评审组不能再更改。",
    ),
    "mentoring_defense_scores_invalid": _e(
        422, "Scores not on the rubric", "评分不符合细则",
        "{count} score(s) do not fit the defense's rubric; see `errors`.", "有 {count} 项评分不符合答辩评分细则，详见 errors。",
    ),
    "mentoring_defense_not_started": _e(
        409, "Defense not begun", "答辩尚未开始",
        "Defense {defense_id} begins at {starts_at}; its judges score it from then.", "答辩 {defense_id} 于 {starts_at} 开始；评委自开始时起评分。",
    ),
    "mentoring_defense_scores_missing": _e(
        409, "Not every judge has scored", "评委尚未全部评分",
        "{scored} of the {judges} judges have scored; decide once every judge has.", "{judges} 位评委中已有 {scored} 位评分；请在全部评委评分后决定结果。",
    ),
    "mentoring_defense_decided": _e(
        409, "Defense already decided", "答辩结果已决定",
        "Defense {defense_id} was decided at {decided_at}; a defense is decided once.", "答辩 {defense_id} 已于 {decided_at} 决定结果，不能重复决定。",
    ),
    # mentorships (services/mentoring/mentorships/).
    "mentoring_mentorship_not_found": _e(
        404, "Mentorship not found", "未找到指导关系",
        "There is no mentorship {mentorship_id} you may see.", "不存在您可查看的指导关系 {mentorship_id}。",
    ),
    "mentoring_mentorship_ended": _e(
        409, "Mentorship ended", "指导关系已结束",
        "Mentorship {mentorship_id} ended at {ended_at}; an ended mentorship does not change.",
        "指导关系 {mentorship_id} 已于 {ended_at} 结束，不能再更改。",
    ),
    "mentoring_mentorship_not_active": _e(
        409, "Mentorship not active", "指导关系未在进行",
        "Mentorship {mentorship_id} is {state}; this needs an active mentorship.", "指导关系 {mentorship_id} 当前为 {state}，此操作需要进行中的指导关系。",
    ),
    "mentoring_mentorship_not_paused": _e(
        409, "Mentorship not paused", "指导关系未暂停",
        "Mentorship {mentorship_id} is {state}, not paused; only a paused mentorship resumes.",
        "指导关系 {mentorship_id} 当前为 {state}，并未暂停；只有暂停的指导关系可以恢复。",
    ),
    "mentoring_request_pending": _e(
        409, "A request is pending", "已有待处理的申请",
        "Mentorship {mentorship_id} has a pending {kind} request ({mentorship_request_id}); staff decide it before another is made.",
        "指导关系 {mentorship_id} 已有待处理的{kind}申请（{mentorship_request_id}）；须待工作人员处理后才能再次申请。",
    ),
    "mentoring_request_not_found": _e(
        404, "Request not found", "未找到申请",
        "There is no request {mentorship_request_id} of this mentorship.", "该指导关系不存在申请 {mentorship_request_id}。",
    ),
    "mentoring_request_decided": _e(
        409, "Request already decided", "申请已处理",
        "Request {mentorship_request_id} is {state} since {decided_at}; a request is decided once.", "申请 {mentorship_request_id} 已于 {decided_at} 处理为 {state}，不能重复处理。",
    ),
    "mentoring_meeting_not_found": _e(
        404, "Meeting not found", "未找到会面记录",
        "There is no meeting {meeting_id} of this mentorship.", "该指导关系不存在会面记录 {meeting_id}。",
    ),
    "mentoring_meeting_not_author": _e(
        403, "Not the meeting's author", "非会面记录作者",
        "Meeting {meeting_id} is corrected by whoever logged it only.", "会面记录 {meeting_id} 只能由记录者本人更正。",
    ),
    "mentoring_meeting_date_invalid": _e(
        422, "Meeting date does not hold", "会面日期无效",
        "A meeting on {held_on} cannot be logged: {reason}.", "无法记录 {held_on} 的会面：{reason}。",
    ),
    "mentoring_goal_not_found": _e(
        404, "Goal not found", "未找到目标", "There is no goal {goal_id} of this mentorship.", "该指导关系不存在目标 {goal_id}。",
    ),
    "mentoring_goal_invalid": _e(
        422, "Goal does not hold", "目标无效", "The goal cannot be saved: {reason}.", "目标无法保存：{reason}。",
    ),
    "mentoring_goal_closed": _e(
        409, "Goal closed", "目标已结束",
        "Goal {goal_id} is {state}; a goal achieved or dropped takes no more updates.", "目标 {goal_id} 已{state}，不再接受进度更新。",
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
