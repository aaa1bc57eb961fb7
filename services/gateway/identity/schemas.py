"""Request and response bodies of the identity API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from services.gateway.consent.models import ConsentEnd
from services.gateway.identity.models import SchoolLevel
from services.gateway.identity.passwords import MAX_LENGTH, MIN_LENGTH
from services.gateway.identity.validation import RELATIONS
from shared.auth import USER_ROLES
from shared.sheets import RowError
from shared.strict import RequestModel, name_type

Role = Literal[USER_ROLES]  # type: ignore[valid-type]
Relation = Literal[RELATIONS]  # type: ignore[valid-type]
# The length rule of identity/passwords.py, stated in the schema (checked there: weak_password).
PASSWORD_SCHEMA = {"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{2,99}$"


class PersonalField(StrEnum):
    """Personal data that is encrypted at rest and masked unless asked for (and logged)."""

    id_number = "id_number"
    phone = "phone"
    address = "address"
    guardian_phone = "guardian_phone"


# ---------------------------------------------------------------- schools


SchoolName = name_type(200)  # schools' and partners' names
District = name_type(100)
DisplayName = name_type(100)


class SchoolIn(RequestModel):
    name: SchoolName = Field(examples=["北京市第一实验中学"])
    district: District = Field(examples=["海淀区"])
    level: SchoolLevel


class SchoolPatch(RequestModel):
    """Only the fields sent change; none of them may be null."""

    # Typed without None: a field left out is not changed, and `null` is refused.
    name: SchoolName = None
    district: District = None
    level: SchoolLevel = None
    disabled: bool = Field(default=None, description="A disabled school takes no new students (by import or by hand).")


class SchoolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    district: str
    level: SchoolLevel
    disabled: bool
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------- users


class UserIn(RequestModel):
    username: str = Field(pattern=USERNAME_PATTERN, description="Login name, 3-100 of letters, digits, `_ . @ -`; unique ignoring case.")
    display_name: DisplayName
    roles: list[Role] = Field(min_length=1, max_length=8)
    password: SecretStr | None = Field(
        default=None, description="Initial password (10-256 characters); without one the user cannot log in yet.",
        json_schema_extra=PASSWORD_SCHEMA,
    )
    school_id: uuid.UUID | None = Field(default=None, description="Required for students and coordinators.")
    partner_id: uuid.UUID | None = Field(default=None, description="The partner university of a person with role partner (required for them, refused for others).")
    grade: int | None = Field(default=None, ge=1, le=12, description="Required for students.")
    birth_date: date | None = Field(default=None, description="Taken from the ID number when one is given.")
    id_number: str | None = Field(default=None, max_length=40, description="18-character resident ID number; stored encrypted.")
    phone: str | None = Field(default=None, max_length=30, description="Mainland mobile number; stored encrypted.")
    address: str | None = Field(default=None, min_length=1, max_length=200, description="Stored encrypted.")


class UserPatch(RequestModel):
    """Only the fields sent change; `null` clears a clearable field (display_name, roles and disabled are not)."""

    display_name: DisplayName = None
    roles: list[Role] = Field(default=None, min_length=1, max_length=8)
    password: SecretStr | None = Field(default=None, description="`null` removes the password.", json_schema_extra=PASSWORD_SCHEMA)
    disabled: bool = None
    school_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    grade: int | None = Field(default=None, ge=1, le=12)
    birth_date: date | None = None
    id_number: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, min_length=1, max_length=200)


class UserOut(BaseModel):
    """A user. `id_number`, `phone` and `address` are masked (`110***********1234`) unless listed in `revealed`."""

    id: uuid.UUID
    username: str
    display_name: str
    roles: list[str]
    disabled: bool
    has_password: bool
    school_id: uuid.UUID | None
    partner_id: uuid.UUID | None
    grade: int | None
    birth_date: date | None
    id_number: str | None
    phone: str | None
    address: str | None
    revealed: list[PersonalField] = Field(description="The personal fields shown unmasked in this answer (each such read is logged).")
    version: int = Field(description="Changes with every update; also sent as the ETag.")
    created_at: datetime
    updated_at: datetime


class GuardianOut(BaseModel):
    guardian_id: uuid.UUID
    display_name: str
    relation: str
    phone: str | None = Field(
        description="Masked unless `phone_revealed`: `reveal=guardian_phone` shows staff every guardian's, a guardian their own."
    )
    phone_revealed: bool = False


class StudentOut(UserOut):
    school_name: str | None
    guardians: list[GuardianOut]


class StudentListItem(BaseModel):
    """A student in a list: never any unmasked personal data."""

    id: uuid.UUID
    username: str
    display_name: str
    school_id: uuid.UUID | None
    grade: int | None
    birth_date: date | None
    id_number: str | None
    disabled: bool
    created_at: datetime


class GuardianLinkIn(RequestModel):

    relation: Relation = "guardian"  # type: ignore[valid-type]


class GuardianLinkOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    guardian_id: uuid.UUID
    student_id: uuid.UUID
    relation: str
    created_at: datetime


# ---------------------------------------------------------------- partners


class PartnerIn(RequestModel):

    name: SchoolName = Field(examples=["清华大学"])


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime


# ---------------------------------------------------------------- access log


class ShareConsent(BaseModel):
    """The consent a share with a partner was made under, as it stands now."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    in_force: bool
    ended_at: datetime | None
    end_reason: ConsentEnd | None = Field(description="Why it ended (see ConsentOut); null while in force.")


class AccessLogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reader_id: str
    reader_roles: list[str]
    student_id: uuid.UUID = Field(description="Whose personal data was read (a student, or a guardian).")
    fields: list[str]
    reason: str
    consent: ShareConsent | None = Field(
        description="For a profile shared with a partner: the consent it was shared under, and whether and why it has ended since."
    )
    request_id: str | None
    at: datetime


# ---------------------------------------------------------------- imports


class ImportMode(StrEnum):
    all_or_nothing = "all_or_nothing"
    valid_rows_only = "valid_rows_only"


class ImportedStudent(BaseModel):
    line: int
    student_id: uuid.UUID
    username: str
    guardian_id: uuid.UUID
    guardian_username: str
    guardian_created: bool


class ImportReport(BaseModel):
    mode: ImportMode
    rows: int = Field(description="Data rows in the file (header and blank lines not counted).")
    imported: int
    rejected: int
    students: list[ImportedStudent] = Field(description="The students created, with the login names to hand out.")
    guardians_created: int
    guardians_linked_existing: int
    errors: list[RowError]
    ignored_columns: list[str] = Field(description="Header columns this import does not read.")
