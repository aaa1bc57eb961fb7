"""The gateway's problem codes: the proxy, tokens and limits, identity, personal data, imports and consent (see shared/catalogue/__init__.py)."""

from __future__ import annotations

from shared.catalogue import codes
from shared.catalogue import define as _e

codes({
    # The proxy (services/gateway/proxy.py).
    "service_unavailable": _e(
        502, "Service unavailable", "服务不可用",
        "The {service} service did not answer.",
        "{service} 服务未响应。",
    ),
    "service_timeout": _e(
        504, "Service timed out", "服务超时",
        "The {service} service did not answer within {timeout} seconds.",
        "{service} 服务在 {timeout} 秒内未响应。",
    ),
    "unknown_service": _e(
        404, "Unknown service", "未知服务",
        "There is no service named {service}.",
        "不存在名为 {service} 的服务。",
    ),
    "invalid_path": _e(
        400, "Path not forwarded", "路径无法转发",
        "The gateway does not forward the path {path}: {reason}.",
        "网关不转发路径 {path}：{reason}。",
    ),
    # Tokens, machine clients and limits (services/gateway/tokens, services/gateway/limits).
    # The token endpoint's answers also carry RFC 6749's `error` member for OAuth clients.
    "token_request_invalid": _e(
        400, "Invalid token request", "令牌请求无效",
        "The token request is malformed: {reason}.",
        "令牌请求格式错误：{reason}。",
    ),
    "unsupported_grant_type": _e(
        400, "Unsupported grant type", "不支持的授权类型",
        "The grant type {grant_type} is not supported; use password, client_credentials or refresh_token.",
        "不支持授权类型 {grant_type}；请使用 password、client_credentials 或 refresh_token。",
    ),
    "invalid_scope": _e(
        400, "Scope not allowed", "权限范围不允许",
        "The requested scope is not allowed for this caller: {scope}.",
        "调用方无权申请以下权限范围：{scope}。",
    ),
    "invalid_client": _e(
        401, "Client authentication failed", "客户端认证失败",
        "The client id or secret is wrong, or the client is disabled.",
        "客户端编号或密钥错误，或该客户端已停用。",
    ),
    "invalid_credentials": _e(
        401, "Wrong username or password", "用户名或密码错误",
        "The username or password is wrong, or the account cannot sign in.",
        "用户名或密码错误，或该账号无法登录。",
    ),
    "invalid_refresh_token": _e(
        401, "Invalid refresh token", "刷新令牌无效",
        "The refresh token is not valid (unknown, expired, revoked or already used); sign in again.",
        "刷新令牌无效（不存在、已过期、已撤销或已被使用），请重新登录。",
    ),
    "unsupported_token_type": _e(
        400, "Token type cannot be revoked", "该类型令牌不可撤销",
        "Access tokens cannot be revoked; they expire within {ttl} seconds. Revoke the refresh token.",
        "访问令牌不可撤销，将在 {ttl} 秒内过期；请撤销刷新令牌。",
    ),
    "login_throttled": _e(
        429, "Too many failed sign-ins", "登录失败次数过多",
        "Too many failed sign-ins for this account; try again in {retry_after} seconds.",
        "该账号登录失败次数过多，请在 {retry_after} 秒后重试。",
    ),
    "rate_limited": _e(
        429, "Too many requests", "请求过于频繁",
        "Too many requests; try again in {retry_after} seconds.",
        "请求过于频繁，请在 {retry_after} 秒后重试。",
    ),
    "client_not_found": _e(
        404, "Client not found", "客户端不存在",
        "There is no machine client {client_id}.",
        "不存在编号为 {client_id} 的机器客户端。",
    ),
    "client_id_taken": _e(
        409, "Client id taken", "客户端编号已被使用",
        "A machine client with the id {client_id} already exists.",
        "编号为 {client_id} 的机器客户端已存在。",
    ),
    "client_partner_required": _e(
        422, "Partner required", "须指定合作单位",
        "A client with the role partner must name its partner university, and only such a client may.",
        "角色为 partner 的客户端必须指定其合作高校，其他客户端不得指定。",
    ),
    "client_partner_unknown": _e(
        422, "Unknown partner", "合作单位不存在",
        "There is no partner university {partner}.",
        "不存在合作高校 {partner}。",
    ),
    # Identity and personal data (services/gateway/identity).
    "school_not_found": _e(404, "School not found", "学校不存在", "There is no school {school_id}.", "学校 {school_id} 不存在。"),
    "school_name_taken": _e(
        409, "School name taken", "学校名称已存在",
        "A school named {name} already exists.", "名为 {name} 的学校已存在。",
    ),
    "user_not_found": _e(404, "User not found", "用户不存在", "There is no user {user_id}.", "用户 {user_id} 不存在。"),
    "student_not_found": _e(
        404, "Student not found", "学生不存在",
        "There is no student {student_id} that you may see.", "不存在您有权查看的学生 {student_id}。",
    ),
    "username_taken": _e(
        409, "Username taken", "用户名已被占用",
        "The username {username} is already taken.", "用户名 {username} 已被占用。",
    ),
    "id_number_taken": _e(
        409, "ID number already registered", "身份证号已登记",
        "A person with this ID number is already registered.", "该身份证号已登记。",
    ),
    "profile_invalid": _e(
        422, "Inconsistent profile", "用户资料不一致",
        "The profile is inconsistent: {reason}.", "用户资料不一致：{reason}。",
    ),
    "weak_password": _e(
        422, "Password not accepted", "密码不符合要求",
        "The password must have {reason}.", "密码须满足：{reason}。",
    ),
    "access_reason_required": _e(
        400, "Access reason required", "需要说明访问理由",
        "Reading unmasked personal data needs a reason: send the X-Access-Reason header (3 to 200 characters).",
        "查看未脱敏的个人信息须说明理由：请在 X-Access-Reason 请求头中填写（3 至 200 个字符）。",
    ),
    "reveal_forbidden": _e(
        403, "May not see personal data", "无权查看个人信息",
        "Your role may not see this person's {fields} unmasked.", "您的角色无权查看此人未脱敏的{fields}。",
    ),
    "not_a_guardian": _e(
        422, "Not a guardian", "不是监护人",
        "User {user_id} does not have the guardian role.", "用户 {user_id} 不具有监护人角色。",
    ),
    "not_a_student": _e(
        422, "Not a student", "不是学生",
        "User {user_id} does not have the student role.", "用户 {user_id} 不具有学生角色。",
    ),
    "guardian_link_not_found": _e(
        404, "Guardian link not found", "监护关系不存在",
        "User {guardian_id} is not linked to student {student_id}.", "用户 {guardian_id} 与学生 {student_id} 之间不存在监护关系。",
    ),
    "partner_not_found": _e(
        404, "Partner not found", "合作单位不存在", "There is no partner {partner_id}.", "合作单位 {partner_id} 不存在。",
    ),
    "partner_name_taken": _e(
        409, "Partner name taken", "合作单位名称已存在",
        "A partner named {name} already exists.", "名为 {name} 的合作单位已存在。",
    ),
    # A student's school data that cannot be accepted (services/gateway/identity/validation.py).
    "grade_missing": _e(422, "Grade missing", "缺少年级", "The grade is empty.", "年级为空。"),
    "grade_invalid": _e(
        422, "Invalid grade", "年级格式错误",
        "Write the grade as a number 1-12, or by its Chinese name (first year of middle school is 7, of high school 10).", "年级请写作 1-12、初一至初三、高一至高三或一年级至六年级。",
    ),
    "grade_out_of_range": _e(
        422, "Grade out of range", "年级超出范围",
        "The grade must be between 1 and 12 (and within its school stage).", "年级须在 1 至 12 之间（且符合学段）。",
    ),
    # Bulk import of students (services/gateway/identity/imports.py); reading the file is shared/sheets'.
    "import_rejected": _e(
        422, "Import rejected", "导入被拒绝",
        "{count} row(s) of the file cannot be imported, so nothing was imported; see `errors` (by line), fix them and send the file again, or send it with mode=valid_rows_only to import the good rows.",
        "文件中有 {count} 行无法导入，因此未导入任何数据；请按 `errors` 中的行号修正后重新上传，或使用 mode=valid_rows_only 仅导入无误的行。",
    ),
    "username_invalid": _e(
        422, "Invalid username", "用户名格式错误",
        "A username is 3-100 letters, digits or _ . @ - and starts with a letter or digit.",
        "用户名须为 3 至 100 个字母、数字或 _ . @ -，并以字母或数字开头。",
    ),
    "school_unknown": _e(
        422, "Unknown school", "学校不存在",
        "No school is registered under this name.", "没有以该名称登记的学校。",
    ),
    "school_not_yours": _e(
        422, "Another school", "非本校学校",
        "A coordinator may import students of their own school only.", "协调员只能导入本校学生。",
    ),
    "student_exists": _e(
        422, "Already registered", "学生已登记",
        "A person with this ID number is already registered.", "该身份证号对应的人员已登记。",
    ),
    "guardian_mismatch": _e(
        422, "Guardian does not match", "监护人信息不符",
        "A guardian with this phone is registered under another name; check the phone number.",
        "该手机号已登记在另一位监护人名下，请核对手机号。",
    ),
    "guardian_is_student": _e(
        422, "Guardian is the student", "监护人与学生相同",
        "The guardian's phone is the student's own.", "监护人手机号与学生本人相同。",
    ),
    # Consent (services/gateway/consent).
    "consent_not_found": _e(
        404, "Consent not found", "同意记录不存在", "There is no consent {consent_id} that you may see.", "不存在您有权查看的同意记录 {consent_id}。",
    ),
    "consent_already_given": _e(
        409, "Consent already given", "已同意",
        "Consent {consent_id} for this purpose is already in force.", "该用途的同意（{consent_id}）已经生效。",
    ),
    "consent_already_withdrawn": _e(
        409, "Consent already ended", "同意已终止",
        "Consent {consent_id} is no longer in force (it ended: {reason}).", "同意 {consent_id} 已不再有效（终止原因：{reason}）。",
    ),
    "consent_not_allowed": _e(
        403, "May not consent", "无权表示同意",
        "You may not give or withdraw this consent: {reason}.", "您无权给予或撤回此同意：{reason}。",
    ),
    "consent_text_outdated": _e(
        422, "Consent text outdated", "同意书版本已过期",
        "Consent must be given to the current text, version {current}.", "须对当前版本（{current}）的同意书表示同意。",
    ),
    "consent_partner_required": _e(
        422, "Partner required", "须指定合作单位",
        "Consent to sharing names one partner (partner_id); participation names none.",
        "同意共享须指定一个合作单位（partner_id）；参与项目的同意不指定合作单位。",
    ),
})
