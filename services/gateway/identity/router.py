"""The identity API: schools, users, students and their guardians, partners, the personal-data access log, imports.

Who may call what is declared on each route. Personal data (ID number, phone, address) is
masked in every answer; a caller allowed to see it (admin, staff, the person themself, a
student's guardian) asks with `reveal=` and a reason, and the read is logged once per person
whose data was read. A student's guardians' phones are theirs: staff may reveal every one, a
guardian only their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, File, Header, Query, Request, Response, UploadFile
from sqlalchemy import select
from starlette.responses import JSONResponse

from services.gateway.identity import imports
from services.gateway.identity import repository as repo
from services.gateway.identity import service
from services.gateway.identity.models import Partner, PiiAccessLog, School, SchoolLevel, UserAccount
from services.gateway.identity.schemas import (
    AccessLogOut,
    GuardianLinkIn,
    GuardianLinkOut,
    ImportMode,
    ImportReport,
    PartnerIn,
    PartnerOut,
    PersonalField,
    Role,
    SchoolIn,
    SchoolOut,
    SchoolPatch,
    StudentListItem,
    StudentOut,
    UserIn,
    UserOut,
    UserPatch,
)
from shared.auth import USER_ROLES, require
from shared.crypto import FieldCipher, cipher_for
from shared.db import DbSession
from shared.etag import PRECONDITION_PROBLEMS, IfMatch, set_etag
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, language, problem_responses
from shared.routes import UPLOAD_ENVELOPE, APIRouter, body_limit
from shared.sheets import SHEET_PROBLEMS, read_upload
from shared.tokens import Principal
from shared.workers import worker_pool

# The lifespan gives the app its import workers (app.state.workers), their fork server
# loaded with the import's own module.
router = APIRouter(
    prefix="/identity", tags=["identity"], lifespan=worker_pool(preload=["services.gateway.identity.sheets"])
)

Admin = Annotated[Principal, Depends(require("admin"))]
# Schools are not personal data: whoever works with students may list them.
SchoolReader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "expert", "mentor"))]
UserReader = Annotated[Principal, Depends(require("admin", "staff"))]
# Anyone signed in may read their own account; admin and staff anyone's.
AnyPerson = Annotated[Principal, Depends(require(*USER_ROLES))]
# Row-level: coordinators their school's students, guardians their children, students themselves.
StudentReader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "guardian", "student"))]
PartnerReader = Annotated[Principal, Depends(require("admin", "staff", "guardian", "student"))]
Importer = Annotated[Principal, Depends(require("admin", "coordinator"))]


def get_cipher(request: Request) -> FieldCipher:
    """The personal-data cipher of this app's settings."""
    return cipher_for(request.app.state.settings)


Cipher = Annotated[FieldCipher, Depends(get_cipher)]


def access_reason(
    x_access_reason: Annotated[
        str | None,
        Header(
            alias="X-Access-Reason",
            description="Why unmasked personal data is read (3-200 characters; percent-encode non-ASCII text). Required with `reveal`.",
        ),
    ] = None,
    reason: Annotated[
        str | None, Query(max_length=200, description="The same as X-Access-Reason, for callers that cannot set headers.")
    ] = None,
) -> str | None:
    """The reason given for reading unmasked personal data, from the header or the query."""
    if not x_access_reason:
        return reason
    try:
        if "%" in x_access_reason:
            return unquote(x_access_reason, errors="strict")
        # HTTP headers arrive as latin-1; a client that sent raw UTF-8 (curl does) meant this.
        return x_access_reason.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise ProblemError("access_reason_required") from None


AccessReason = Annotated[str | None, Depends(access_reason)]
REVEAL_DOC = (
    "Personal fields to show unmasked (repeat the parameter). Needs a reason (X-Access-Reason) and a "
    "role that may see them; each such read is written to the access log."
)


# ---------------------------------------------------------------- schools


