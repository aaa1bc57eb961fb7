"""Lectures by scientists and engineers, and the students' registrations for them.

Revision ID: men0007
Revises: men0006
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "men0007"
down_revision: str | None = "men0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lecture',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('abstract', sa.String(length=4000), nullable=False),
    sa.Column('speaker_name', sa.String(length=200), nullable=False),
    sa.Column('speaker_id', sa.UUID(), nullable=True),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.Column('disciplines', postgresql.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', name='lecture_status', schema='mentoring'), nullable=False),
    sa.Column('cancel_reason', sa.String(length=2000), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('capacity BETWEEN 1 AND 2000', name=op.f('ck_lecture_capacity_range')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_lecture_ends_after_start')),
    sa.ForeignKeyConstraint(['speaker_id'], ['mentoring.mentor.person_id'], name=op.f('fk_lecture_speaker_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lecture')),
    schema='mentoring'
    )
    op.create_index('ix_lecture_starts', 'lecture', ['starts_at', 'id'], unique=False, schema='mentoring')
    op.create_table('lecture_registration',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('lecture_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Enum('registered', 'cancelled', 'attended', 'absent', name='lecture_registration_status', schema='mentoring'),
              nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_by', sa.String(length=100), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('marked_by', sa.String(length=100), nullable=True),
    sa.Column('marked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lecture_id'], ['mentoring.lecture.id'], name=op.f('fk_lecture_registration_lecture_id_lecture')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lecture_registration')),
    schema='mentoring'
    )
    op.create_index('ix_lecture_registration_lecture', 'lecture_registration', ['lecture_id', 'status'], unique=False, schema='mentoring')
    op.create_index('ix_lecture_registration_student', 'lecture_registration', ['student_id', 'status'], unique=False, schema='mentoring')
    op.create_index('uq_lecture_registration_holding', 'lecture_registration', ['lecture_id', 'student_id'], unique=True, schema='mentoring',
                    postgresql_where=sa.text("status <> 'cancelled'"))


def downgrade() -> None:
    op.drop_table('lecture_registration', schema='mentoring')
    op.drop_table('lecture', schema='mentoring')
    for name in ('lecture_registration_status', 'lecture_status'):
        sa.Enum(name=name, schema='mentoring').drop(op.get_bind(), checkfirst=True)
