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
})
