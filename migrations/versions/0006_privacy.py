"""Privacy: when a case's personal data was removed (retention or erasure).

Revision ID: 0006_privacy
Revises: 0005_accounts
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_privacy'
down_revision = '0005_accounts'  # linearised after parallel work
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('anonymised_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('anonymised_at')
