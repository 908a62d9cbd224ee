"""Background imports: a job may end with a sentence (what was imported) instead of a file.

Revision ID: 0013_job_result
Revises: 0012_pg_search
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_job_result'
down_revision = '0012_pg_search'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('result', sa.Text(), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('result')
