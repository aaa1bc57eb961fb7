"""Applications: course and exam exemptions, grade skips and their levels' decisions.

Revision ID: cou0007
Revises: cou0006
Create Date: 2026-12-03 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "cou0007"
down_revision: str | None = "cou0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS = ('pending', 'approved', 'refused', 'withdrawn')
EVIDENCE = ('prior_result', 'competition_award', 'other')
APPLICANT = ('student', 'guardian')
LEVEL = ('coordinator', 'staff', 'admin')


def upgrade() -> None:
    op.create_table('exemption',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('course_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('course', 'exam', name='exemption_kind', schema='courses'), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=True),
    sa.Column('evidence_kind', sa.Enum(*EVIDENCE, name='evidence_kind', schema='courses'), nullable=False),
    sa.Column('evidence', sa.String(length=2000), nullable=False),
    sa.Column('links', postgresql.ARRAY(sa.String(length=500)), nullable=False),
    sa.Column('status', sa.Enum(*STATUS, name='application_status', schema='courses'), nullable=False),
    sa.Column('applicant', sa.Enum(*APPLICANT, name='applicant', schema='courses'), nullable=False),
    sa.Column('applied_by', sa.String(length=100), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=2000), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'exam') = (section_id IS NOT NULL)", name=op.f('ck_exemption_exam_names_section')),
    sa.CheckConstraint("(status IN ('pending', 'withdrawn')) = (decided_at IS NULL)", name=op.f('ck_exemption_decided_with_time')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.course.id'], name=op.f('fk_exemption_course_id_course')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_exemption_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exemption')),
    schema='courses'
    )
    op.create_index('uq_exemption_pending', 'exemption', ['student_id', 'course_id'], unique=True, schema='courses',
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_exemption_student', 'exemption', ['student_id', 'course_id', 'status'], unique=False, schema='courses')
    op.create_index('ix_exemption_applied', 'exemption', ['applied_at', 'id'], unique=False, schema='courses')
    op.create_table('grade_skip',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('from_grade', sa.Integer(), nullable=False),
    sa.Column('to_grade', sa.Integer(), nullable=False),
    sa.Column('evidence_kind', sa.Enum(*EVIDENCE, name='evidence_kind', schema='courses'), nullable=False),
    sa.Column('evidence', sa.String(length=2000), nullable=False),
    sa.Column('links', postgresql.ARRAY(sa.String(length=500)), nullable=False),
    sa.Column('status', sa.Enum(*STATUS, name='application_status', schema='courses'), nullable=False),
    sa.Column('waiting_for', sa.Enum(*LEVEL, name='grade_skip_level', schema='courses'), nullable=True),
    sa.Column('applicant', sa.Enum(*APPLICANT, name='applicant', schema='courses'), nullable=False),
    sa.Column('applied_by', sa.String(length=100), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('from_grade BETWEEN 1 AND 12 AND to_grade BETWEEN 1 AND 12 AND to_grade > from_grade',
                       name=op.f('ck_grade_skip_grades_up')),
    sa.CheckConstraint("(status = 'pending') = (waiting_for IS NOT NULL)", name=op.f('ck_grade_skip_waits_while_pending')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_skip')),
    schema='courses'
    )
    op.create_index('uq_grade_skip_pending', 'grade_skip', ['student_id'], unique=True, schema='courses',
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_grade_skip_waiting', 'grade_skip', ['waiting_for', 'applied_at', 'id'], unique=False, schema='courses',
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_grade_skip_applied', 'grade_skip', ['applied_at', 'id'], unique=False, schema='courses')
    op.create_table('grade_skip_decision',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('grade_skip_id', sa.UUID(), nullable=False),
    sa.Column('level', sa.Enum(*LEVEL, name='grade_skip_level', schema='courses'), nullable=False),
    sa.Column('outcome', sa.Enum('approved', 'refused', name='decision_outcome', schema='courses'), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grade_skip_id'], ['courses.grade_skip.id'], name=op.f('fk_grade_skip_decision_grade_skip_id_grade_skip')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_skip_decision')),
    sa.UniqueConstraint('grade_skip_id', 'level', name=op.f('uq_grade_skip_decision_grade_skip_id_level')),
    schema='courses'
    )


def downgrade() -> None:
    for table in ('grade_skip_decision', 'grade_skip', 'exemption'):
        op.drop_table(table, schema='courses')
    for name in ('decision_outcome', 'grade_skip_level', 'applicant', 'application_status', 'evidence_kind', 'exemption_kind'):
        sa.Enum(name=name, schema='courses').drop(op.get_bind(), checkfirst=True)
