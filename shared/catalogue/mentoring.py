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
})
