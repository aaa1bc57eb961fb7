"""Enrolment and the timeline: enrolments with their changes and the school years advanced, timeline entries, mentorships.

Revision ID: tra0004
Revises: tra0003
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "tra0004"
down_revision: str | None = "tra0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "tracking"
STAGE = ("primary", "middle", "high")
STATUS = ("active", "on_probation", "exited", "graduated")
EXIT_REASON = ("evaluation", "voluntary", "other")
CHANGE_KIND = ("admitted", "discipline_added", "re_entered", "grade_skipped", "year_advanced", "graduated", "status_changed", "exited")


def _enum(values: tuple[str, ...], name: str) -> postgresql.ENUM:
    return postgresql.ENUM(*values, name=name, schema=SCHEMA, create_type=False)


def upgrade() -> None:
    for values, name in ((STAGE, "stage"), (STATUS, "enrolment_status"), (EXIT_REASON, "exit_reason"), (CHANGE_KIND, "change_kind")):
        _enum(values, name).create(op.get_bind())
    stage, status = _enum(STAGE, "stage"), _enum(STATUS, "enrolment_status")
    op.create_table('enrolment',
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('cohort_year', sa.Integer(), nullable=False),
    sa.Column('disciplines', postgresql.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('stage', stage, nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('status', status, nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('first_admitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exit_reason', _enum(EXIT_REASON, "exit_reason"), nullable=True),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('grade BETWEEN 1 AND 12', name=op.f('ck_enrolment_grade_range')),
    sa.CheckConstraint("(status = 'exited') = (exited_at IS NOT NULL AND exit_reason IS NOT NULL)", name=op.f('ck_enrolment_exit_recorded')),
    sa.CheckConstraint('cardinality(disciplines) >= 1', name=op.f('ck_enrolment_some_discipline')),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_enrolment')),
    schema=SCHEMA
    )
    op.create_index('ix_enrolment_list', 'enrolment', ['entered_at', 'student_id'], unique=False, schema=SCHEMA)
    op.create_index('ix_enrolment_school', 'enrolment', ['school_id', 'status'], unique=False, schema=SCHEMA)
    op.create_table('enrolment_change',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('kind', _enum(CHANGE_KIND, "change_kind"), nullable=False),
    sa.Column('from_status', status, nullable=True),
    sa.Column('to_status', status, nullable=False),
    sa.Column('from_grade', sa.Integer(), nullable=True),
    sa.Column('to_grade', sa.Integer(), nullable=False),
    sa.Column('from_stage', stage, nullable=True),
    sa.Column('to_stage', stage, nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=True),
    sa.Column('school_year', sa.Integer(), nullable=True),
    sa.CheckConstraint('to_grade BETWEEN 1 AND 12 AND (from_grade IS NULL OR from_grade BETWEEN 1 AND 12)',
                       name=op.f('ck_enrolment_change_grades_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_change')),
    schema=SCHEMA
    )
    op.create_index('ix_enrolment_change_student', 'enrolment_change', ['student_id', 'at', 'id'], unique=False, schema=SCHEMA)
    op.create_index('uq_enrolment_change_event', 'enrolment_change', ['event_id'], unique=True, schema=SCHEMA)
    op.create_index('uq_enrolment_change_year', 'enrolment_change', ['student_id', 'school_year'], unique=True, schema=SCHEMA)
    op.create_table('school_year_advance',
    sa.Column('school_year', sa.Integer(), nullable=False),
    sa.Column('advanced', sa.Integer(), nullable=False),
    sa.Column('graduated', sa.Integer(), nullable=False),
    sa.Column('run_by', sa.String(length=100), nullable=False),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('school_year BETWEEN 2000 AND 2100', name=op.f('ck_school_year_advance_school_year_range')),
    sa.PrimaryKeyConstraint('school_year', name=op.f('pk_school_year_advance')),
    schema=SCHEMA
    )
    op.create_table('timeline_entry',
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('refs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'student_id', name=op.f('pk_timeline_entry')),
    schema=SCHEMA
    )
    op.create_index('ix_timeline_entry_order', 'timeline_entry', ['student_id', 'occurred_at', 'event_id'], unique=False, schema=SCHEMA)
    op.create_table('mentorship',
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('mentorship_id', name=op.f('pk_mentorship')),
    schema=SCHEMA
    )
    op.create_index('ix_mentorship_mentor', 'mentorship', ['mentor_id', 'student_id'], unique=False, schema=SCHEMA)
    op.create_index('ix_mentorship_student', 'mentorship', ['student_id'], unique=False, schema=SCHEMA)


def downgrade() -> None:
    for table in ("mentorship", "timeline_entry", "school_year_advance", "enrolment_change", "enrolment"):
        op.drop_table(table, schema=SCHEMA)
    for name in ("change_kind", "exit_reason", "enrolment_status", "stage"):
        op.execute(f"DROP TYPE {SCHEMA}.{name}")