@router.post(
    "/schools", status_code=201, response_model=SchoolOut,
    responses=problem_responses("school_name_taken"),
    summary="Register a school",
)
async def create_school(
    principal: Admin, body: SchoolIn, session: DbSession, idempotency: IdempotencyKey
) -> SchoolOut:
    school = await service.create_school(session=session, data=body)
    return await idempotency.save(SchoolOut.model_validate(school))


@router.get("/schools", response_model=Page[SchoolOut], summary="List schools, by name")
async def list_schools(
    principal: SchoolReader,
    session: DbSession,
    page: PageParams,
    level: SchoolLevel | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    include_disabled: bool = False,
) -> Page[SchoolOut]:
    stmt = repo.schools_query(level=level, district=district, include_disabled=include_disabled)
    return await paginate(session, stmt, order_by=(School.name, School.id), params=page, item=SchoolOut.model_validate)


@router.get("/schools/{school_id}", response_model=SchoolOut, responses=problem_responses("school_not_found"), summary="Read a school")
async def get_school(principal: SchoolReader, school_id: uuid.UUID, session: DbSession) -> SchoolOut:
    return SchoolOut.model_validate(await service.get_school(session=session, school_id=school_id))


@router.patch(
    "/schools/{school_id}", response_model=SchoolOut,
    responses=problem_responses("school_not_found", "school_name_taken", "profile_invalid"),
    summary="Change or disable a school",
)
async def update_school(principal: Admin, school_id: uuid.UUID, body: SchoolPatch, session: DbSession) -> SchoolOut:
    return SchoolOut.model_validate(await service.update_school(session=session, school_id=school_id, patch=body))


# ---------------------------------------------------------------- users

_PERSON_PROBLEMS = ("id_number_format", "id_number_checksum", "id_number_birth_date", "phone_format", "profile_invalid", "weak_password")


@router.post(
    "/users", status_code=201, response_model=UserOut,
    responses=problem_responses(
        "username_taken", "id_number_taken", "school_not_found", "partner_not_found", *_PERSON_PROBLEMS
    ),
    summary="Create a user (any roles)",
)
async def create_user(
    principal: Admin, body: UserIn, session: DbSession, cipher: Cipher, idempotency: IdempotencyKey, response: Response
) -> UserOut:
    user = await service.create_user(session=session, data=body, cipher=cipher)
    set_etag(response, user.version)
    return await idempotency.save(service.user_out(user, cipher))


@router.get("/users", response_model=Page[UserOut], summary="List users, newest first (personal data masked)")
async def list_users(
    principal: UserReader,
    session: DbSession,
    cipher: Cipher,
    page: PageParams,
    role: Role | None = None,
    school_id: uuid.UUID | None = None,
    disabled: bool | None = None,
    username: Annotated[str | None, Query(max_length=100, description="Usernames starting with this (any case).")] = None,
) -> Page[UserOut]:
    stmt = repo.users_query(role=role, school_id=school_id, disabled=disabled, username=username)
    return await paginate(
        session, stmt, order_by=(UserAccount.created_at.desc(), UserAccount.id.desc()), params=page,
        item=lambda u: service.user_out(u, cipher),
    )


_USER_FIELDS = {PersonalField.id_number, PersonalField.phone, PersonalField.address}


@router.get(
    "/users/{user_id}", response_model=UserOut,
    responses=problem_responses("user_not_found", "reveal_forbidden", "access_reason_required"),
    summary="Read a user (admin and staff: anyone; others: themselves)",
)
async def get_user(
    principal: AnyPerson,
    user_id: uuid.UUID,
    session: DbSession,
    cipher: Cipher,
    reason: AccessReason,
    response: Response,
    reveal: Annotated[list[PersonalField], Query(description=REVEAL_DOC)] = [],  # noqa: B006
) -> UserOut:
    user = await service.readable_user(session=session, principal=principal, user_id=user_id)
    fields = set(reveal) & _USER_FIELDS
    await service.authorise_reveal(session=session, principal=principal, subject=user, fields=fields, reason=reason)
    set_etag(response, user.version)
    return service.user_out(user, cipher, fields)


