"""Campaigns and their stages, candidates and their nominations, the IQ and written tests' results;
the record chain (shared/chain.py) and experts' conflicts of interest (shared/conflicts.py).

Revision ID: sel0004
Revises: sel0003
Create Date: 2026-12-02 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.chain import create_chain_table, drop_chain_table
from shared.conflicts import create_conflicts_table, drop_conflicts_table

revision: str = "sel0004"
down_revision: str | None = "sel0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_chain_table("selection")
    create_conflicts_table("selection")
    op.create_table('campaign',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('year', sa.SmallInteger(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('school_limit', sa.Integer(), nullable=False),
    sa.Column('objection_days', sa.SmallInteger(), nullable=False),
    sa.Column('panel_size', sa.SmallInteger(), server_default=sa.text('3'), nullable=False),
    sa.Column('iq_min', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('iq_max', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('written_min', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('written_max', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('stage', sa.Enum('draft', 'nomination', 'iq_test', 'written_test', 'interview', 'decision', 'publication', 'final', name='stage', schema='selection'), server_default='draft', nullable=False),
    sa.Column('stage_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('stage_closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadlines', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('objections_close_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('iq_min < iq_max AND written_min < written_max', name=op.f('ck_campaign_scales_ordered')),
    sa.CheckConstraint('objection_days BETWEEN 1 AND 60', name=op.f('ck_campaign_objection_days_range')),
    sa.CheckConstraint('school_limit > 0', name=op.f('ck_campaign_school_limit_positive')),
    sa.CheckConstraint('year BETWEEN 2000 AND 2100', name=op.f('ck_campaign_year_plausible')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('year', name=op.f('uq_campaign_year')),
    schema='selection'
    )
    op.create_table('campaign_discipline',
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('discipline', sa.Enum('math', 'physics', 'chemistry', 'biology', 'computer_science', name='discipline', schema='selection'), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('min_grade', sa.SmallInteger(), nullable=False),
    sa.Column('max_grade', sa.SmallInteger(), nullable=False),
    sa.Column('weights', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint('min_grade BETWEEN 1 AND 12 AND max_grade BETWEEN min_grade AND 12', name=op.f('ck_campaign_discipline_grades_range')),
    sa.CheckConstraint('quota > 0', name=op.f('ck_campaign_discipline_quota_positive')),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_campaign_discipline_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'discipline', name=op.f('pk_campaign_discipline')),
    schema='selection'
    )
    op.create_table('candidate',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('discipline', sa.Enum('math', 'physics', 'chemistry', 'biology', 'computer_science', name='discipline', schema='selection'), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('grade', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.Enum('active', 'withdrawn', name='candidate_status', schema='selection'), server_default='active', nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=100), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('grade BETWEEN 1 AND 12', name=op.f('ck_candidate_grade_range')),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_candidate_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate')),
    sa.UniqueConstraint('campaign_id', 'student_id', 'discipline', name=op.f('uq_candidate_campaign_id_student_id_discipline')),
    schema='selection'
    )
    op.create_index('ix_candidate_campaign_discipline', 'candidate', ['campaign_id', 'discipline', 'id'], unique=False, schema='selection')
    op.create_index('ix_candidate_student', 'candidate', ['student_id'], unique=False, schema='selection')
    op.create_table('stage_transition',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_stage', sa.Enum('draft', 'nomination', 'iq_test', 'written_test', 'interview', 'decision', 'publication', 'final', name='stage', schema='selection'), nullable=False),
    sa.Column('to_stage', sa.Enum('draft', 'nomination', 'iq_test', 'written_test', 'interview', 'decision', 'publication', 'final', name='stage', schema='selection'), nullable=False),
    sa.Column('incomplete', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('by', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_stage_transition_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transition')),
    schema='selection'
    )
    op.create_index('ix_stage_transition_campaign_at', 'stage_transition', ['campaign_id', 'at', 'id'], unique=False, schema='selection')
    op.create_table('assessment_score',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('stage', sa.Enum('draft', 'nomination', 'iq_test', 'written_test', 'interview', 'decision', 'publication', 'final', name='stage', schema='selection'), nullable=False),
    sa.Column('state', sa.Enum('scored', 'absent', 'exempt', name='score_state', schema='selection'), nullable=False),
    sa.Column('score', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('remark', sa.String(length=200), nullable=True),
    sa.Column('entered_by', sa.String(length=100), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(state = 'scored') = (score IS NOT NULL)", name=op.f('ck_assessment_score_score_iff_scored')),
    sa.CheckConstraint("stage IN ('iq_test', 'written_test')", name=op.f('ck_assessment_score_test_stage')),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_assessment_score_candidate_id_candidate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_score')),
    sa.UniqueConstraint('candidate_id', 'stage', name=op.f('uq_assessment_score_candidate_id_stage')),
    schema='selection'
    )
    op.create_table('nomination',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('source', sa.Enum('school', 'self', name='nomination_source', schema='selection'), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('achievements', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('nominated_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_nomination_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_nomination_candidate_id_candidate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nomination')),
    sa.UniqueConstraint('candidate_id', 'source', name=op.f('uq_nomination_candidate_id_source')),
    schema='selection'
    )
    op.create_index('ix_nomination_campaign_school', 'nomination', ['campaign_id', 'school_id', 'source'], unique=False, schema='selection')


def downgrade() -> None:
    op.drop_index('ix_nomination_campaign_school', table_name='nomination', schema='selection')
    op.drop_table('nomination', schema='selection')
    op.drop_table('assessment_score', schema='selection')
    op.drop_index('ix_stage_transition_campaign_at', table_name='stage_transition', schema='selection')
    op.drop_table('stage_transition', schema='selection')
    op.drop_index('ix_candidate_student', table_name='candidate', schema='selection')
    op.drop_index('ix_candidate_campaign_discipline', table_name='candidate', schema='selection')
    op.drop_table('candidate', schema='selection')
    op.drop_table('campaign_discipline', schema='selection')
    op.drop_table('campaign', schema='selection')
    drop_conflicts_table("selection")
    drop_chain_table("selection")
