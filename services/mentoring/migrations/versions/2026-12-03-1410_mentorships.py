"""Mentorships: pauses, requests to end or re-match, meetings, goals and their progress updates.

Revision ID: men0008
Revises: men0007
Create Date: 2026-12-03 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "men0008"
down_revision: str | None = "men0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GOAL_STATUS = ('open', 'achieved', 'dropped')


def upgrade() -> None:
    op.create_table('mentorship_request',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.Enum('end', 'rematch', name='mentorship_request_kind', schema='mentoring'), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'declined', 'lapsed', name='mentorship_request_status', schema='mentoring'), nullable=False),
    sa.Column('side', sa.Enum('student', 'guardian', 'mentor', name='mentorship_side', schema='mentoring'), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_mentorship_request_decided_unless_pending')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentoring.mentorship.id'], name=op.f('fk_mentorship_request_mentorship_id_mentorship')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship_request')),
    schema='mentoring'
    )
    op.create_index('ix_mentorship_request_mentorship', 'mentorship_request', ['mentorship_id', 'requested_at'], unique=False, schema='mentoring')
    op.create_index('uq_mentorship_request_pending', 'mentorship_request', ['mentorship_id'], unique=True, schema='mentoring',
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table('mentorship_pause',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('paused_by', sa.String(length=100), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resumed_by', sa.String(length=100), nullable=True),
    sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resume_reason', sa.String(length=2000), nullable=True),
    sa.CheckConstraint('(resumed_at IS NULL) = (resume_reason IS NULL)', name=op.f('ck_mentorship_pause_resumed_with_reason')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentoring.mentorship.id'], name=op.f('fk_mentorship_pause_mentorship_id_mentorship')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship_pause')),
    schema='mentoring'
    )
    op.create_index('uq_mentorship_pause_open', 'mentorship_pause', ['mentorship_id'], unique=True, schema='mentoring',
                    postgresql_where=sa.text('resumed_at IS NULL'))
    op.create_table('mentorship_meeting',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.String(length=4000), nullable=False),
    sa.Column('author_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minutes BETWEEN 1 AND 600', name=op.f('ck_mentorship_meeting_minutes_range')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentoring.mentorship.id'], name=op.f('fk_mentorship_meeting_mentorship_id_mentorship')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship_meeting')),
    schema='mentoring'
    )
    op.create_index('ix_mentorship_meeting_mentorship', 'mentorship_meeting', ['mentorship_id', 'held_on'], unique=False, schema='mentoring')
    op.create_table('mentorship_goal',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum(*GOAL_STATUS, name='goal_status', schema='mentoring'), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_mentorship_goal_progress_range')),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentoring.mentorship.id'], name=op.f('fk_mentorship_goal_mentorship_id_mentorship')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship_goal')),
    schema='mentoring'
    )
    op.create_index('ix_mentorship_goal_mentorship', 'mentorship_goal', ['mentorship_id', 'created_at'], unique=False, schema='mentoring')
    op.create_table('mentorship_goal_update',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('goal_id', sa.UUID(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum(*GOAL_STATUS, name='goal_status', schema='mentoring'), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.Column('made_by', sa.UUID(), nullable=False),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('percent BETWEEN 0 AND 100', name=op.f('ck_mentorship_goal_update_percent_range')),
    sa.ForeignKeyConstraint(['goal_id'], ['mentoring.mentorship_goal.id'], name=op.f('fk_mentorship_goal_update_goal_id_mentorship_goal')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentorship_goal_update')),
    schema='mentoring'
    )
    op.create_index('ix_mentorship_goal_update_goal', 'mentorship_goal_update', ['goal_id', 'made_at'], unique=False, schema='mentoring')


def downgrade() -> None:
    op.drop_table('mentorship_goal_update', schema='mentoring')
    op.drop_table('mentorship_goal', schema='mentoring')
    op.drop_table('mentorship_meeting', schema='mentoring')
    op.drop_table('mentorship_pause', schema='mentoring')
    op.drop_table('mentorship_request', schema='mentoring')
    for name in ('goal_status', 'mentorship_side', 'mentorship_request_status', 'mentorship_request_kind'):
        sa.Enum(name=name, schema='mentoring').drop(op.get_bind(), checkfirst=True)
