"""Search rows in the database (case_search: one tsvector per case, GIN index).

On PostgreSQL this table is the search (app/search/pg.py fills it in the same transaction as
each case change; `flask search reindex` rebuilds it). On SQLite the table exists, so that the
models and the migrations stay one schema, but stays empty: whoosh is the search there.

Two vectors: `vector` (everything, for roles that may see identities) and `public_vector`
(what every role may find), each with a GIN index, and the filter and facet values of the case
(as whoosh's documents hold them), so that counting matches reads this table only. The lexemes are analysed by the application
(the same French analysis as whoosh: folding, stems, identifiers whole and by parts, Cyrillic
transliteration, the masking split), so no text search configuration or extension is needed.

Revision ID: 0012_pg_search
Revises: 0011_jobs
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0012_pg_search'
down_revision = '0011_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_search',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('vector', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.Column('public_vector', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('prefecture', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('demarche', sa.String(length=32), nullable=False),
    sa.Column('codes', sa.Text().with_variant(postgresql.ARRAY(sa.String(length=32)), 'postgresql'), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id'),
    # PostgreSQL only (ignored by SQLite): vectors out of line, a narrow heap to count matches.
    postgresql_with={'toast_tuple_target': 256}
    )
    for name, column in (('ix_case_search_vector', 'vector'), ('ix_case_search_public_vector', 'public_vector')):
        op.create_index(name, 'case_search', [column], unique=False, postgresql_using='gin',
                        postgresql_with={'gin_pending_list_limit': 256})


def downgrade():
    op.drop_index('ix_case_search_public_vector', table_name='case_search')
    op.drop_index('ix_case_search_vector', table_name='case_search')
    op.drop_table('case_search')
