"""Matching runs: mentors' rankings of their applicants, forced and banned pairs, drafts and the published run with its entries.

Revision ID: men0006
Revises: men0005
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "men0006"
down_revision: str | None = "men0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('matching_run',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('round_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'superseded', 'published', name='run_status', schema='mentoring'), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('unmatched', sa.Integer(), nullable=False),
    sa.Column('given_up', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('computed_by', sa.String(length=100), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['mentoring.matching_round.id'], name=op.f('fk_matching_run_round_id_matching_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matching_run')),
    sa.UniqueConstraint('round_id', 'number', name=op.f('uq_matching_run_round_id_number')),
    schema='mentoring'
    )
    op.create_index('uq_run_draft', 'matching_run', ['round_id'], unique=True, schema='mentoring', postgresql_where=sa.text("status = 'draft'"))
    op.create_index('uq_run_published', 'matching_run', ['round_id'], unique=True, schema='mentoring', postgresql_where=sa.text("status = 'published'"))
    op.create_table('mentor_ranking',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('round_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('entered_by', sa.String(length=100), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('rank >= 1', name=op.f('ck_mentor_ranking_rank_positive')),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_mentor_ranking_mentor_id_mentor')),
    sa.ForeignKeyConstraint(['need_id'], ['mentoring.need.id'], name=op.f('fk_mentor_ranking_need_id_need')),
    sa.ForeignKeyConstraint(['round_id'], ['mentoring.matching_round.id'], name=op.f('fk_mentor_ranking_round_id_matching_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mentor_ranking')),
    sa.UniqueConstraint('round_id', 'mentor_id', 'need_id', name=op.f('uq_mentor_ranking_round_id_mentor_id_need_id')),
    sa.UniqueConstraint('round_id', 'mentor_id', 'rank', name=op.f('uq_mentor_ranking_round_id_mentor_id_rank')),
    schema='mentoring'
    )
    op.create_table('pair_override',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('round_id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('action', sa.Enum('force', 'ban', name='override_action', schema='mentoring'), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_pair_override_mentor_id_mentor')),
    sa.ForeignKeyConstraint(['need_id'], ['mentoring.need.id'], name=op.f('fk_pair_override_need_id_need')),
    sa.ForeignKeyConstraint(['round_id'], ['mentoring.matching_round.id'], name=op.f('fk_pair_override_round_id_matching_round'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pair_override')),
    sa.UniqueConstraint('round_id', 'need_id', 'mentor_id', name=op.f('uq_pair_override_round_id_need_id_mentor_id')),
    schema='mentoring'
    )
    op.create_index('uq_override_force', 'pair_override', ['round_id', 'need_id'], unique=True, schema='mentoring', postgresql_where=sa.text("action = 'force'"))
    op.create_table('run_entry',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('run_id', sa.UUID(), nullable=False),
    sa.Column('need_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=True),
    sa.Column('decision', sa.Enum('stable', 'forced', 'balanced', 'unmatched', name='run_decision', schema='mentoring'), nullable=False),
    sa.Column('student_rank', sa.Integer(), nullable=True),
    sa.Column('mentor_rank', sa.Integer(), nullable=True),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("(mentor_id IS NULL) = (decision = 'unmatched')", name=op.f('ck_run_entry_unmatched_has_no_mentor')),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_run_entry_mentor_id_mentor')),
    sa.ForeignKeyConstraint(['need_id'], ['mentoring.need.id'], name=op.f('fk_run_entry_need_id_need')),
    sa.ForeignKeyConstraint(['run_id'], ['mentoring.matching_run.id'], name=op.f('fk_run_entry_run_id_matching_run'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_entry')),
    sa.UniqueConstraint('run_id', 'need_id', name=op.f('uq_run_entry_run_id_need_id')),
    schema='mentoring'
    )
    op.create_index('ix_run_entry_mentor', 'run_entry', ['run_id', 'mentor_id'], unique=False, schema='mentoring')
    op.create_index('ix_run_entry_student', 'run_entry', ['student_id'], unique=False, schema='mentoring')


def downgrade() -> None:
    op.drop_table('run_entry', schema='mentoring')
    op.drop_table('pair_override', schema='mentoring')
    op.drop_table('mentor_ranking', schema='mentoring')
    op.drop_table('matching_run', schema='mentoring')
    for name in ('run_decision', 'override_action', 'run_status'):
        sa.Enum(name=name, schema='mentoring').drop(op.get_bind(), checkfirst=True)
