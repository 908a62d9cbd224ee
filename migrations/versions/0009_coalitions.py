"""Coalitions of associations and public statistics pages.

- coalitions (slug, name, stats_published_at), coalition_members (state invited/member/left);
- org_publications: an association's /stats/<slug> page when published.

Revision ID: 0009_coalitions
Revises: 0008_deadlines
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_coalitions'
down_revision = '0008_deadlines'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coalitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('stats_published_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coalitions')),
    sa.UniqueConstraint('slug', name=op.f('uq_coalitions_slug'))
    )
    op.create_table('coalition_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coalition_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('invited_at', sa.DateTime(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=True),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['coalition_id'], ['coalitions.id'], name=op.f('fk_coalition_members_coalition_id_coalitions'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_coalition_members_org_id_organisations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coalition_members')),
    sa.UniqueConstraint('coalition_id', 'org_id', name=op.f('uq_coalition_members_coalition_id_org_id'))
    )
    with op.batch_alter_table('coalition_members') as batch:
        batch.create_index(batch.f('ix_coalition_members_coalition_id'), ['coalition_id'], unique=False)
        batch.create_index(batch.f('ix_coalition_members_org_id'), ['org_id'], unique=False)
    op.create_table('org_publications',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_org_publications_org_id_organisations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_org_publications'))
    )


def downgrade():
    op.drop_table('org_publications')
    with op.batch_alter_table('coalition_members') as batch:
        batch.drop_index(batch.f('ix_coalition_members_org_id'))
        batch.drop_index(batch.f('ix_coalition_members_coalition_id'))
    op.drop_table('coalition_members')
    op.drop_table('coalitions')
