"""Mentors, who needs a mentor, mentorships; the record chain and the conflicts of interest.

Revision ID: men0004
Revises: men0003
Create Date: 2026-12-03 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.chain import create_chain_table, drop_chain_table
from shared.conflicts import create_conflicts_table, drop_conflicts_table

revision: str = "men0004"
down_revision: str | None = "men0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_chain_table("mentoring")
    create_conflicts_table("mentoring")
    op.create_table('mentor',
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('lab', 'life', 'both', name='mentor_kind', schema='mentoring'), nullable=False),
    sa.Column('type', sa.Enum('professor', 'researcher', 'teacher', 'engineer', name='mentor_type', schema='mentoring'), nullable=False),
    sa.Column('affiliation', sa.String(length=200), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=True),
    sa.Column('partner_id', sa.UUID(), nullable=True),
    sa.Column('disciplines', postgresql.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('topics', postgresql.ARRAY(sa.String(length=200)), nullable=False),
    sa.Column('lab_capacity', sa.Integer(), nullable=False),
    sa.Column('life_capacity', sa.Integer(), nullable=False),
    sa.Column('availability', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('lab_capacity BETWEEN 0 AND 100', name=op.f('ck_mentor_lab_capacity_range')),
    sa.CheckConstraint('life_capacity BETWEEN 0 AND 100', name=op.f('ck_mentor_life_capacity_range')),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_mentor')),
    schema='mentoring'
    )
    op.create_table('need',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('lab', 'life', name='need_kind', schema='mentoring'), nullable=False),
    sa.Column('discipline', sa.Enum('math', 'physics', 'chemistry', 'biology', 'computer_science', name='discipline', schema='mentoring'), nullable=True),
    sa.Column('cohort_year', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('grade', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_reason', sa.String(length=40), nullable=True),
    sa.CheckConstraint("(kind = 'lab') = (discipline IS NOT NULL)", name=op.f('ck_need_lab_has_discipline')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_need')),
    sa.UniqueConstraint('candidate_id', 'kind', name=op.f('uq_need_candidate_id_kind')),
    schema='mentoring'
    )
    op.create_index('ix_need_pool', 'need', ['kind', 'discipline', 'closed_at'], unique=False, schema='mentoring')
    op.create_index('uq_need_open_lab', 'need', ['student_id', 'discipline'], unique=True, schema='mentoring', postgresql_where=sa.text("kind = 'lab' AND closed_at IS NULL"))
    op.create_index('uq_need_open_life', 'need', ['student_id'], unique=True, schema='mentoring', postgresql_where=sa.text("kind = 'life' AND closed_at IS NULL"))
    op.create_table('mentorship',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('lab', 'life', name='need_kind', schema='mentoring'), nullable=False),
    sa.Column('discipline', sa.Enum('math', 'physics', 'chemistry', 'biology', 'computer_science', name='discipline', schema='mentoring'), nullable=True),
    sa.Column('status', sa.Enum('active', 'paused', 'ended', name='mentorship_status', schema='mentoring'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_mentorship_mentor_id_mentor')),
    sa.ForeignKeyConstraint(['need_id'], ['mentoring.need.id'], name=op.f('fk_mentorship_need_id_need')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship')),
    schema='mentoring'
    )
    op.create_index('ix_mentorship_mentor', 'mentorship', ['mentor_id', 'kind', 'status'], unique=False, schema='mentoring')
    op.create_index('ix_mentorship_student', 'mentorship', ['student_id', 'status'], unique=False, schema='mentoring')
    op.create_index('uq_mentorship_open', 'mentorship', ['need_id'], unique=True, schema='mentoring', postgresql_where=sa.text("status <> 'ended'"))


def downgrade() -> None:
    op.drop_table('mentorship', schema='mentoring')
    op.drop_table('need', schema='mentoring')
    op.drop_table('mentor', schema='mentoring')
    for name in ('mentorship_status', 'need_kind', 'discipline', 'mentor_type', 'mentor_kind'):
        sa.Enum(name=name, schema='mentoring').drop(op.get_bind(), checkfirst=True)
    drop_conflicts_table("mentoring")
    drop_chain_table("mentoring")
