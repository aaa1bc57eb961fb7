"""The experts' registry: type, disciplines, affiliation, maximum load.

Revision ID: sel0006
Revises: sel0005
Create Date: 2026-12-02 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "sel0006"
down_revision: str | None = "sel0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('expert',
    sa.Column('person_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.Enum('professor', 'researcher', 'principal', name='expert_type', schema='selection'), nullable=False),
    sa.Column('disciplines', postgresql.ARRAY(sa.String(length=30)), nullable=False),
    sa.Column('affiliation', sa.String(length=200), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=True),
    sa.Column('partner_id', sa.UUID(), nullable=True),
    sa.Column('max_load', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('max_load BETWEEN 1 AND 10000', name=op.f('ck_expert_max_load_range')),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_expert')),
    schema='selection'
    )


def downgrade() -> None:
    op.drop_table('expert', schema='selection')
