"""Accounts: recovery codes for two-factor authentication.

Revision ID: 0005_accounts
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_accounts'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('recovery_codes', sa.Text(), nullable=False, server_default='[]'))


def downgrade():
    with op.batch_alter_table('users') as batch:
        batch.drop_column('recovery_codes')
