"""Results: attendance per meeting and final results per student of a section.

Revision ID: cou0008
Revises: cou0007
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cou0008"
down_revision: str | None = "cou0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attendance',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('meeting_id', sa.UUID(), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Enum('present', 'late', 'absent', 'excused', name='attendance_status', schema='courses'), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['courses.section_meeting.id'], name=op.f('fk_attendance_meeting_id_section_meeting')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_attendance_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance')),
    sa.UniqueConstraint('meeting_id', 'student_id', name=op.f('uq_attendance_meeting_id_student_id')),
    schema='courses'
    )
    op.create_index('ix_attendance_section', 'attendance', ['section_id', 'student_id'], unique=False, schema='courses')
    op.create_index('ix_attendance_student', 'attendance', ['student_id', 'recorded_at', 'id'], unique=False, schema='courses')
    op.create_table('result',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=False),
    sa.Column('course_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('outcome', sa.Enum('pass', 'fail', name='result_outcome', schema='courses'), nullable=False),
    sa.Column('grade', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('exam_waived', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('corrections', sa.Integer(), nullable=False),
    sa.Column('correction_reason', sa.String(length=2000), nullable=True),
    sa.CheckConstraint('grade IS NULL OR grade BETWEEN 0 AND 100', name=op.f('ck_result_grade_range')),
    sa.CheckConstraint("grade IS NULL OR (grade >= 60) = (outcome = 'pass')", name=op.f('ck_result_grade_decides_outcome')),
    sa.CheckConstraint('(corrections = 0) = (correction_reason IS NULL)', name=op.f('ck_result_corrected_with_reason')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.course.id'], name=op.f('fk_result_course_id_course')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_result_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result')),
    sa.UniqueConstraint('section_id', 'student_id', name=op.f('uq_result_section_id_student_id')),
    schema='courses'
    )
    op.create_index('ix_result_student', 'result', ['student_id', 'recorded_at', 'id'], unique=False, schema='courses')


def downgrade() -> None:
    for table in ('result', 'attendance'):
        op.drop_table(table, schema='courses')
    for name in ('result_outcome', 'attendance_status'):
        sa.Enum(name=name, schema='courses').drop(op.get_bind(), checkfirst=True)
