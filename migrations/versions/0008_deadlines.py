"""Deadlines: stored per case, digests by e-mail, calendar feeds.

- cases.next_deadline, next_deadline_kind, deadlines_on: the case's next deadline, stored with
  the day it was computed (like urgency) so the list sorts by it; existing cases are computed at
  the next refresh (deadlines_on NULL marks them stale);
- case_deadlines: every deadline of every case (derived data, rewritten per case);
- digest_sends: the digest of each user and day, claimed before sending (nothing sent twice);
- notified_deadlines: the deadlines already told to each user (a far one is told once, when new);
- users.digest ("daily", "weekly", "off") and users.calendar_key (the feed's secret key).

Revision ID: 0008_deadlines
Revises: 0007_legal
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_deadlines'
down_revision = '0007_legal'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('next_deadline', sa.Date(), nullable=True))
        batch.add_column(sa.Column('next_deadline_kind', sa.String(length=24), nullable=False, server_default=''))
        batch.add_column(sa.Column('deadlines_on', sa.Date(), nullable=True))
        batch.create_index(batch.f('ix_cases_next_deadline'), ['next_deadline'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('digest', sa.String(length=8), nullable=False, server_default='daily'))
        batch.add_column(sa.Column('calendar_key', sa.String(length=64), nullable=True))

    op.create_table('case_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_deadlines_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['organisations.id'], name=op.f('fk_case_deadlines_org_id_organisations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_deadlines'))
    )
    with op.batch_alter_table('case_deadlines') as batch:
        batch.create_index(batch.f('ix_case_deadlines_case_id'), ['case_id'], unique=False)
        batch.create_index('ix_case_deadlines_org_id_date', ['org_id', 'date'], unique=False)

    op.create_table('digest_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_digest_sends_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_sends')),
    sa.UniqueConstraint('user_id', 'day', name=op.f('uq_digest_sends_user_id_day'))
    )
    op.create_table('notified_deadlines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('first_sent_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_notified_deadlines_case_id_cases'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notified_deadlines_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notified_deadlines')),
    sa.UniqueConstraint('user_id', 'case_id', 'kind', 'date', name=op.f('uq_notified_deadlines_user_id_case_id_kind_date'))
    )
    with op.batch_alter_table('notified_deadlines') as batch:
        batch.create_index(batch.f('ix_notified_deadlines_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notified_deadlines') as batch:
        batch.drop_index(batch.f('ix_notified_deadlines_case_id'))
    op.drop_table('notified_deadlines')
    op.drop_table('digest_sends')
    with op.batch_alter_table('case_deadlines') as batch:
        batch.drop_index('ix_case_deadlines_org_id_date')
        batch.drop_index(batch.f('ix_case_deadlines_case_id'))
    op.drop_table('case_deadlines')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('calendar_key')
        batch.drop_column('digest')
    with op.batch_alter_table('cases') as batch:
        batch.drop_index(batch.f('ix_cases_next_deadline'))
        batch.drop_column('deadlines_on')
        batch.drop_column('next_deadline_kind')
        batch.drop_column('next_deadline')
