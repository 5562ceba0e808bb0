"""security: verification lockout by policy number and client, staff members' own API tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 17:20:00

Closes the findings of the security review that need the schema: failed verifications are
counted per policy number and per client as well as per channel identity (a new sender id per
guess no longer resets the count), and each staff member or integration has its own API token,
stored hashed and revocable, instead of one shared token naming anyone.
"""
from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401 - used by the sections below
from alembic import op  # noqa: F401

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _upgrade_verification()
    _upgrade_staff_tokens()


def downgrade() -> None:
    _downgrade_staff_tokens()
    _downgrade_verification()


# --- verification lockout (bot/policies/models.py) -------------------------------------------
# Attempts gain keyed hashes of the policy number and of the REST client (bot/policies/lockout.py);
# locks on a number or a client, with their lock-out level, get a table; so does the hash key.
def _upgrade_verification() -> None:
    with op.batch_alter_table('verification_attempts') as batch:
        batch.add_column(sa.Column('policy_key', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch.create_index(op.f('ix_verification_attempts_policy_key'), ['policy_key'],
                           unique=False)
        batch.create_index(op.f('ix_verification_attempts_client_key'), ['client_key'],
                           unique=False)
    op.create_table('verification_locks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'subject')
    )
    op.create_table('verification_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def _downgrade_verification() -> None:
    op.drop_table('verification_keys')
    op.drop_table('verification_locks')
    with op.batch_alter_table('verification_attempts') as batch:
        batch.drop_index(op.f('ix_verification_attempts_client_key'))
        batch.drop_index(op.f('ix_verification_attempts_policy_key'))
        batch.drop_column('client_key')
        batch.drop_column('policy_key')


# --- staff API tokens (bot/console/users.py) --------------------------------------------------
# Also the console's sign-in attempts gain the client (a digest of its address): delays are
# counted per account and address, so a stranger's failures no longer lock the real nurse out.
def _upgrade_staff_tokens() -> None:
    op.create_table('console_api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_console_api_tokens_username'), 'console_api_tokens', ['username'],
                    unique=False)
    with op.batch_alter_table('console_login_attempts') as batch:
        batch.add_column(sa.Column('client', sa.String(length=64), nullable=True))
        batch.create_index(op.f('ix_console_login_attempts_client'), ['client'], unique=False)


def _downgrade_staff_tokens() -> None:
    with op.batch_alter_table('console_login_attempts') as batch:
        batch.drop_index(op.f('ix_console_login_attempts_client'))
        batch.drop_column('client')
    op.drop_index(op.f('ix_console_api_tokens_username'), table_name='console_api_tokens')
    op.drop_table('console_api_tokens')
