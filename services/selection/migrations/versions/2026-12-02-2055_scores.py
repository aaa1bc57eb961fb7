"""Interview rubrics per campaign and discipline, and the experts' scores on them.

Revision ID: sel0008
Revises: sel0007
Create Date: 2026-12-02 20:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sel0008"
down_revision: str | None = "sel0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('campaign_rubric',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('discipline', sa.String(length=30), nullable=False),
    sa.Column('rubric', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_campaign_rubric_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_rubric')),
    sa.UniqueConstraint('campaign_id', 'discipline', name=op.f('uq_campaign_rubric_campaign_id_discipline')),
    schema='selection'
    )
    op.create_table('interview_score',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('expert_id', sa.UUID(), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('total', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_interview_score_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_interview_score_candidate_id_candidate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['expert_id'], ['selection.expert.person_id'], name=op.f('fk_interview_score_expert_id_expert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interview_score')),
    sa.UniqueConstraint('candidate_id', 'expert_id', name=op.f('uq_interview_score_candidate_id_expert_id')),
    schema='selection'
    )


def downgrade() -> None:
    op.drop_table('interview_score', schema='selection')
    op.drop_table('campaign_rubric', schema='selection')
