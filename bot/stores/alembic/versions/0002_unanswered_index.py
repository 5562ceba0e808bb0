"""index a customer's unanswered messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:40:00

The worker's "oldest unanswered message of this customer" query used the sender index alone and
read every earlier message of the customer: answers slowed as a conversation grew. The new index
(sender, status, channel) replaces the sender index and serves lookups by customer as well.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inbound_messages_unanswered', 'inbound_messages',
                    ['sender', 'status', 'channel'], unique=False)
    op.drop_index('ix_inbound_messages_sender', table_name='inbound_messages')


def downgrade() -> None:
    op.create_index('ix_inbound_messages_sender', 'inbound_messages', ['sender'], unique=False)
    op.drop_index('ix_inbound_messages_unanswered', table_name='inbound_messages')
