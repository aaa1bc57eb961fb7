"""The selection service's problem codes: campaigns and stages, nominations, assessments (see shared/catalogue/__init__.py).

A refusal of eligibility names its rule: the code says which (`selection_grade_not_eligible`,
`selection_discipline_not_offered`, `selection_nomination_closed`, ...) and the problem's
`rule` parameter repeats it in one word (grade, discipline, window, school, limit).
"""

from __future__ import annotations

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # Campaigns and stages (services/selection/campaigns.py).
    "selection_campaign_not_found": _e(
        404, "Campaign not found", "未找到选拔活动",
        "There is no selection campaign {campaign_id}.",
        "不存在选拔活动 {campaign_id}。",
    ),
    "selection_campaign_year_taken": _e(
        409, "A campaign for this year exists", "该年度已有选拔活动",
        "There is a selection campaign for {year} already; a year has one campaign.",
        "{year} 年已有选拔活动；每年只有一个。",
    ),
    "selection_stage_skipped": _e(
        409, "Stages go in order", "阶段须依次推进",
        "The campaign is in stage {current}; the next stage is {next}, not {requested}.",
        "选拔活动处于 {current} 阶段；下一阶段是 {next}，不是 {requested}。",
    ),
    "selection_stage_incomplete": _e(
        409, "Stage not complete", "阶段尚未完成",
        "The {stage} stage is not complete ({missing}); close it with a reason to move on anyway.",
        "{stage} 阶段尚未完成（{missing}）；如仍要推进，请填写理由后关闭该阶段。",
    ),
    "selection_stage_must_complete": _e(
        409, "Stage must be complete", "阶段必须完成",
        "The {stage} stage cannot be closed early: {missing}.",
        "{stage} 阶段不能提前关闭：{missing}。",
    ),
    "selection_stage_closed": _e(
        409, "Stage not open", "阶段未开放",
        "The campaign takes this only in its {stage} stage while open; it is in {current}{closed}.",
        "选拔活动仅在 {stage} 阶段开放期间受理此操作；当前为 {current}{closed}。",
    ),
    "selection_deadline_invalid": _e(
        409, "Deadline not accepted", "截止时间无效",
        "The deadline of the {stage} stage cannot be set: {reason}.",
        "无法设置 {stage} 阶段的截止时间：{reason}。",
    ),
    "selection_weights_frozen": _e(
        409, "Weights frozen", "权重已锁定",
        "The weight of the {stage} stage is frozen: the stage has opened.",
        "{stage} 阶段已开始，其权重已锁定。",
    ),
    "selection_discipline_repeated": _e(
        422, "Discipline given twice", "学科重复",
        "The campaign lists {discipline} more than once.", "选拔活动中 {discipline} 学科出现了不止一次。",
    ),
    "selection_grades_invalid": _e(
        422, "Grades reversed", "年级范围颠倒",
        "{discipline}: max_grade {max_grade} is below min_grade {min_grade}.", "{discipline}：最高年级 {max_grade} 低于最低年级 {min_grade}。",
    ),
    "selection_weights_invalid": _e(
        422, "No stage counts", "各阶段权重均为零",
        "{discipline}: at least one stage needs a weight above 0.", "{discipline}：至少一个阶段的权重须大于 0。",
    ),
    "selection_scale_invalid": _e(
        422, "Scale empty", "分数范围无效",
        "{scale}: max {max} must be above min {min}.", "{scale}：最高分 {max} 须高于最低分 {min}。",
    ),
    "selection_student_required": _e(
        422, "Student missing", "缺少学生",
        "A school's nomination names the student (student_id).", "学校推荐须指明学生（student_id）。",
    ),
    "selection_discipline_not_offered": _e(
        422, "Discipline not in this campaign", "本次选拔不含该学科",
        "The campaign does not select for {discipline} (rule: {rule}).",
        "本次选拔活动不含 {discipline} 学科（规则：{rule}）。",
    ),
    # Nominations and candidates (services/selection/nominations.py).
    "selection_candidate_not_found": _e(
        404, "Candidate not found", "未找到候选人",
        "There is no candidate {candidate_id} you may see.",
        "不存在您可查看的候选人 {candidate_id}。",
    ),
    "selection_nomination_closed": _e(
        409, "Nominations are not open", "提名未开放",
        "Nominations are taken only while the campaign's nomination stage is open (rule: {rule}).",
        "仅在选拔活动提名阶段开放期间受理提名（规则：{rule}）。",
    ),
    "selection_grade_not_eligible": _e(
        422, "Grade not eligible", "年级不符合条件",
        "{discipline} takes students of grades {min_grade} to {max_grade}; the student is in grade {grade} (rule: {rule}).",
        "{discipline} 学科招收 {min_grade} 至 {max_grade} 年级的学生；该生为 {grade} 年级（规则：{rule}）。",
    ),
    "selection_school_required": _e(
        422, "Student has no school", "学生无所属学校",
        "The student is not registered at a school, which a nomination needs (rule: {rule}).",
        "该生未登记所属学校，无法提名（规则：{rule}）。",
    ),
    "selection_school_limit_reached": _e(
        409, "School's nominations used up", "学校推荐名额已满",
        "The school has nominated {limit} students in this campaign, its limit (rule: {rule}).",
        "该校在本次选拔中已推荐 {limit} 名学生，已达上限（规则：{rule}）。",
    ),
    "selection_nomination_duplicate": _e(
        409, "Already nominated", "已提名",
        "The student already has a {source} nomination for {discipline} in this campaign.",
        "该生在本次选拔中已有 {discipline} 学科的{source}提名。",
    ),
    "selection_not_a_student": _e(
        422, "Not a student", "不是学生",
        "Only students can be nominated; {student_id} is not an active student (rule: {rule}).",
        "只能提名学生；{student_id} 不是在读学生账号（规则：{rule}）。",
    ),
    "selection_source_not_allowed": _e(
        403, "Not your nomination to make", "无权提交此类提名",
        "A {source} nomination is made by {who}.",
        "{source} 提名须由{who}提交。",
    ),
    "selection_withdrawal_not_allowed": _e(
        403, "Not yours to withdraw", "无权撤回",
        "Only the student or one of their guardians may withdraw a candidacy.",
        "只有学生本人或其监护人可以撤回报名。",
    ),
    "selection_candidate_withdrawn": _e(
        409, "Candidate withdrawn", "候选人已退出",
        "The candidate withdrew on {withdrawn_at}.",
        "该候选人已于 {withdrawn_at} 退出。",
    ),
    "selection_withdrawal_closed": _e(
        409, "Too late to withdraw", "已无法退出",
        "A candidate can withdraw until decisions are made; the campaign is in its {current} stage.",
        "候选人可在作出录取决定前退出；选拔活动当前为 {current} 阶段。",
    ),
    # Assessments (services/selection/assessments.py).
    "selection_score_out_of_scale": _e(
        422, "Score out of scale", "分数超出范围",
        "The {stage} score must be between {min} and {max}; {score} is not.",
        "{stage} 分数须在 {min} 至 {max} 之间；{score} 不在范围内。",
    ),
    "selection_score_state_mismatch": _e(
        422, "Score and state disagree", "分数与状态不符",
        "A scored result needs a score; an absent or exempt one has none (this one is {state}).",
        "“已评分”的成绩须有分数；“缺考”或“免考”的成绩不填分数（此条为 {state}）。",
    ),
    # Rows of an uploaded scores sheet (services/selection/assessments/sheets.py).
    "selection_row_candidate_invalid": _e(
        422, "Not a candidate id", "候选人编号无效",
        "{column} must be a candidate id as the roster gives it.", "{column}须为名单中的候选人编号。",
    ),
    "selection_row_candidate_unknown": _e(
        422, "Not a candidate of this campaign", "不是本次选拔的候选人",
        "{column}: no candidate of this campaign still in the running has this id.", "{column}：本次选拔中没有此编号的在选候选人。",
    ),
    "selection_row_score_missing": _e(
        422, "Score missing", "缺少分数",
        "{column} is empty: a scored result needs a score (write absent or exempt in the state column otherwise).",
        "{column}为空：已评分的成绩须填写分数（否则请在状态列填写“缺考”或“免考”）。",
    ),
    "selection_row_score_with_state": _e(
        422, "Score with absent or exempt", "缺考或免考不应有分数",
        "{column} must be empty for a result that is {state}.", "状态为 {state} 的成绩，{column}须留空。",
    ),
    # Results (services/selection/results/).
    "selection_decision_reason_required": _e(
        422, "Reason required", "须说明理由",
        "The ranking proposes {proposal}; deciding {outcome} instead needs a written reason.",
        "排名建议为 {proposal}；如决定为 {outcome}，须书面说明理由。",
    ),
    "selection_not_published": _e(
        404, "Not published", "尚未公示",
        "The campaign's results have not been published.", "该选拔活动的结果尚未公示。",
    ),
    "selection_objection_window_closed": _e(
        409, "Objections closed", "异议期已结束",
        "Objections are taken only while the published list is open to them.", "仅在公示异议期内受理异议。",
    ),
    "selection_objection_duplicate": _e(
        409, "Already objected", "已提出异议",
        "You have objected to this candidate's admission already; one objection per person and candidate.",
        "您已对该候选人的录取提出过异议；每人对每位候选人只能提出一次。",
    ),
    "selection_objection_not_found": _e(
        404, "Objection not found", "未找到异议",
        "There is no objection {objection_id}.", "不存在异议 {objection_id}。",
    ),
    "selection_objection_answered": _e(
        409, "Already answered", "已答复",
        "The objection was answered on {answered_at}.", "该异议已于 {answered_at} 答复。",
    ),
    "selection_explanation_not_ready": _e(
        409, "Not yet decided", "尚未作出决定",
        "The explanation of a result is given once the results are published.", "结果公示后方可查看结果说明。",
    ),
    "selection_person_required": _e(
        403, "A person's account needed", "须以个人账号操作",
        "Objections are made by people signed in with their own account, not by machine clients.",
        "异议须由本人登录个人账号提出，不能由机器客户端提出。",
    ),
    # Experts (services/selection/panels/).
    "selection_not_an_expert": _e(
        422, "Not an expert", "不是专家账号",
        "{person_id} is not an active account with the expert role; give the role at the gateway first.",
        "{person_id} 不是具有专家角色的有效账号；请先在网关为其授予专家角色。",
    ),
    "selection_expert_not_found": _e(
        404, "Expert not found", "未找到专家",
        "There is no registered expert {expert_id} you may see.", "不存在您可查看的已登记专家 {expert_id}。",
    ),
    "selection_assignment_infeasible": _e(
        409, "Panels cannot be assigned", "无法分配评审组",
        "The interview panels cannot be assigned ({constraint}): {reason}",
        "无法分配面试评审组（{constraint}）：{reason}",
    ),
    "selection_rubric_frozen": _e(
        409, "Rubric frozen", "评分细则已锁定",
        "The interview has opened: its rubric no longer changes.", "面试已开始，评分细则不再更改。",
    ),
    "selection_rubric_missing": _e(
        409, "No rubric", "缺少评分细则",
        "The interview of {discipline} has no rubric; staff set it first.", "{discipline} 学科的面试尚无评分细则，须由工作人员先行设置。",
    ),
    "selection_rubric_scores_invalid": _e(
        422, "Scores not on the rubric", "评分不符合细则",
        "{count} score(s) do not fit the rubric; see `errors`.", "有 {count} 项评分不符合细则，详见 errors。",
    ),
    "selection_conflicted": _e(
        403, "Conflict of interest", "存在利益冲突",
        "You have a conflict of interest with candidate {candidate_id}: you may not score them.", "您与候选人 {candidate_id} 存在利益冲突，不得评分。",
    ),
    "selection_scores_hidden": _e(
        403, "Submit your own first", "请先提交本人评分",
        "The other panel members' scores are shown once you have submitted yours.", "提交本人评分后，方可查看评审组其他成员的评分。",
    ),
    "selection_rubric_invalid": _e(
        422, "Rubric does not hold", "评分细则无效",
        "The rubric cannot be used: {reason}.", "评分细则无法使用：{reason}。",
    ),
    "selection_scoring_began": _e(
        409, "Scoring has begun", "评分已开始",
        "Experts have begun scoring: the panels are no longer reassigned.", "专家已开始评分，评审组不再重新分配。",
    ),
    # Manual edits of a panel and adjudication (services/selection/panels/).
    "selection_not_on_panel": _e(
        409, "Not on the panel", "不在评审组中",
        "Expert {expert_id} does not sit on candidate {candidate_id}'s panel.", "专家 {expert_id} 不在候选人 {candidate_id} 的评审组中。",
    ),
    "selection_already_on_panel": _e(
        409, "Already on the panel", "已在评审组中",
        "Expert {expert_id} already sits on candidate {candidate_id}'s panel.", "专家 {expert_id} 已在候选人 {candidate_id} 的评审组中。",
    ),
    "selection_expert_inactive": _e(
        409, "Expert paused", "专家已暂停",
        "Expert {expert_id} is not active: make them active before assigning them.", "专家 {expert_id} 未处于启用状态，须先启用后再分配。",
    ),
    "selection_expert_full": _e(
        409, "Expert at their maximum", "专家已满额",
        "Expert {expert_id} already interviews {load} candidate(s), their maximum.", "专家 {expert_id} 已面试 {load} 名候选人，达到其上限。",
    ),
    "selection_assignment_conflicted": _e(
        409, "Conflict of interest", "存在利益冲突",
        "Expert {expert_id} has a conflict of interest with the candidate ({kinds}): they may not sit on the panel.",
        "专家 {expert_id} 与该候选人存在利益冲突（{kinds}），不得进入评审组。",
    ),
    "selection_not_flagged": _e(
        409, "Nothing to adjudicate", "无需裁定",
        "Candidate {candidate_id}'s panel agrees within {threshold} points: there is nothing to adjudicate.",
        "候选人 {candidate_id} 的评审组评分差异在 {threshold} 分以内，无需裁定。",
    ),
})
