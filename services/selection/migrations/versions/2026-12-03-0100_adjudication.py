"""Staff's adjudication of a candidate whose interview panel disagreed.

Revision ID: sel0009
Revises: sel0008
Create Date: 2026-12-03 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sel0009"
down_revision: str | None = "sel0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('interview_adjudication',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('score', sa.Numeric(precision=7, scale=4), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('score BETWEEN 0 AND 100', name=op.f('ck_interview_adjudication_score_range')),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_interview_adjudication_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_interview_adjudication_candidate_id_candidate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interview_adjudication')),
    sa.UniqueConstraint('candidate_id', name=op.f('uq_interview_adjudication_candidate_id')),
    schema='selection'
    )


def downgrade() -> None:
    op.drop_table('interview_adjudication', schema='selection')
