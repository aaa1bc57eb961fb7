"""Research projects and their defenses: members, milestones, submissions, defense panels and scores.

Revision ID: men0009
Revises: men0008
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "men0009"
down_revision: str | None = "men0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('project',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('abstract', sa.String(length=4000), nullable=False),
    sa.Column('discipline', postgresql.ENUM(name='discipline', schema='mentoring', create_type=False), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_project_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    schema='mentoring'
    )
    op.create_index('ix_project_mentor', 'project', ['mentor_id'], unique=False, schema='mentoring')
    op.create_table('project_member',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('mentorship_id', sa.UUID(), nullable=False),
    sa.ForeignKeyConstraint(['mentorship_id'], ['mentoring.mentorship.id'], name=op.f('fk_project_member_mentorship_id_mentorship')),
    sa.ForeignKeyConstraint(['project_id'], ['mentoring.project.id'], name=op.f('fk_project_member_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_member')),
    sa.UniqueConstraint('project_id', 'student_id', name=op.f('uq_project_member_project_id_student_id')),
    schema='mentoring'
    )
    op.create_index('ix_project_member_student', 'project_member', ['student_id'], unique=False, schema='mentoring')
    op.create_table('milestone',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=4000), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('set_by', sa.String(length=100), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['mentoring.project.id'], name=op.f('fk_milestone_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone')),
    schema='mentoring'
    )
    op.create_index('ix_milestone_project', 'milestone', ['project_id', 'due_at'], unique=False, schema='mentoring')
    op.create_table('submission',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('milestone_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.UUID(), nullable=False),
    sa.Column('text', sa.String(length=8000), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('review', sa.Enum('accepted', 'needs_revision', name='submission_review', schema='mentoring'), nullable=True),
    sa.Column('review_note', sa.String(length=2000), nullable=True),
    sa.Column('reviewed_by', sa.String(length=100), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(review IS NULL) = (reviewed_at IS NULL)', name=op.f('ck_submission_review_complete')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_submission_number_positive')),
    sa.ForeignKeyConstraint(['milestone_id'], ['mentoring.milestone.id'], name=op.f('fk_submission_milestone_id_milestone'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission')),
    sa.UniqueConstraint('milestone_id', 'number', name=op.f('uq_submission_milestone_id_number')),
    schema='mentoring'
    )
    op.create_table('defense',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('rubric', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('pass_mark', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('scheduled_by', sa.String(length=100), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.Enum('passed', 'failed', name='defense_result', schema='mentoring'), nullable=True),
    sa.Column('score', sa.Numeric(precision=7, scale=4), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(result IS NULL) = (decided_at IS NULL)', name=op.f('ck_defense_decision_complete')),
    sa.CheckConstraint('pass_mark BETWEEN 0 AND 100', name=op.f('ck_defense_pass_mark_range')),
    sa.ForeignKeyConstraint(['project_id'], ['mentoring.project.id'], name=op.f('fk_defense_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defense')),
    schema='mentoring'
    )
    op.create_index('uq_defense_open', 'defense', ['project_id'], unique=True, schema='mentoring', postgresql_where=sa.text('decided_at IS NULL'))
    op.create_table('defense_judge',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('defense_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('assigned_by', sa.String(length=100), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['defense_id'], ['mentoring.defense.id'], name=op.f('fk_defense_judge_defense_id_defense'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_defense_judge_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defense_judge')),
    sa.UniqueConstraint('defense_id', 'mentor_id', name=op.f('uq_defense_judge_defense_id_mentor_id')),
    schema='mentoring'
    )
    op.create_index('ix_defense_judge_mentor', 'defense_judge', ['mentor_id'], unique=False, schema='mentoring')
    op.create_table('defense_score',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('defense_id', sa.UUID(), nullable=False),
    sa.Column('mentor_id', sa.UUID(), nullable=False),
    sa.Column('scores', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('total', sa.Numeric(precision=7, scale=4), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['defense_id'], ['mentoring.defense.id'], name=op.f('fk_defense_score_defense_id_defense'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mentor_id'], ['mentoring.mentor.person_id'], name=op.f('fk_defense_score_mentor_id_mentor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defense_score')),
    sa.UniqueConstraint('defense_id', 'mentor_id', name=op.f('uq_defense_score_defense_id_mentor_id')),
    schema='mentoring'
    )


def downgrade() -> None:
    for table in ('defense_score', 'defense_judge', 'defense', 'submission', 'milestone', 'project_member', 'project'):
        op.drop_table(table, schema='mentoring')
    for name in ('defense_result', 'submission_review'):
        sa.Enum(name=name, schema='mentoring').drop(op.get_bind(), checkfirst=True)
