"""The catalogue: courses, terms and their blocks, sections and their meetings, completions; the record chain.

Revision ID: cou0004
Revises: cou0003
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.chain import create_chain_table, drop_chain_table

revision: str = "cou0004"
down_revision: str | None = "cou0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_chain_table("courses")

    op.create_table('course',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('type', sa.Enum('basic', 'extended', 'research', name='course_type', schema='courses'), nullable=False),
    sa.Column('discipline', sa.Enum('math', 'physics', 'chemistry', 'biology', 'computer_science', name='discipline', schema='courses'), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('min_grade', sa.Integer(), nullable=False),
    sa.Column('max_grade', sa.Integer(), nullable=False),
    sa.Column('prerequisites', postgresql.ARRAY(sa.UUID()), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=4000), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hours BETWEEN 1 AND 1000', name=op.f('ck_course_hours_range')),
    sa.CheckConstraint('level BETWEEN 1 AND 10', name=op.f('ck_course_level_range')),
    sa.CheckConstraint('min_grade BETWEEN 1 AND 12 AND max_grade BETWEEN min_grade AND 12', name=op.f('ck_course_grades_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course')),
    sa.UniqueConstraint('code', name=op.f('uq_course_code')),
    schema='courses'
    )
    op.create_table('term',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('load_limit', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_term_term_order')),
    sa.CheckConstraint('load_limit BETWEEN 1 AND 20', name=op.f('ck_term_load_limit_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_term')),
    sa.UniqueConstraint('title', name=op.f('uq_term_title')),
    schema='courses'
    )
    op.create_table('section',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('course_id', sa.UUID(), nullable=False),
    sa.Column('term_id', sa.UUID(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('host_kind', sa.Enum('base', 'school', 'partner', name='host_kind', schema='courses'), nullable=False),
    sa.Column('host_id', sa.UUID(), nullable=True),
    sa.Column('teacher_id', sa.UUID(), nullable=True),
    sa.Column('teacher_name', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('taken', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(host_kind = 'base') = (host_id IS NULL)", name=op.f('ck_section_host_named')),
    sa.CheckConstraint('capacity BETWEEN 0 AND 10000', name=op.f('ck_section_capacity_range')),
    sa.CheckConstraint('taken >= 0 AND taken <= capacity', name=op.f('ck_section_never_oversold')),
    sa.ForeignKeyConstraint(['course_id'], ['courses.course.id'], name=op.f('fk_section_course_id_course')),
    sa.ForeignKeyConstraint(['term_id'], ['courses.term.id'], name=op.f('fk_section_term_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section')),
    sa.UniqueConstraint('course_id', 'term_id', 'code', name=op.f('uq_section_course_id_term_id_code')),
    schema='courses'
    )
    op.create_index(op.f('ix_courses_section_course_id'), 'section', ['course_id'], unique=False, schema='courses')
    op.create_index(op.f('ix_courses_section_term_id'), 'section', ['term_id'], unique=False, schema='courses')
    op.create_table('term_block',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('term_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('weekends', 'winter', 'summer', name='block_kind', schema='courses'), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_term_block_block_order')),
    sa.ForeignKeyConstraint(['term_id'], ['courses.term.id'], name=op.f('fk_term_block_term_id_term'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_term_block')),
    schema='courses'
    )
    op.create_index(op.f('ix_courses_term_block_term_id'), 'term_block', ['term_id'], unique=False, schema='courses')
    op.create_table('completion',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('course_id', sa.UUID(), nullable=False),
    sa.Column('basis', sa.Enum('result', 'exemption', name='completion_basis', schema='courses'), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=True),
    sa.Column('grade', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.course.id'], name=op.f('fk_completion_course_id_course')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_completion_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completion')),
    sa.UniqueConstraint('student_id', 'course_id', name=op.f('uq_completion_student_id_course_id')),
    schema='courses'
    )
    op.create_table('section_meeting',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_section_meeting_meeting_order')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_section_meeting_section_id_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_section_meeting')),
    schema='courses'
    )
    op.create_index('ix_section_meeting_time', 'section_meeting', ['section_id', 'starts_at'], unique=False, schema='courses')


def downgrade() -> None:
    for table in ('section_meeting', 'completion', 'term_block', 'section', 'term', 'course'):
        op.drop_table(table, schema='courses')
    for name in ('completion_basis', 'host_kind', 'block_kind', 'course_type', 'discipline'):
        sa.Enum(name=name, schema='courses').drop(op.get_bind(), checkfirst=True)
    drop_chain_table("courses")