@router.patch(
    "/users/{user_id}", response_model=UserOut,
    responses=problem_responses(
        "user_not_found", *PRECONDITION_PROBLEMS, "id_number_taken", "school_not_found",
        "partner_not_found", *_PERSON_PROBLEMS,
    ),
    summary="Change a user: profile, roles, password, personal data, or disable (If-Match required)",
)
async def update_user(
    principal: Admin,
    user_id: uuid.UUID,
    body: UserPatch,
    session: DbSession,
    cipher: Cipher,
    response: Response,
    if_match: IfMatch = None,
) -> UserOut:
    user = await service.update_user(
        session=session, user_id=user_id, patch=body, if_match=if_match, cipher=cipher, by=principal.id
    )
    set_etag(response, user.version)
    return service.user_out(user, cipher)


# ---------------------------------------------------------------- students


@router.get(
    "/students", response_model=Page[StudentListItem],
    summary="List the students you may see, newest first (coordinators: their school; guardians: their children)",
)
async def list_students(
    principal: StudentReader,
    session: DbSession,
    cipher: Cipher,
    page: PageParams,
    school_id: uuid.UUID | None = None,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    include_disabled: bool = False,
) -> Page[StudentListItem]:
    stmt = repo.students_query(principal, school_id=school_id, grade=grade, include_disabled=include_disabled)
    return await paginate(
        session, stmt, order_by=(UserAccount.created_at.desc(), UserAccount.id.desc()), params=page,
        item=lambda u: service.student_list_item(u, cipher),
    )


@router.get(
    "/students/{student_id}", response_model=StudentOut,
    responses=problem_responses("student_not_found", "reveal_forbidden", "access_reason_required"),
    summary="Read a student, with their school and guardians",
    description=(
        "`reveal=guardian_phone` shows the guardians' phones: every guardian's to admin and staff, "
        "a guardian's own to that guardian, none to the student. Each person whose data is shown "
        "unmasked gets their own line in the access log."
    ),
)
async def get_student(
    principal: StudentReader,
    student_id: uuid.UUID,
    session: DbSession,
    cipher: Cipher,
    reason: AccessReason,
    response: Response,
    reveal: Annotated[list[PersonalField], Query(description=REVEAL_DOC)] = [],  # noqa: B006
) -> StudentOut:
    student = await service.visible_student(session=session, principal=principal, student_id=student_id)
    revealed = await service.authorise_student_reveal(
        session=session, principal=principal, student=student, fields=set(reveal), reason=reason
    )
    set_etag(response, student.version)
    return await service.student_out(session=session, student=student, cipher=cipher, revealed=revealed)


@router.put(
    "/students/{student_id}/guardians/{guardian_id}", response_model=GuardianLinkOut,
    responses={
        201: {"description": "Linked.", "model": GuardianLinkOut},
        **problem_responses("user_not_found", "not_a_student", "not_a_guardian", "profile_invalid"),
    },
    summary="Link a guardian to a student (or change the relation); idempotent",
)
async def link_guardian(
    principal: Admin, student_id: uuid.UUID, guardian_id: uuid.UUID, body: GuardianLinkIn, session: DbSession
) -> JSONResponse | GuardianLinkOut:
    link, created = await service.link_guardian(
        session=session, student_id=student_id, guardian_id=guardian_id, relation=body.relation
    )
    out = GuardianLinkOut.model_validate(link)
    if created:
        return JSONResponse(out.model_dump(mode="json"), status_code=201)
    return out


@router.delete(
    "/students/{student_id}/guardians/{guardian_id}", status_code=204,
    responses=problem_responses("guardian_link_not_found"),
    summary="Unlink a guardian from a student",
)
async def unlink_guardian(principal: Admin, student_id: uuid.UUID, guardian_id: uuid.UUID, session: DbSession) -> Response:
    await service.unlink_guardian(session=session, student_id=student_id, guardian_id=guardian_id, by=principal.id)
    return Response(status_code=204)


# ---------------------------------------------------------------- imports


