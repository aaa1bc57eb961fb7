"""Registration: programme students, windows with priority groups, holds, registrations and seat offers.

Revision ID: cou0006
Revises: cou0005
Create Date: 2026-12-03 15:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "cou0006"
down_revision: str | None = "cou0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('confirmed', 'offered', 'waitlisted')"


def upgrade() -> None:
    op.create_table('programme_student',
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('discipline', sa.String(length=30), nullable=False),
    sa.Column('cohort_year', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.UUID(), nullable=False),
    sa.Column('research', sa.Boolean(), nullable=False),
    sa.Column('candidate_id', sa.UUID(), nullable=False),
    sa.Column('admitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('student_id', name=op.f('pk_programme_student')),
    schema='courses'
    )
    op.create_table('registration_window',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('term_id', sa.UUID(), nullable=False),
    sa.Column('groups', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drop_deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim_hours', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('claim_hours BETWEEN 1 AND 168', name=op.f('ck_registration_window_claim_hours_range')),
    sa.ForeignKeyConstraint(['term_id'], ['courses.term.id'], name=op.f('fk_registration_window_term_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_window')),
    sa.UniqueConstraint('term_id', name=op.f('uq_registration_window_term_id')),
    schema='courses'
    )
    op.create_table('registration_hold',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.Column('placed_by', sa.String(length=100), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=100), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_hold')),
    schema='courses'
    )
    op.create_index('ix_registration_hold_student', 'registration_hold', ['student_id', 'released_at'], unique=False, schema='courses')
    op.create_table('registration',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=False),
    sa.Column('term_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Enum('confirmed', 'waitlisted', 'offered', 'dropped', 'left', 'declined', 'expired',
                                name='registration_status', schema='courses'), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=100), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_registration_section_id_section')),
    sa.ForeignKeyConstraint(['term_id'], ['courses.term.id'], name=op.f('fk_registration_term_id_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration')),
    schema='courses'
    )
    op.create_index('uq_registration_active', 'registration', ['section_id', 'student_id'], unique=True, schema='courses',
                    postgresql_where=sa.text(ACTIVE))
    op.create_index('ix_registration_queue', 'registration', ['section_id', 'status', 'requested_at', 'id'], unique=False, schema='courses')
    op.create_index('ix_registration_student', 'registration', ['student_id', 'term_id', 'status'], unique=False, schema='courses')
    op.create_table('registration_offer',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('registration_id', sa.UUID(), nullable=False),
    sa.Column('section_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.Enum('open', 'claimed', 'declined', 'expired', 'withdrawn', name='offer_status', schema='courses'), nullable=False),
    sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claim_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['registration_id'], ['courses.registration.id'], name=op.f('fk_registration_offer_registration_id_registration')),
    sa.ForeignKeyConstraint(['section_id'], ['courses.section.id'], name=op.f('fk_registration_offer_section_id_section')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_offer')),
    schema='courses'
    )
    op.create_index('uq_registration_offer_open', 'registration_offer', ['registration_id'], unique=True, schema='courses',
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index('ix_registration_offer_student', 'registration_offer', ['student_id', 'status'], unique=False, schema='courses')


def downgrade() -> None:
    for table in ('registration_offer', 'registration', 'registration_hold', 'registration_window', 'programme_student'):
        op.drop_table(table, schema='courses')
    for name in ('offer_status', 'registration_status'):
        sa.Enum(name=name, schema='courses').drop(op.get_bind(), checkfirst=True)
