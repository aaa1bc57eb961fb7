"""Matching rounds and the students' preferences; the admission's rank on each need.

Revision ID: men0005
Revises: men0004
Create Date: 2026-12-03 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "men0005"
down_revision: str | None = "men0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('matching_round',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('kind', postgresql.ENUM(name='need_kind', schema='mentoring', create_type=False), nullable=False),
    sa.Column('cohort_year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('default_order', sa.Enum('selection_rank', 'grade', 'admitted', name='default_order', schema='mentoring'), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_matching_round_window_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matching_round')),
    schema='mentoring'
    )
    op.create_table('preference',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('round_id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('entered_by', sa.String(length=100), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rank BETWEEN 1 AND 10', name=op.f('ck_preference_rank_range')),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_preference_mentor_id_mentor')),
    sa.ForeignKeyConstraint(['need_id'], ['mentoring.need.id'], name=op.f('fk_preference_need_id_need')),
    sa.ForeignKeyConstraint(['round_id'], ['mentoring.matching_round.id'], name=op.f('fk_preference_round_id_matching_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preference')),
    sa.UniqueConstraint('round_id', 'need_id', 'mentor_id', name=op.f('uq_preference_round_id_need_id_mentor_id')),
    sa.UniqueConstraint('round_id', 'need_id', 'rank', name=op.f('uq_preference_round_id_need_id_rank')),
    schema='mentoring'
    )
    op.create_index('ix_preference_mentor', 'preference', ['round_id', 'mentor_id'], unique=False, schema='mentoring')
    op.add_column('need', sa.Column('selection_rank', sa.Integer(), nullable=True), schema='mentoring')


def downgrade() -> None:
    op.drop_column('need', 'selection_rank', schema='mentoring')
    op.drop_table('preference', schema='mentoring')
    op.drop_table('matching_round', schema='mentoring')
    sa.Enum(name='default_order', schema='mentoring').drop(op.get_bind(), checkfirst=True)
