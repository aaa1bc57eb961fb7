"""Interview panels: the experts assigned to each candidate.

Revision ID: sel0007
Revises: sel0006
Create Date: 2026-12-02 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "sel0007"
down_revision: str | None = "sel0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('panel_member',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('expert_id', sa.UUID(), nullable=False),
    sa.Column('assigned_by', sa.String(length=100), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_panel_member_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_panel_member_candidate_id_candidate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['expert_id'], ['selection.expert.person_id'], name=op.f('fk_panel_member_expert_id_expert')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_member')),
    sa.UniqueConstraint('candidate_id', 'expert_id', name=op.f('uq_panel_member_candidate_id_expert_id')),
    schema='selection'
    )
    op.create_index('ix_panel_member_expert', 'panel_member', ['expert_id', 'candidate_id'], unique=False, schema='selection')


def downgrade() -> None:
    op.drop_index('ix_panel_member_expert', table_name='panel_member', schema='selection')
    op.drop_table('panel_member', schema='selection')
