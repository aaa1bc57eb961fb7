"""Results: a decision per candidate (with what the ranking proposed), objections to the published list and their answers.

Revision ID: sel0005
Revises: sel0004
Create Date: 2026-12-02 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "sel0005"
down_revision: str | None = "sel0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('decision',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('outcome', sa.Enum('admitted', 'waitlisted', 'rejected', name='outcome', schema='selection'), nullable=False),
    sa.Column('proposal', sa.Enum('admitted', 'waitlisted', 'rejected', name='outcome', schema='selection'), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('composite', sa.Numeric(precision=8, scale=4), nullable=True),
    sa.Column('against_ranking', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_decision_candidate_id_candidate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision')),
    sa.UniqueConstraint('candidate_id', name=op.f('uq_decision_candidate_id')),
    schema='selection'
    )
    op.create_table('objection',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('campaign_id', sa.UUID(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('objector_id', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by', sa.String(length=100), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['selection.campaign.id'], name=op.f('fk_objection_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['candidate_id'], ['selection.candidate.id'], name=op.f('fk_objection_candidate_id_candidate'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_objection')),
    sa.UniqueConstraint('candidate_id', 'objector_id', name=op.f('uq_objection_candidate_id_objector_id')),
    schema='selection'
    )
    op.create_index('ix_objection_campaign_created', 'objection', ['campaign_id', 'created_at', 'id'], unique=False, schema='selection')


def downgrade() -> None:
    op.drop_index('ix_objection_campaign_created', table_name='objection', schema='selection')
    op.drop_table('objection', schema='selection')
    op.drop_table('decision', schema='selection')