@router.post(
    "/imports/students", response_model=ImportReport,
    responses=problem_responses(
        "import_rejected", *SHEET_PROBLEMS, "school_not_found",
    ),
    summary="Import students and their guardians from a school's CSV (UTF-8 or GBK) or XLSX file",
    description=imports.DESCRIPTION,
)
@body_limit(lambda settings: settings.import_max_bytes + UPLOAD_ENVELOPE)
async def import_students(
    principal: Importer,
    request: Request,
    session: DbSession,
    cipher: Cipher,
    file: Annotated[UploadFile, File(description="The CSV or XLSX file, one row per student.")],
    mode: Annotated[
        ImportMode,
        Query(description="`all_or_nothing` (default): any bad row rejects the file. `valid_rows_only`: import the good rows, report the bad."),
    ] = ImportMode.all_or_nothing,
    school_id: Annotated[
        uuid.UUID | None,
        Query(description="The school of rows without a school column (a coordinator's own school by default)."),
    ] = None,
) -> Response:
    settings = request.app.state.settings
    data = await read_upload(file, limit=settings.import_max_bytes)
    # The report comes as JSON from the worker that wrote it: validating and serialising
    # thousands of rows again here would hold the event loop.
    report = await imports.import_students(
        session=session,
        principal=principal,
        cipher=cipher,
        pool=request.app.state.workers,
        data=data,
        filename=file.filename or "",
        mode=mode,
        default_school_id=school_id,
        max_rows=settings.import_max_rows,
        lang=language(request.headers.get("accept-language")),
    )
    return Response(report, media_type="application/json")


# ---------------------------------------------------------------- partners


@router.post(
    "/partners", status_code=201, response_model=PartnerOut,
    responses=problem_responses("partner_name_taken"),
    summary="Register a partner university",
)
async def create_partner(principal: Admin, body: PartnerIn, session: DbSession, idempotency: IdempotencyKey) -> PartnerOut:
    partner = await service.create_partner(session=session, name=body.name)
    return await idempotency.save(PartnerOut.model_validate(partner))


@router.get("/partners", response_model=Page[PartnerOut], summary="List partner universities, by name")
async def list_partners(principal: PartnerReader, session: DbSession, page: PageParams) -> Page[PartnerOut]:
    return await paginate(
        session, select(Partner), order_by=(Partner.name, Partner.id), params=page, item=PartnerOut.model_validate
    )


@router.get("/partners/{partner_id}", response_model=PartnerOut, responses=problem_responses("partner_not_found"), summary="Read a partner")
async def get_partner(principal: PartnerReader, partner_id: uuid.UUID, session: DbSession) -> PartnerOut:
    return PartnerOut.model_validate(await service.get_partner(session=session, partner_id=partner_id))


@router.patch(
    "/partners/{partner_id}", response_model=PartnerOut,
    responses=problem_responses("partner_not_found", "partner_name_taken"),
    summary="Rename a partner",
)
async def update_partner(principal: Admin, partner_id: uuid.UUID, body: PartnerIn, session: DbSession) -> PartnerOut:
    return PartnerOut.model_validate(await service.rename_partner(session=session, partner_id=partner_id, name=body.name))


# ---------------------------------------------------------------- the access log


@router.get(
    "/access-log", response_model=Page[AccessLogOut],
    summary="Who read whose personal data unmasked, when and why; newest first",
)
async def list_access_log(
    principal: Admin,
    session: DbSession,
    page: PageParams,
    student_id: Annotated[uuid.UUID | None, Query(description="Whose data was read.")] = None,
    reader_id: Annotated[str | None, Query(max_length=100, description="Who read it (user id or client id).")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> Page[AccessLogOut]:
    stmt = repo.access_log_query(student_id=student_id, reader_id=reader_id, since=since, until=until)
    return await paginate(
        session, stmt, order_by=(PiiAccessLog.at.desc(), PiiAccessLog.id.desc()), params=page,
        item=lambda row: service.access_log_out(row["PiiAccessLog"], row["Consent"]),
    )
