"""Request and response bodies of the consent API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.gateway.consent.models import ConsentEnd, ConsentPurpose
from shared.strict import RequestModel


class ConsentIn(RequestModel):
    student_id: uuid.UUID
    purpose: ConsentPurpose
    partner_id: uuid.UUID | None = Field(default=None, description="The partner university; for `partner_sharing` only.")
    text_version: str = Field(min_length=1, max_length=50, description="The version of the consent text shown (see GET /consents/texts).")


class ConsentOut(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    guardian_id: uuid.UUID | None = Field(description="The guardian who consented; null when the student (14 or older) did.")
    purpose: ConsentPurpose
    partner_id: uuid.UUID | None
    text_version: str
    given_at: datetime
    in_force: bool = Field(description="Open: not withdrawn, superseded or ended with its guardian.")
    ended_at: datetime | None = Field(description="When it stopped being in force; null while in force.")
    end_reason: ConsentEnd | None = Field(
        description=(
            "Why it ended: `withdrawn` (by `ended_by`), `superseded` (consent to a newer text), "
            "`guardian_unlinked`, `guardian_disabled`, `guardian_role_removed` (its guardian is no longer "
            "the child's guardian: it ended then, and does not come back if they return)."
        )
    )
    ended_by: str | None = Field(description="Who ended it: who withdrew, gave the newer consent, or unlinked or disabled the guardian.")


class ConsentTexts(BaseModel):
    """The consent text versions currently shown; a consent must be given to these."""

    participation: str
    partner_sharing: str
    consent_age: int = Field(description="Below this age a guardian must consent.")


class ConsentCheck(BaseModel):
    student_id: uuid.UUID
    purpose: ConsentPurpose
    partner_id: uuid.UUID | None
    required: bool = Field(description="Whether this purpose needs a consent for this student (under 14, or any sharing).")
    holds: bool = Field(description="Whether a valid consent is in force.")
    allowed: bool = Field(description="May the student's data be processed for the purpose: `holds or not required`.")
    age: int | None
    consent_id: uuid.UUID | None
    text_version: str | None
    given_at: datetime | None
    checked_at: datetime


class SharedStudent(BaseModel):
    """What a partner university sees of a student who consented to share their data with it.

    Never an ID number, phone or address: the shareable profile is the student's name, school
    and grade, with the consent it is shared under.
    """

    id: uuid.UUID
    display_name: str
    school_id: uuid.UUID | None
    school_name: str | None
    grade: int | None
    consent_id: uuid.UUID = Field(description="The consent this profile is shared under.")
    consent_text_version: str
    consent_given_at: datetime
